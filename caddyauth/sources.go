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
	// query-string parameter), "cookie", or "websocket_protocol" (an entry
	// of Sec-WebSocket-Protocol on WebSocket requests, after a prefix).
	From string `json:"from"`
	// Name is the header, query parameter or cookie name. For "bearer" it
	// defaults to Authorization; for "websocket_protocol" it is the prefix
	// of the entry that carries the token, by default "access_token.".
	Name string `json:"name,omitempty"`
}

const (
	sourceBearer = "bearer"
	sourceHeader = "header"
	sourceQuery  = "query"
	sourceCookie = "cookie"
	sourceWS     = "websocket_protocol"
)

// DefaultWebSocketPrefix marks the Sec-WebSocket-Protocol entry that
// carries the token: browsers cannot set headers on WebSocket requests, so
// they offer the subprotocols "access_token.<token>" and the real one.
const DefaultWebSocketPrefix = "access_token."

func (s TokenSource) String() string {
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
	case sourceWS:
		if s.Name == "" {
			s.Name = DefaultWebSocketPrefix
		}
	case sourceQuery, sourceCookie:
		if s.Name == "" {
			return fmt.Errorf("token source %q needs a name", s.From)
		}
	default:
		return fmt.Errorf("unknown token source %q (want bearer, header, query, cookie or websocket_protocol)", s.From)
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
		if len(vals) != 1 {
			return single("", len(vals))
		}
		return parseBearer(vals[0])
	case sourceHeader:
		vals := r.Header[s.Name]
		if len(vals) != 1 {
			return single("", len(vals))
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
		return single(found, n)
	case sourceWS:
		if !isWebSocket(r) {
			return "", tokenAbsent
		}
		var found string
		n := 0
		for _, v := range r.Header["Sec-Websocket-Protocol"] {
			for p := range strings.SplitSeq(v, ",") {
				if t, ok := strings.CutPrefix(strings.TrimSpace(p), s.Name); ok {
					found = t
					n++
				}
			}
		}
		return single(found, n)
	}
	return "", tokenAbsent
}

// isWebSocket reports whether r asks for a WebSocket: an HTTP/1.1 upgrade
// or an HTTP/2 extended CONNECT (RFC 8441).
func isWebSocket(r *http.Request) bool {
	if r.Method == http.MethodConnect {
		return strings.EqualFold(r.Header.Get(":protocol"), "websocket")
	}
	for _, v := range r.Header["Upgrade"] {
		if strings.EqualFold(strings.TrimSpace(v), "websocket") {
			return true
		}
	}
	return false
}

// remove deletes the token from where this source found it, so that it is
// not forwarded upstream.
func (s *TokenSource) remove(r *http.Request) {
	switch s.From {
	case sourceBearer, sourceHeader:
		delete(r.Header, s.Name)
	case sourceQuery:
		r.URL.RawQuery = withoutQueryParam(r.URL.RawQuery, s.Name)
		r.RequestURI = r.URL.RequestURI()
	case sourceCookie:
		var kept []string
		for _, c := range r.Cookies() {
			if c.Name != s.Name {
				kept = append(kept, c.Name+"="+c.Value)
			}
		}
		r.Header.Del("Cookie")
		if len(kept) > 0 {
			r.Header.Set("Cookie", strings.Join(kept, "; "))
		}
	case sourceWS:
		var kept []string
		for _, v := range r.Header["Sec-Websocket-Protocol"] {
			for p := range strings.SplitSeq(v, ",") {
				p = strings.TrimSpace(p)
				if p != "" && !strings.HasPrefix(p, s.Name) {
					kept = append(kept, p)
				}
			}
		}
		r.Header.Del("Sec-Websocket-Protocol")
		if len(kept) > 0 {
			r.Header.Set("Sec-Websocket-Protocol", strings.Join(kept, ", "))
		}
	}
}

// withoutQueryParam returns rawQuery without the parameter name.
//
// Pairs are split on "&" and on ";" (which some upstream parsers still
// take as a separator), and a key matches in any spelling an upstream may
// read as name: percent-encoded, or with ".", " " ("+") or "[" where name
// has "_" (PHP's rule). The kept pairs keep their separators.
func withoutQueryParam(rawQuery, name string) string {
	want := foldQueryKey(name)
	var b strings.Builder
	sep := ""
	for rawQuery != "" {
		kv := rawQuery
		next := ""
		if i := strings.IndexAny(rawQuery, "&;"); i >= 0 {
			kv, next, rawQuery = rawQuery[:i], rawQuery[i:i+1], rawQuery[i+1:]
		} else {
			rawQuery = ""
		}
		k, _, _ := strings.Cut(kv, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			dk = k
		}
		if foldQueryKey(dk) == want || foldQueryKey(k) == want {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(kv)
		sep = next
		if sep == "" {
			sep = "&"
		}
	}
	return b.String()
}

// foldQueryKey maps the characters PHP turns into "_" in parameter names.
func foldQueryKey(k string) string {
	return strings.Map(func(c rune) rune {
		switch c {
		case '.', ' ', '+', '[':
			return '_'
		}
		return c
	}, k)
}

// single is the result of a source found n times: absent, the one token,
// or malformed when it is there more than once (we never guess which counts).
func single(found string, n int) (string, extractResult) {
	switch n {
	case 0:
		return "", tokenAbsent
	case 1:
		return checkToken(found)
	}
	return "", tokenMalformed
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
		if rest[0] < ' ' || rest[0] == 0x7f {
			// "Bearer<TAB>x": not RFC 6750, but a lenient upstream
			// would read a token there. Refused, never forwarded.
			return "", tokenMalformed
		}
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
	return single(found, n)
}
