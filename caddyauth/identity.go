package caddyauth

import (
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// identitySlot holds the identity of one request for the {http.auth.user.*}
// placeholders. There is one per request, however many gameauth handlers
// the request meets: each handler empties it before it verifies and fills
// it on success, so the last verification wins everywhere (the identity
// headers, the placeholders, gameauth_issuer and the access log's user_id
// all say the same player).
type identitySlot struct {
	id  verifiers.Identity
	set bool
}

// slotKey is the replacer variable under which a request's *identitySlot
// answers for itself.
// It is not a placeholder anyone should use; String keeps it empty if one
// does.
const slotKey = "http.auth.gameauth._identity"

// String makes {http.auth.gameauth._identity} evaluate to nothing.
func (*identitySlot) String() string { return "" }

// slotOf returns the request's slot, creating and registering it when
// create is set; nil when there is none and create is not set.
func slotOf(repl *caddy.Replacer, create bool) *identitySlot {
	if v, ok := repl.Get(slotKey); ok {
		if s, ok := v.(*identitySlot); ok {
			return s
		}
	}
	if !create {
		return nil
	}
	// The slot answers its own key, so finding it again costs no
	// replacer variable (a map insert per request).
	s := new(identitySlot)
	repl.Map(s.lookup)
	return s
}

// clearIdentity forgets any identity an earlier gameauth handler set on
// this request.
func clearIdentity(repl *caddy.Replacer) {
	if s := slotOf(repl, false); s != nil {
		*s = identitySlot{}
	}
}

// setIdentity makes id the request's identity.
func setIdentity(repl *caddy.Replacer, id *verifiers.Identity) {
	s := slotOf(repl, true)
	s.id, s.set = *id, true
}

const userPlaceholderPrefix = "http.auth.user."

// lookup answers the {http.auth.user.*} placeholders: id, provider and
// each usable claim.
func (s *identitySlot) lookup(key string) (any, bool) {
	if key == slotKey {
		return s, true
	}
	if !s.set {
		return nil, false
	}
	name, ok := strings.CutPrefix(key, userPlaceholderPrefix)
	if !ok {
		return nil, false
	}
	switch name {
	case "id":
		return s.id.Subject, true
	case "provider":
		return s.id.Provider, true
	}
	for _, c := range s.id.Claims {
		if c.Name == name && usableClaim(c) {
			return c.Value, true
		}
	}
	return nil, false
}
