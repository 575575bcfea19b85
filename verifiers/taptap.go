package verifiers

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/internal/tokenhash"
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
// Session tokens carry no issue time either, and LeanCloud is the authority
// on its sessions (a studio logs a player out by resetting the session
// token there). So Identity.IssuedAt is the time, by Clock, at which the
// LeanCloud call that confirmed the session was sent: LeanCloud answered
// at or after it, so an answer that may predate a revocation always has an
// IssuedAt before it. A cache hit returns the IssuedAt of the call that
// filled the entry; it moves only when LeanCloud is asked again.
//
// A revocation at T of a TapTap identity therefore means "ask LeanCloud
// again for any session confirmed before T": on a token whose IssuedAt is
// before T, call Forget and Verify again. The new answer comes from a call
// sent after Forget; if LeanCloud still knows the session its IssuedAt is
// after T, and if the session was reset the token is refused.
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
	// forgotten is set by Forget (guarded by TapTap.fmu): the flight
	// is no longer joined and its answer is not cached.
	forgotten bool
	cancel    context.CancelFunc
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
		return Identity{}, Unavailable(ReasonClosed, 0)
	}
	if err := tapCheckToken(token); err != nil {
		return Identity{}, err
	}
	key := tokenhash.Sum(token)
	if id, kind, ok := v.cache.get(&key, v.now()); ok {
		v.hits.Add(1)
		if kind == tapNegative {
			return Identity{}, Invalid(ReasonSessionNotFound)
		}
		return tapCloneIdentity(id), nil
	}
	v.misses.Add(1)
	if ctx.Err() != nil {
		return Identity{}, Unavailable(ReasonCancelled, 0)
	}

	v.fmu.Lock()
	if v.closed.Load() {
		v.fmu.Unlock()
		return Identity{}, Unavailable(ReasonClosed, 0)
	}
	f := v.flights[key]
	if f == nil {
		// A call may have finished between the lookup above and now.
		if id, kind, ok := v.cache.get(&key, v.now()); ok {
			v.fmu.Unlock()
			if kind == tapNegative {
				return Identity{}, Invalid(ReasonSessionNotFound)
			}
			return tapCloneIdentity(id), nil
		}
		select {
		case v.sem <- struct{}{}:
		default:
			v.fmu.Unlock()
			return Identity{}, Unavailable(ReasonTooManyCalls, tapDefaultRetry)
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
	if f.waiters == 0 && (v.flights[key] == f || f.forgotten) {
		// Nobody waits any more: stop the call and free its slot. A later
		// Verify of the same token starts afresh.
		if v.flights[key] == f {
			delete(v.flights, key)
		}
		f.cancel()
	}
	v.fmu.Unlock()
	select {
	case <-f.done: // it finished meanwhile: use the answer
		return tapCloneIdentity(f.id), f.err
	default:
	}
	return Identity{}, Unavailable(ReasonCancelled, 0)
}

// fly makes one upstream call, caches a definite answer (unless the flight
// was forgotten) and wakes the waiters. A user's IssuedAt is the time the
// call was sent.
func (v *TapTap) fly(ctx context.Context, key tapKey, token string, f *tapFlight) {
	defer v.wg.Done()
	sent := v.now()
	a := v.call(ctx, token)
	f.cancel()
	<-v.sem
	if a.err == nil {
		a.id.IssuedAt = sent
	}
	v.fmu.Lock()
	// Under fmu, so that Forget either sees the flight or the entry.
	if a.cacheable && !f.forgotten {
		ttl := v.posTTL
		if a.kind == tapNegative {
			ttl = v.negTTL
		}
		v.cache.put(&key, a.kind, a.id, v.now(), ttl)
	}
	if v.flights[key] == f {
		delete(v.flights, key)
	}
	f.id, f.err = a.id, a.err
	close(f.done)
	v.fmu.Unlock()
}

// Forget drops what the verifier remembers of token: its cached answer,
// positive or negative, and the LeanCloud call for it in flight, if any
// (whose callers still get its answer, but which no later Verify joins and
// whose answer is not cached). The next Verify of token therefore sends a
// new call, after Forget was called, and a positive answer gets a new
// IssuedAt. Forget of a token the verifier holds nothing for, of a
// malformed token, or after Close, does nothing. It neither logs nor keeps
// the token; like the cache, it only uses its SHA-256.
func (v *TapTap) Forget(token string) {
	if tapCheckToken(token) != nil {
		return // never cached
	}
	key := tokenhash.Sum(token)
	v.fmu.Lock()
	if f := v.flights[key]; f != nil {
		f.forgotten = true
		delete(v.flights, key)
	}
	v.cache.remove(&key)
	v.fmu.Unlock()
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

// tapCheckToken bounds a session token before anything else touches it:
// 1..256 bytes of printable ASCII without spaces (it goes into a header).
func tapCheckToken(token string) error {
	switch {
	case token == "":
		return Invalid(ReasonMissingToken)
	case len(token) > tapMaxTokenLength || len(token) > MaxTokenLength:
		return Invalid(ReasonTokenTooLong)
	case !check.PrintableASCII(token):
		return Invalid(ReasonMalformedToken)
	}
	return nil
}

// tapCloneIdentity copies the Claims so callers can never change the cache.
func tapCloneIdentity(id Identity) Identity {
	if id.Claims != nil {
		id.Claims = append([]Claim(nil), id.Claims...)
	}
	return id
}
