package caddyauth

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// normByte maps a header-name byte to its normal form: lower case, with
// '_' and '.' read as '-', so "X_Auth_User_Id", "x.auth.user.id" and
// "X-AUTH-USER-ID" all name the same header.
func normByte(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + ('a' - 'A')
	case c == '_' || c == '.':
		return '-'
	}
	return c
}

// normalizeHeaderName returns the normal form of a header name.
func normalizeHeaderName(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = normByte(b[i])
	}
	return string(b)
}

// hasNormPrefix reports whether the normal form of name starts with
// prefix, which must itself be in normal form. It does not allocate.
func hasNormPrefix(name, prefix string) bool {
	if len(name) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if normByte(name[i]) != prefix[i] {
			return false
		}
	}
	return true
}

// equalNorm reports whether the normal form of name equals norm.
func equalNorm(name, norm string) bool {
	return len(name) == len(norm) && hasNormPrefix(name, norm)
}

// headerStripper deletes every identity header a client may have sent.
type headerStripper struct {
	prefix string   // normal form of the identity prefix; "" disables prefix stripping
	names  []string // normal forms of the extra header names
}

// strip deletes, in place, every header whose normal form starts with the
// prefix or equals one of the names. It allocates nothing.
func (s *headerStripper) strip(h http.Header) {
	for k := range h {
		if s.matches(k) {
			delete(h, k)
		}
	}
}

func (s *headerStripper) matches(k string) bool {
	if s.prefix != "" && hasNormPrefix(k, s.prefix) {
		return true
	}
	for _, n := range s.names {
		if equalNorm(k, n) {
			return true
		}
	}
	return false
}

// headerCase turns a snake_case claim name into Header-Case:
// "external_id" → "External-Id".
func headerCase(claim string) string {
	var sb strings.Builder
	sb.Grow(len(claim))
	upper := true
	for i := 0; i < len(claim); i++ {
		c := claim[i]
		switch {
		case c == '_' || c == '-' || c == '.':
			sb.WriteByte('-')
			upper = true
			continue
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		sb.WriteByte(c)
		upper = false
	}
	return sb.String()
}

// validHeaderValue reports whether v can be sent as a header value as is:
// no control characters other than tab (no CR, LF or NUL: no injection).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// claimNames caches, per claim name, the header name it maps to, so the
// request path does not build strings. Readers take an immutable snapshot
// with one atomic load (no lock, no shared write on the request path); a
// new name copies the map. Claim names come from verified tokens and from a
// fixed set per provider, but the cache is bounded anyway.
type claimNames struct {
	prefix string // the configured header prefix, e.g. "X-Auth-"
	m      atomic.Pointer[map[string]string]
	mu     sync.Mutex // serialises writers
}

const maxCachedClaimNames = 512

func newClaimNames(prefix string) *claimNames {
	c := &claimNames{prefix: prefix}
	m := make(map[string]string)
	c.m.Store(&m)
	return c
}

// load returns the current snapshot: claim name to canonical header key.
// It must not be modified.
func (c *claimNames) load() map[string]string { return *c.m.Load() }

// add computes the header key of a claim missing from the snapshot and,
// while the cache is not full, publishes a new snapshot holding it.
func (c *claimNames) add(claim string) string {
	h := http.CanonicalHeaderKey(c.prefix + headerCase(claim))
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.load()
	if _, ok := old[claim]; ok || len(old) >= maxCachedClaimNames {
		return h
	}
	m := make(map[string]string, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[claim] = h
	c.m.Store(&m)
	return h
}
