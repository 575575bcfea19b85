package caddyauth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// TokenSource says where a request carries its token.
type TokenSource struct {
	// From is where to look: "bearer" (the Authorization header with the
	// Bearer scheme), "header" (the whole value of a header), "query" (a
	// query-string parameter) or "cookie".
	From string `json:"from"`
	// Name is the header, query parameter or cookie name. For "bearer" it
	// defaults to Authorization.
	Name string `json:"name,omitempty"`
}

const (
	sourceBearer = "bearer"
	sourceHeader = "header"
	sourceQuery  = "query"
	sourceCookie = "cookie"
)

func (s TokenSource) String() string {
	if s.From == sourceBearer {
		return "bearer " + s.Name
	}
	return s.From + " " + s.Name
}

func (s *TokenSource) normalize() error {
	switch s.From {
	case sourceBearer:
		if s.Name == "" {
			s.Name = "Authorization"
		}
		s.Name = http.CanonicalHeaderKey(s.Name)
	case sourceHeader:
		if s.Name == "" {
			return fmt.Errorf("token source %q needs a name", s.From)
		}
		s.Name = http.CanonicalHeaderKey(s.Name)
	case sourceQuery, sourceCookie:
		if s.Name == "" {
			return fmt.Errorf("token source %q needs a name", s.From)
		}
	default:
		return fmt.Errorf("unknown token source %q (want bearer, header, query or cookie)", s.From)
	}
	return nil
}

// extractResult is what a source found.
type extractResult int

const (
	tokenAbsent    extractResult = iota // the source is not in the request
	tokenFound                          // one well-formed candidate
	tokenMalformed                      // present, but not a usable token
)

// extract returns the token carried by this source, if any. A source that
// is present more than once (two Authorization headers, a repeated query
// parameter or cookie) is malformed: we never guess which one counts.
func (s *TokenSource) extract(r *http.Request) (string, extractResult) {
	switch s.From {
	case sourceBearer:
		vals := r.Header[s.Name]
		if len(vals) == 0 {
			return "", tokenAbsent
		}
		if len(vals) > 1 {
			return "", tokenMalformed
		}
		return parseBearer(vals[0])
	case sourceHeader:
		vals := r.Header[s.Name]
		if len(vals) == 0 {
			return "", tokenAbsent
		}
		if len(vals) > 1 {
			return "", tokenMalformed
		}
		return checkToken(vals[0])
	case sourceQuery:
		return queryToken(r.URL.RawQuery, s.Name)
	case sourceCookie:
		var found string
		n := 0
		for _, c := range r.CookiesNamed(s.Name) {
			found = c.Value
			n++
		}
		switch n {
		case 0:
			return "", tokenAbsent
		case 1:
			return checkToken(found)
		default:
			return "", tokenMalformed
		}
	}
	return "", tokenAbsent
}

// parseBearer parses an RFC 6750 §2.1 credentials value: the scheme
// "Bearer" in any case, one or more spaces, then the token, which may not
// contain white space.
func parseBearer(v string) (string, extractResult) {
	const scheme = "bearer"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		// Another scheme (Basic, ...): not a bearer token.
		return "", tokenAbsent
	}
	rest := v[len(scheme):]
	if rest == "" {
		return "", tokenMalformed
	}
	if rest[0] != ' ' {
		// "Bearerxyz" is not the Bearer scheme.
		return "", tokenAbsent
	}
	rest = strings.TrimLeft(rest, " ")
	return checkToken(rest)
}

// checkToken rejects empty tokens and tokens with white space or control
// characters. Length is bounded later, before any decoding.
func checkToken(t string) (string, extractResult) {
	if t == "" {
		return "", tokenMalformed
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c <= ' ' || c == 0x7f {
			return "", tokenMalformed
		}
	}
	return t, tokenFound
}

// queryToken finds name in a raw query string without building a map.
func queryToken(rawQuery, name string) (string, extractResult) {
	var found string
	n := 0
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != name {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			dk, err := url.QueryUnescape(k)
			if err != nil || dk != name {
				continue
			}
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", tokenMalformed
		}
		found = dv
		n++
	}
	switch n {
	case 0:
		return "", tokenAbsent
	case 1:
		return checkToken(found)
	default:
		return "", tokenMalformed
	}
}
