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
	allowed := make([]streamPattern, 0, len(h.AllowStreams))
	for _, t := range h.AllowStreams {
		p := streamPattern{prefix: strings.HasSuffix(t, "*")}
		// The value is kept apart from the * of the template: a player
		// id that itself ends in * stays exact.
		if p.value = repl.ReplaceAll(strings.TrimSuffix(t, "*"), ""); p.value == "" {
			continue // a template that evaluates to nothing allows nothing
		}
		allowed = append(allowed, p)
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
func streamAllowed(allowed []streamPattern, id string) bool {
	for _, a := range allowed {
		if a.prefix {
			if strings.HasPrefix(id, a.value) && len(id) > len(a.value) {
				return true
			}
		} else if id == a.value {
			return true
		}
	}
	return false
}

// streamPattern is an allow_streams entry evaluated for one request.
type streamPattern struct {
	value  string
	prefix bool // the template ended in *: ids that start with value
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

// room picks the room the token is bound to, under the Rooms restriction.
func (h *IssuerHandler) room(repl *caddy.Replacer, tr tokenRequest) (string, error) {
	room := tr.RoomID
	if len(h.Rooms) == 0 {
		return room, nil
	}
	if room == "" {
		if len(h.Rooms) == 1 {
			room = repl.ReplaceAll(h.Rooms[0], "")
			if room == "" {
				return "", problem("room_id: required")
			}
			return room, nil
		}
		return "", problem("room_id: required")
	}
	for _, t := range h.Rooms {
		if allowed := repl.ReplaceAll(t, ""); allowed != "" && allowed == room {
			return room, nil
		}
	}
	return "", denied("room_id: not a room this route issues tokens for")
}
