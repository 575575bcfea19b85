package verifiers

// This file holds the configuration of the TapTap verifier: what
// NewTapTap checks and the HTTP client it builds.

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
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

// NewTapTap checks cfg and returns a verifier. It makes no network call.
func NewTapTap(cfg TapTapConfig) (*TapTap, error) {
	endpoint, err := tapEndpoint(cfg.Server)
	if err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		return nil, check.Field("taptap", "ClientID", "is required")
	}
	if !tapHeaderSafe(cfg.ClientID) {
		return nil, check.Field("taptap", "ClientID", "must be printable ASCII without spaces, at most 1024 bytes")
	}
	var key string
	switch {
	case cfg.ClientToken != "" && cfg.ServerSecret != "":
		return nil, errors.New("taptap: set only one of ClientToken and ServerSecret")
	case cfg.ClientToken != "":
		if !tapHeaderSafe(cfg.ClientToken) {
			return nil, check.Field("taptap", "ClientToken", "must be printable ASCII without spaces, at most 1024 bytes")
		}
		key = cfg.ClientToken
	case cfg.ServerSecret != "":
		if !tapHeaderSafe(cfg.ServerSecret) {
			return nil, check.Field("taptap", "ServerSecret", "must be printable ASCII without spaces, at most 1024 bytes")
		}
		if strings.Contains(cfg.ServerSecret, ",") {
			return nil, check.Field("taptap", "ServerSecret", `must not contain ",": give the secret alone, the ",master" suffix is added`)
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
		return nil, check.Field("taptap", "NegativeTTL", "must not exceed CacheTTL")
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

// tapHeaderSafe checks a configured header value.
func tapHeaderSafe(s string) bool {
	return len(s) <= tapMaxHeaderValue && check.PrintableASCII(s)
}

// tapEndpoint validates Server and returns the /1.1/users/me URL.
func tapEndpoint(server string) (string, error) {
	if server == "" {
		return "", check.Field("taptap", "Server", "is required")
	}
	u, err := url.Parse(server)
	if err != nil {
		return "", check.Field("taptap", "Server", "is not a valid URL")
	}
	if u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", check.Field("taptap", "Server", "must be scheme://host[:port] with no path, user info, query or fragment")
	}
	host := u.Hostname()
	if host == "" {
		return "", check.Field("taptap", "Server", "has no host")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !tapLoopback(host) {
			return "", check.Field("taptap", "Server", "must use https (http is allowed only for loopback hosts)")
		}
	default:
		return "", check.Field("taptap", "Server", "must use https")
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

// tapBound returns n, or def when n is zero, or an error naming field when
// n is negative or above limit (written by show).
func tapBound[T ~int64](field string, n, def, limit T, show func(T) string) (T, error) {
	switch {
	case n < 0:
		return 0, check.Field("taptap", field, "must not be negative")
	case n == 0:
		return def, nil
	case n > limit:
		return 0, check.Field("taptap", field, "must be at most "+show(limit))
	}
	return n, nil
}

func tapDuration(field string, d, def, limit time.Duration) (time.Duration, error) {
	return tapBound(field, d, def, limit, time.Duration.String)
}

func tapLimit(field string, n, def, limit int64) (int64, error) {
	return tapBound(field, n, def, limit, func(n int64) string { return strconv.FormatInt(n, 10) })
}
