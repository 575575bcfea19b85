package caddyauth

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// errAmbiguousPath refuses a request whose path could name another room than
// the one a requirement template reads from it.
var errAmbiguousPath = verifiers.Forbidden(verifiers.ReasonAmbiguousPath)

// plainPath reports whether the request path reads the same to Caddy's
// placeholders and matchers (which see the decoded, and for path_regexp the
// cleaned, path) and to any upstream, whatever it decodes or cleans: no
// encoded slash, backslash, dot, semicolon, percent or NUL; no raw
// backslash or semicolon (path parameters: Java servlet containers read
// "/a/..;/b" as "/b"); no "." or ".." segment; no empty segment. The
// original URI (before any rewrite, read by {http.request.orig_uri.*}) is
// held to the same rule. Requirements that read request data (room,
// stream, claim rule templates) are only checked on such paths; others are
// refused, since "/rooms/arena-7%2F..%2Farena-8" reads as room arena-7 here
// but may be served as arena-8 upstream. "%25" is refused too: an upstream
// that decodes twice would read "%252F" as "/".
//
// A raw ";" in the query string is refused as well: Go's query parser
// skips "room=arena-8;x=1", which older Rack and Python parsers read as
// room=arena-8, so "?room=arena-7&room=arena-8;x=1" would pass a
// {http.request.uri.query.room} requirement as arena-7.
func plainPath(r *http.Request) bool {
	if !plainEscapedPath(r.URL.EscapedPath(), r.URL.Path) || strings.Contains(r.URL.RawQuery, ";") {
		return false
	}
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		return plainEscapedPath(orig.URL.EscapedPath(), orig.URL.Path) && !strings.Contains(orig.URL.RawQuery, ";")
	}
	return true
}

// plainEscapedPath applies plainPath's rule to one path, raw and decoded.
func plainEscapedPath(raw, decoded string) bool {
	if strings.ContainsAny(raw, `\;`) || strings.Contains(raw, "//") {
		return false
	}
	for i := 0; i+2 < len(raw); i++ {
		if raw[i] != '%' {
			continue
		}
		switch hex2(raw[i+1], raw[i+2]) {
		case '/', '\\', '.', ';', '%', 0:
			return false
		}
	}
	for seg := range strings.SplitSeq(decoded, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// hex2 decodes two hex digits; -1 when they are not hex.
func hex2(a, b byte) int {
	h, l := unhex(a), unhex(b)
	if h < 0 || l < 0 {
		return -1
	}
	return h<<4 | l
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// usesPath reports whether a template may carry path-derived request data
// into a requirement: true as soon as it holds a placeholder that is not
// provably free of the path. Provably free are the verified identity
// ({http.auth.user.*}), environment variables ({env.*}), request headers
// ({http.request.header.*}), the host and the method. Everything else (the
// path and URI in every form, {http.request.orig_uri.*}, path_regexp and
// header_regexp captures, vars that a matcher or handler may have set from
// the path, unknown names) is treated as path-derived.
func usesPath(template string) bool {
	for _, name := range placeholderNames(template) {
		if !pathFreePlaceholder(name) {
			return true
		}
	}
	return false
}

// placeholderNames returns the names of the placeholders in a template, as
// Caddy's replacer reads them ("{a}" is a; "\{" is a literal brace). An
// unclosed brace gives the name "{", which no allow-list accepts.
func placeholderNames(template string) []string {
	var names []string
	for rest := template; ; {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			return names
		}
		if open > 0 && rest[open-1] == '\\' {
			rest = rest[open+1:]
			continue
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return append(names, "{")
		}
		names = append(names, rest[open+1:open+end])
		rest = rest[open+end+1:]
	}
}

// pathFreePlaceholder reports whether the placeholder name provably does
// not read the request path.
func pathFreePlaceholder(name string) bool {
	switch name {
	case "http.request.host", "http.request.method":
		return true
	}
	for _, p := range []string{userPlaceholderPrefix, "env.", "http.request.header."} {
		if strings.HasPrefix(name, p) && len(name) > len(p) {
			return true
		}
	}
	return false
}
