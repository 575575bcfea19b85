package caddyauth

import (
	"net/http"
	"strings"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// errAmbiguousPath refuses a request whose path could name another room than
// the one a requirement template reads from it.
var errAmbiguousPath = verifiers.Forbidden("ambiguous request path")

// plainPath reports whether the request path reads the same to Caddy's
// {http.request.uri.path.N} placeholders and to an upstream that decodes and
// cleans paths: no encoded slash, backslash or dot, no "." or ".." segment,
// no empty segment. Requirements taken from the path (room, stream, claim
// rule templates) are only checked on such paths; others are refused, since
// "/rooms/arena-7%2F..%2Farena-8" reads as room arena-7 here but may be
// served as arena-8 upstream.
func plainPath(r *http.Request) bool {
	raw := r.URL.EscapedPath()
	lower := strings.ToLower(raw)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(lower, "%2e") ||
		strings.Contains(raw, `\`) || strings.Contains(raw, "//") {
		return false
	}
	for seg := range strings.SplitSeq(r.URL.Path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// usesPath reports whether a template reads the request path or URI.
func usesPath(template string) bool {
	return strings.Contains(template, "{http.request.uri") || strings.Contains(template, "{path") ||
		strings.Contains(template, "{uri") || strings.Contains(template, "{file")
}
