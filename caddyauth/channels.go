package caddyauth

import (
	"io"
	"net/http"
	"net/textproto"
	"strings"
)

// This file closes the channels other than request headers through which a
// client could put identity fields in front of the upstream, or take away
// the ones gameauth sets.

// stripConnection removes, from the Connection header, every token that
// names an identity header. reverse_proxy deletes the headers a request's
// Connection header lists (hop-by-hop handling, after the handlers ran), so
// "Connection: X-Auth-User-Id" would delete the identity gameauth just set.
// Other tokens (close, keep-alive, Upgrade, any other header) are kept as
// sent.
func (s *headerStripper) stripConnection(h http.Header) {
	s.stripList(h, "Connection")
}

// guardTrailers keeps identity fields out of the request's trailers.
// reverse_proxy forwards request trailers: net/http fills r.Trailer (the
// declared names, and over HTTP/1.1 any name the client sends after the
// last chunk) when the body is read to its end, and the proxy copies them
// then. Declared identity trailers are removed now, with their mention in
// the Trailer header; the body is wrapped so that whatever arrives at the
// end of the body is stripped before anyone downstream sees the end.
func (s *headerStripper) guardTrailers(r *http.Request) {
	if r.Trailer != nil {
		s.strip(r.Trailer)
	}
	s.stripList(r.Header, "Trailer")
	if r.Body == nil || r.Body == http.NoBody || (r.Trailer == nil && r.ContentLength >= 0) {
		// A body of known length over HTTP/1.1 has no trailers, and with
		// none declared neither net/http's HTTP/2 server nor the proxy
		// passes any on.
		return
	}
	r.Body = &trailerGuard{ReadCloser: r.Body, r: r, s: s}
}

// stripList removes the tokens that name identity headers from a
// comma-separated header (Connection, Trailer), deleting it when none is
// left.
func (s *headerStripper) stripList(h http.Header, key string) {
	if !s.listNames(h[key]) {
		return // the common case: nothing to strip, nothing rewritten
	}
	var kept []string
	for _, v := range h[key] {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = textproto.TrimString(tok); tok != "" && !s.matches(tok) {
				kept = append(kept, tok)
			}
		}
	}
	if len(kept) == 0 {
		delete(h, key)
		return
	}
	h[key] = []string{strings.Join(kept, ", ")}
}

// trailerGuard strips identity trailers each time the body it wraps ends
// (EOF or an error), before the reader above it sees the end.
type trailerGuard struct {
	io.ReadCloser
	r *http.Request
	s *headerStripper
}

func (g *trailerGuard) Read(p []byte) (int, error) {
	n, err := g.ReadCloser.Read(p)
	if err != nil && g.r.Trailer != nil {
		g.s.strip(g.r.Trailer)
	}
	return n, err
}

// listNames reports whether a comma-separated header names an identity
// header.
func (s *headerStripper) listNames(vals []string) bool {
	for _, v := range vals {
		for tok := range strings.SplitSeq(v, ",") {
			if s.matches(textproto.TrimString(tok)) {
				return true
			}
		}
	}
	return false
}
