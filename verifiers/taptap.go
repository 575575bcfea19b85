package verifiers

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Defaults and bounds of TapTapConfig.
const (
	// tapMaxTokenLength bounds a LeanCloud session token. Real ones are
	// 25 lower-case alphanumerics; longer inputs are rejected before any call.
	tapMaxTokenLength = 256

	tapDefaultTimeout      = 3 * time.Second
	tapDefaultCacheTTL     = 60 * time.Second
	tapDefaultNegativeTTL  = 5 * time.Second
	tapDefaultCacheSize    = 10000
	tapDefaultMaxInFlight  = 32
	tapDefaultMaxBodyBytes = 64 << 10

	tapMaxCacheSize    = 1 << 24
	tapMaxInFlightCap  = 4096
	tapMaxBodyBytesCap = 16 << 20
	tapMaxHeaderValue  = 1024

	// tapMaxTimeout bounds Timeout: a call holds a MaxInFlight slot and
	// the requests waiting on it that long.
	tapMaxTimeout = 30 * time.Second
	// tapMaxCacheTTL bounds CacheTTL: a session revoked at LeanCloud keeps
	// verifying for up to CacheTTL.
	tapMaxCacheTTL = 10 * time.Minute

	tapMaxSubject    = 128  // bytes of objectId
	tapMaxClaimValue = 1024 // bytes of any other claim; longer values are omitted

	tapDefaultRetry = time.Second
	tapMaxRetry     = 5 * time.Minute

	tapUsersMePath = "/1.1/users/me"
	// tapCodeSessionNotFound is LeanCloud's error code 211, "Could not find user."
	tapCodeSessionNotFound = 211
)

// TapTapConfig configures a TapTap (TDS) / LeanCloud session-token verifier.
type TapTapConfig struct {
	// Server is the app's API base URL, e.g.
	// https://abcd1234.cloud.tds1.tapapis.cn: scheme and host (and port) only.
	// It must be https unless the host is a loopback address or "localhost".
	Server string
	// ClientID is the TDS Client ID / LeanCloud App ID, sent as X-LC-Id. Required.
	ClientID string
	// ClientToken is the TDS Client Token / LeanCloud App Key, sent as
	// X-LC-Key. Exactly one of ClientToken and ServerSecret must be set.
	ClientToken string
	// ServerSecret is the TDS Server Secret / LeanCloud Master Key, sent as
	// X-LC-Key "<secret>,master" (without the ",master" suffix here).
	ServerSecret string
	// HTTPClient makes the calls. The verifier uses a copy of it that never
	// follows redirects and keeps no cookies. Default: a dedicated client
	// with bounded connections and timeouts.
	HTTPClient *http.Client
	// Timeout bounds each call to LeanCloud, body included. Default 3s,
	// at most 30s.
	Timeout time.Duration
	// CacheTTL is how long a valid session is remembered. Default 60s,
	// at most 10 minutes.
	// A revoked session keeps verifying for at most this long.
	CacheTTL time.Duration
	// NegativeTTL is how long an unknown session (code 211) is remembered.
	// 0 < NegativeTTL <= CacheTTL. Default 5s (or CacheTTL if smaller).
	NegativeTTL time.Duration
	// CacheSize is the maximum number of cached answers; a quarter of them
	// (rounded down) is reserved for negative answers, so floods of random
	// tokens cannot evict known users. Default 10000.
	CacheSize int
	// MaxInFlight bounds concurrent calls to LeanCloud. A cache miss over the
	// limit fails at once with ErrUnavailable rather than queueing. Default 32.
	MaxInFlight int
	// MaxBodyBytes bounds a LeanCloud response body. Default 64 KiB.
	MaxBodyBytes int64
	// Clock returns the current time, for cache expiry. Default time.Now.
	Clock Clock
}

// TapTapStats are counters of a TapTap verifier since construction.
type TapTapStats struct {
	// Hits counts Verify calls answered from the cache (positive or negative).
	// Misses counts well-formed tokens not found in the cache (including
	// those that joined a call already in flight). Calls counts requests
	// actually sent to LeanCloud. Evictions counts live entries pushed out
	// because the cache was full.
	Hits, Misses, Calls, Evictions uint64
	// Entries is the number of entries currently held by the cache.
	Entries int
}

// TapTap verifies TapTap (TDS) / LeanCloud session tokens by asking
// LeanCloud who they belong to (GET /1.1/users/me), with a bounded cache and
// one call per token at a time.
//
// The returned Identity has Provider "taptap", Subject = the user's objectId,
// and the claims username, nickname, avatar, short_id, openid and unionid
// (the last two from authData.taptap) when present and printable; secrets in
// the user object (access_token, mac_key, sessionToken) are never exposed.
// Identity.Expires is always zero: LeanCloud does not say when a session
// ends, and a cached answer may be up to CacheTTL old.
//
// A TapTap is safe for concurrent use. It has no background goroutine: each
// upstream call runs in a goroutine of its own (at most MaxInFlight), which
// Close cancels and waits for. Close it when done.
type TapTap struct {
	endpoint string
	clientID string
	key      string // X-LC-Key value
	client   *http.Client
	ownTr    *http.Transport // non-nil when we built the transport ourselves
	timeout  time.Duration
	posTTL   time.Duration
	negTTL   time.Duration
	maxBody  int64
	now      Clock

	cache *tapCache
	sem   chan struct{}

	base     context.Context // cancelled by Close; parent of every upstream call
	stop     context.CancelFunc
	closed   atomic.Bool
	fmu      sync.Mutex // guards flights and the closed transition
	flights  map[tapKey]*tapFlight
	wg       sync.WaitGroup
	stopOnce sync.Once

	hits, misses, calls atomic.Uint64
}

// tapFlight is one upstream call that any number of Verify calls wait on.
type tapFlight struct {
	done    chan struct{}
	id      Identity // set before done is closed
	err     error
	waiters int // guarded by TapTap.fmu
	cancel  context.CancelFunc
}

// NewTapTap checks cfg and returns a verifier. It makes no network call.
func NewTapTap(cfg TapTapConfig) (*TapTap, error) {
	endpoint, err := tapEndpoint(cfg.Server)
	if err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		return nil, errors.New("taptap: ClientID is required")
	}
	if !tapHeaderSafe(cfg.ClientID) {
		return nil, errors.New("taptap: ClientID must be printable ASCII without spaces, at most 1024 bytes")
	}
	var key string
	switch {
	case cfg.ClientToken != "" && cfg.ServerSecret != "":
		return nil, errors.New("taptap: set only one of ClientToken and ServerSecret")
	case cfg.ClientToken != "":
		if !tapHeaderSafe(cfg.ClientToken) {
			return nil, errors.New("taptap: ClientToken must be printable ASCII without spaces, at most 1024 bytes")
		}
		key = cfg.ClientToken
	case cfg.ServerSecret != "":
		if !tapHeaderSafe(cfg.ServerSecret) {
			return nil, errors.New("taptap: ServerSecret must be printable ASCII without spaces, at most 1024 bytes")
		}
		if strings.Contains(cfg.ServerSecret, ",") {
			return nil, errors.New(`taptap: ServerSecret must not contain ",": give the secret alone, the ",master" suffix is added`)
		}
		key = cfg.ServerSecret + ",master"
	default:
		return nil, errors.New("taptap: one of ClientToken and ServerSecret is required")
	}

	timeout, err := tapDuration("Timeout", cfg.Timeout, tapDefaultTimeout, tapMaxTimeout)
	if err != nil {
		return nil, err
	}
	posTTL, err := tapDuration("CacheTTL", cfg.CacheTTL, tapDefaultCacheTTL, tapMaxCacheTTL)
	if err != nil {
		return nil, err
	}
	negTTL, err := tapDuration("NegativeTTL", cfg.NegativeTTL, min(tapDefaultNegativeTTL, posTTL), tapMaxCacheTTL)
	if err != nil {
		return nil, err
	}
	if negTTL > posTTL {
		return nil, errors.New("taptap: NegativeTTL must not exceed CacheTTL")
	}
	size, err := tapLimit("CacheSize", int64(cfg.CacheSize), tapDefaultCacheSize, tapMaxCacheSize)
	if err != nil {
		return nil, err
	}
	inflight, err := tapLimit("MaxInFlight", int64(cfg.MaxInFlight), tapDefaultMaxInFlight, tapMaxInFlightCap)
	if err != nil {
		return nil, err
	}
	maxBody, err := tapLimit("MaxBodyBytes", cfg.MaxBodyBytes, tapDefaultMaxBodyBytes, tapMaxBodyBytesCap)
	if err != nil {
		return nil, err
	}

	v := &TapTap{
		endpoint: endpoint,
		clientID: cfg.ClientID,
		key:      key,
		timeout:  timeout,
		posTTL:   posTTL,
		negTTL:   negTTL,
		maxBody:  maxBody,
		now:      clockOrNow(cfg.Clock),
		cache:    newTapCache(int(size)),
		sem:      make(chan struct{}, inflight),
		flights:  make(map[tapKey]*tapFlight),
	}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient // a copy: never change the caller's client
		c.Jar = nil
		c.CheckRedirect = tapNoRedirect
		v.client = &c
	} else {
		v.ownTr = &http.Transport{
			Proxy:                  http.ProxyFromEnvironment,
			DialContext:            (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:      true,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			ExpectContinueTimeout:  time.Second,
			MaxIdleConns:           int(inflight),
			MaxIdleConnsPerHost:    int(inflight),
			MaxConnsPerHost:        int(inflight),
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		}
		v.client = &http.Client{Transport: v.ownTr, CheckRedirect: tapNoRedirect}
	}
	v.base, v.stop = context.WithCancel(context.Background())
	return v, nil
}

// Verify asks LeanCloud (or the cache) whom the session token belongs to.
//
// The token must be 1..256 bytes of printable ASCII without spaces, else
// ErrInvalidToken without any call. An unknown session (code 211) is
// ErrInvalidToken "session not found"; LeanCloud refusing our client id/key
// is ErrBadGateway; 429, 5xx, timeouts, network errors and oversized or
// malformed answers are ErrUnavailable with a RetryAfter hint, and so is a
// cache miss while MaxInFlight calls are already running. Concurrent
// Verify calls with one token share one upstream call; each returns as soon
// as its own ctx is done. The upstream call itself is bounded by Timeout and
// does not carry ctx's values; it is cancelled when every caller has left.
func (v *TapTap) Verify(ctx context.Context, token string) (Identity, error) {
	if v.closed.Load() {
		return Identity{}, Unavailable("verifier closed", 0)
	}
	if err := tapCheckToken(token); err != nil {
		return Identity{}, err
	}
	key := tapHash(token)
	if id, kind, ok := v.cache.get(&key, v.now()); ok {
		v.hits.Add(1)
		if kind == tapNegative {
			return Identity{}, Invalid("session not found")
		}
		return tapCloneIdentity(id), nil
	}
	v.misses.Add(1)
	if ctx.Err() != nil {
		return Identity{}, Unavailable("request cancelled", 0)
	}

	v.fmu.Lock()
	if v.closed.Load() {
		v.fmu.Unlock()
		return Identity{}, Unavailable("verifier closed", 0)
	}
	f := v.flights[key]
	if f == nil {
		// A call may have finished between the lookup above and now.
		if id, kind, ok := v.cache.get(&key, v.now()); ok {
			v.fmu.Unlock()
			if kind == tapNegative {
				return Identity{}, Invalid("session not found")
			}
			return tapCloneIdentity(id), nil
		}
		select {
		case v.sem <- struct{}{}:
		default:
			v.fmu.Unlock()
			return Identity{}, Unavailable("too many upstream calls", tapDefaultRetry)
		}
		cctx, cancel := context.WithTimeout(v.base, v.timeout)
		f = &tapFlight{done: make(chan struct{}), cancel: cancel}
		v.flights[key] = f
		v.wg.Add(1)
		go v.fly(cctx, key, token, f)
	}
	f.waiters++
	v.fmu.Unlock()

	select {
	case <-f.done:
		return tapCloneIdentity(f.id), f.err
	case <-ctx.Done():
	}
	v.fmu.Lock()
	f.waiters--
	abandon := f.waiters == 0 && v.flights[key] == f
	if abandon {
		// Nobody waits any more: stop the call and free its slot. A later
		// Verify of the same token starts afresh.
		delete(v.flights, key)
		f.cancel()
	}
	v.fmu.Unlock()
	select {
	case <-f.done: // it finished meanwhile: use the answer
		return tapCloneIdentity(f.id), f.err
	default:
	}
	return Identity{}, Unavailable("request cancelled", 0)
}

// fly makes one upstream call, caches a definite answer and wakes the waiters.
func (v *TapTap) fly(ctx context.Context, key tapKey, token string, f *tapFlight) {
	defer v.wg.Done()
	a := v.call(ctx, token)
	f.cancel()
	<-v.sem
	if a.cacheable {
		ttl := v.posTTL
		if a.kind == tapNegative {
			ttl = v.negTTL
		}
		v.cache.put(&key, a.kind, a.id, v.now(), ttl)
	}
	v.fmu.Lock()
	if v.flights[key] == f {
		delete(v.flights, key)
	}
	f.id, f.err = a.id, a.err
	close(f.done)
	v.fmu.Unlock()
}

// tapAnswer is the outcome of one upstream call. cacheable is true for a
// valid user (kind tapPositive) and for code 211 (kind tapNegative).
type tapAnswer struct {
	id        Identity
	err       error
	kind      int
	cacheable bool
}

func tapFail(err error) tapAnswer { return tapAnswer{err: err} }

// call sends GET /1.1/users/me and classifies the answer.
func (v *TapTap) call(ctx context.Context, token string) tapAnswer {
	v.calls.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.endpoint, nil)
	if err != nil {
		return tapFail(Unavailable("leancloud unreachable", tapDefaultRetry))
	}
	req.Header = http.Header{
		"X-Lc-Id":      {v.clientID},
		"X-Lc-Key":     {v.key},
		"X-Lc-Session": {token},
		"Accept":       {"application/json"},
		"User-Agent":   {"caddy-gameauth"},
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return tapFail(v.transportError(ctx, err))
	}
	defer func() {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
	}()

	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		body, err := v.readBody(ctx, resp)
		if err != nil {
			return tapFail(err)
		}
		id, err := parseTapTapUser(body)
		if err != nil {
			return tapFail(err)
		}
		return tapAnswer{id: id, kind: tapPositive, cacheable: true}
	case code == http.StatusBadRequest:
		body, err := v.readBody(ctx, resp)
		if err != nil {
			return tapFail(err)
		}
		if c, ok := parseTapTapErrorCode(body); ok && c == tapCodeSessionNotFound {
			return tapAnswer{err: Invalid("session not found"), kind: tapNegative, cacheable: true}
		}
		return tapFail(Invalid("session rejected"))
	case code == http.StatusNotFound:
		return tapFail(Invalid("session rejected"))
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return tapFail(&Error{Kind: ErrBadGateway, Reason: "leancloud rejected credentials"})
	case code == http.StatusTooManyRequests:
		return tapFail(Unavailable("rate limited", tapRetryAfter(resp.Header.Get("Retry-After"), v.now())))
	case code >= 500 && code <= 599:
		return tapFail(Unavailable("leancloud server error", tapRetryAfter(resp.Header.Get("Retry-After"), v.now())))
	default: // 1xx, other 2xx, 3xx (redirects are not followed), other 4xx
		return tapFail(Unavailable("unexpected response status", tapDefaultRetry))
	}
}

// readBody reads at most maxBody bytes of the response.
func (v *TapTap) readBody(ctx context.Context, resp *http.Response) ([]byte, error) {
	if resp.ContentLength > v.maxBody {
		return nil, Unavailable("oversized response", tapDefaultRetry)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, v.maxBody+1))
	if err != nil {
		return nil, v.transportError(ctx, err)
	}
	if int64(len(body)) > v.maxBody {
		return nil, Unavailable("oversized response", tapDefaultRetry)
	}
	return body, nil
}

// transportError classifies a failed round trip or body read.
func (v *TapTap) transportError(ctx context.Context, err error) error {
	if v.base.Err() != nil {
		return Unavailable("verifier closed", 0)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// Every waiter left; nobody will see this.
		return Unavailable("request cancelled", 0)
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return Unavailable("leancloud timeout", tapDefaultRetry)
	}
	return Unavailable("leancloud unreachable", tapDefaultRetry)
}

// Close stops every call in flight (their waiters get ErrUnavailable),
// waits for them to end, drops the cache and closes idle connections of the
// verifier's own transport. Verify after Close fails with ErrUnavailable.
// Close is idempotent and always returns nil.
func (v *TapTap) Close() error {
	v.stopOnce.Do(func() {
		v.fmu.Lock()
		v.closed.Store(true)
		v.fmu.Unlock()
		v.stop()
		v.wg.Wait()
		v.cache.release()
		if v.ownTr != nil {
			v.ownTr.CloseIdleConnections()
		}
	})
	return nil
}

// Stats returns the verifier's counters.
func (v *TapTap) Stats() TapTapStats {
	return TapTapStats{
		Hits:      v.hits.Load(),
		Misses:    v.misses.Load(),
		Calls:     v.calls.Load(),
		Evictions: v.cache.evictions.Load(),
		Entries:   v.cache.len(),
	}
}

// parseTapTapUser turns the body of a 200 answer from /1.1/users/me into an
// Identity. Keys are matched exactly (not case-insensitively). objectId must
// be a JSON string of 1..128 printable ASCII bytes without spaces, else the
// answer is malformed. Other claims are taken only when they are strings (or,
// for shortId, integers) of at most 1024 bytes of UTF-8 without control
// characters; otherwise they are left out.
func parseTapTapUser(body []byte) (Identity, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return Identity{}, Unavailable("malformed response", tapDefaultRetry)
	}
	sub, ok := tapJSONString(top["objectId"])
	if !ok || len(sub) > tapMaxSubject || !tapPrintable(sub) {
		return Identity{}, Unavailable("malformed response", tapDefaultRetry)
	}
	claims := make([]Claim, 0, 6)
	add := func(name string, raw json.RawMessage, numeric bool) {
		s, ok := tapJSONString(raw)
		if !ok && numeric && tapJSONInteger(raw) {
			s, ok = string(raw), true
		}
		if ok && s != "" && tapClaimSafe(s) {
			claims = append(claims, Claim{Name: name, Value: s})
		}
	}
	add("username", top["username"], false)
	add("nickname", top["nickname"], false)
	add("avatar", top["avatar"], false)
	add("short_id", top["shortId"], true)
	if raw := top["authData"]; len(raw) > 0 && raw[0] == '{' {
		var ad map[string]json.RawMessage
		if json.Unmarshal(raw, &ad) == nil {
			if raw := ad["taptap"]; len(raw) > 0 && raw[0] == '{' {
				var tt map[string]json.RawMessage
				if json.Unmarshal(raw, &tt) == nil {
					add("openid", tt["openid"], false)
					add("unionid", tt["unionid"], false)
				}
			}
		}
	}
	id := Identity{Provider: "taptap", Subject: sub}
	if len(claims) > 0 {
		id.Claims = claims[:len(claims):len(claims)]
	}
	return id, nil
}

// parseTapTapErrorCode returns the integer "code" of a LeanCloud error body.
func parseTapTapErrorCode(body []byte) (int, bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return 0, false
	}
	raw := top["code"]
	if !tapJSONInteger(raw) || len(raw) > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(string(raw))
	return n, err == nil
}

// tapJSONString decodes raw if it is a JSON string.
func tapJSONString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// tapJSONInteger reports whether raw is a JSON integer literal.
func tapJSONInteger(raw json.RawMessage) bool {
	if len(raw) == 0 || len(raw) > 20 {
		return false
	}
	i := 0
	if raw[0] == '-' {
		i = 1
	}
	if i == len(raw) {
		return false
	}
	for ; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			return false
		}
	}
	return true
}

// tapCheckToken bounds a session token before anything else touches it:
// 1..256 bytes of printable ASCII without spaces (it goes into a header).
func tapCheckToken(token string) error {
	switch {
	case token == "":
		return Invalid("missing token")
	case len(token) > tapMaxTokenLength || len(token) > MaxTokenLength:
		return Invalid("token too long")
	case !tapPrintable(token):
		return Invalid("malformed token")
	}
	return nil
}

// tapPrintable reports whether s is non-empty printable ASCII without spaces.
func tapPrintable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// tapHeaderSafe checks a configured header value.
func tapHeaderSafe(s string) bool {
	return len(s) <= tapMaxHeaderValue && tapPrintable(s)
}

// tapClaimSafe accepts claim values that can go into a header or a log line:
// valid UTF-8, bounded, without C0/C1 control characters or DEL.
func tapClaimSafe(s string) bool {
	if len(s) > tapMaxClaimValue || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// tapHash returns the SHA-256 of a token that passed tapCheckToken, without
// allocating.
func tapHash(token string) tapKey {
	var buf [tapMaxTokenLength]byte
	n := copy(buf[:], token)
	return sha256.Sum256(buf[:n])
}

// tapCloneIdentity copies the Claims so callers can never change the cache.
func tapCloneIdentity(id Identity) Identity {
	if id.Claims != nil {
		id.Claims = append([]Claim(nil), id.Claims...)
	}
	return id
}

// tapRetryAfter reads a Retry-After header (seconds or HTTP date), clamped
// to [1s, 5m]; absent or unparsable means 1s.
func tapRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return tapDefaultRetry
	}
	var d time.Duration
	if n, err := strconv.ParseUint(h, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	} else {
		return tapDefaultRetry
	}
	return min(max(d, tapDefaultRetry), tapMaxRetry)
}

// tapNoRedirect makes the client return a 3xx as is instead of following it.
func tapNoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// tapEndpoint validates Server and returns the /1.1/users/me URL.
func tapEndpoint(server string) (string, error) {
	if server == "" {
		return "", errors.New("taptap: Server is required")
	}
	u, err := url.Parse(server)
	if err != nil {
		return "", errors.New("taptap: Server is not a valid URL")
	}
	if u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", errors.New("taptap: Server must be scheme://host[:port] with no path, user info, query or fragment")
	}
	host := u.Hostname()
	if host == "" {
		return "", errors.New("taptap: Server has no host")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !tapLoopback(host) {
			return "", errors.New("taptap: Server must use https (http is allowed only for loopback hosts)")
		}
	default:
		return "", errors.New("taptap: Server must use https")
	}
	return u.Scheme + "://" + u.Host + tapUsersMePath, nil
}

func tapLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func tapDuration(field string, d, def, limit time.Duration) (time.Duration, error) {
	switch {
	case d < 0:
		return 0, errors.New("taptap: " + field + " must not be negative")
	case d == 0:
		return def, nil
	case d > limit:
		return 0, errors.New("taptap: " + field + " must be at most " + limit.String())
	}
	return d, nil
}

func tapLimit(field string, n, def, limit int64) (int64, error) {
	switch {
	case n < 0:
		return 0, errors.New("taptap: " + field + " must not be negative")
	case n == 0:
		return def, nil
	case n > limit:
		return 0, errors.New("taptap: " + field + " must be at most " + strconv.FormatInt(limit, 10))
	}
	return n, nil
}
