package caddyauth

import (
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/gameauth/caddy-gameauth/issuers"
)

// maxPolicyEntries bounds the rooms and allow_streams lists of an issuer.
const maxPolicyEntries = 64

// privileges applies the route's privilege policy to a token request: the
// publish privilege only with allow_publish, stream ids only with
// allow_streams and each matching one of its entries, and with
// allow_streams a publish request must name its streams. A request beyond
// the policy is refused with 403; nothing is silently dropped, so a client
// never holds a token that does less than it believes.
func (h *IssuerHandler) privileges(repl *caddy.Replacer, req *issuers.Request) error {
	if req.Publish && !h.AllowPublish {
		return denied("publish: this route does not grant the publish privilege")
	}
	if len(req.StreamIDs) == 0 {
		if req.Publish && len(h.AllowStreams) > 0 {
			return denied("stream_ids: required with publish on this route")
		}
		return nil
	}
	if len(h.AllowStreams) == 0 {
		return denied("stream_ids: this route grants no streams")
	}
	allowed := make([]string, 0, len(h.AllowStreams))
	for _, t := range h.AllowStreams {
		prefix := strings.HasSuffix(t, "*")
		v := repl.ReplaceAll(strings.TrimSuffix(t, "*"), "")
		if v == "" {
			continue // a template that evaluates to nothing allows nothing
		}
		if prefix {
			v += "*"
		}
		allowed = append(allowed, v)
	}
	for _, id := range req.StreamIDs {
		if !streamAllowed(allowed, id) {
			return denied("stream_ids: a stream this route does not grant")
		}
	}
	return nil
}

// streamAllowed reports whether id equals an entry, or starts with the
// value of an entry that ends in *.
func streamAllowed(allowed []string, id string) bool {
	for _, a := range allowed {
		if p, ok := strings.CutSuffix(a, "*"); ok {
			if strings.HasPrefix(id, p) && len(id) > len(p) {
				return true
			}
		} else if id == a {
			return true
		}
	}
	return false
}

// checkUserTemplate refuses a user template that could name anyone but the
// verified player: every placeholder must be {http.auth.user.*}, and there
// must be one. "{http.request.header.X-User}" would issue a token for
// whoever the client names.
func checkUserTemplate(tmpl string) error {
	names := placeholderNames(tmpl)
	if len(names) == 0 {
		return fmt.Errorf("gameauth_issuer: user %q names no verified identity; use {http.auth.user.id} (the default)", tmpl)
	}
	for _, n := range names {
		if !strings.HasPrefix(n, userPlaceholderPrefix) || len(n) == len(userPlaceholderPrefix) {
			return fmt.Errorf("gameauth_issuer: user may only use {http.auth.user.*} placeholders, not {%s}: the token must be for the verified player, never one the request names", n)
		}
	}
	return nil
}
