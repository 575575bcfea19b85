package caddyauth

import (
	"net/http"
	"strings"
	"time"

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
	by  *Handler // the handler that set the identity headers of id
	// With a minors block: the age band, and a minor's play window end,
	// the latest expiry of the tokens gameauth_issuer mints (zero: none).
	band  string
	until time.Time
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
//
// Static {http.auth.user.*} values that other modules set (basic_auth sets
// the user id; so does vars) are deleted too: they would answer before the
// slot, so a player behind a shared basic_auth login would be issued
// tokens as that login. And the identity headers an earlier handler set
// under another header_prefix are removed, so no header names a player
// this handler did not verify.
func clearIdentity(repl *caddy.Replacer, hdr http.Header) {
	repl.DeleteByPrefix(userPlaceholderPrefix)
	if s := slotOf(repl, false); s != nil {
		if s.set && s.by != nil {
			s.by.uninject(hdr, &s.id)
		}
		*s = identitySlot{}
	}
}

// setIdentity makes id the request's identity, with no age band or play
// window end, and returns the slot.
func setIdentity(repl *caddy.Replacer, id *verifiers.Identity, by *Handler) *identitySlot {
	s := slotOf(repl, true)
	*s = identitySlot{id: *id, set: true, by: by}
	return s
}

const userPlaceholderPrefix = "http.auth.user."

// ageBandClaim is the name of the age band: {http.auth.user.age_band}, and
// X-Auth-Age-Band with claim_headers age_band.
const ageBandClaim = "age_band"

// identityPlaceholder reports whether a placeholder name is the verified
// identity or an environment variable: the only values a header line or an
// issuer's user template may use.
func identityPlaceholder(name string) bool {
	return strings.HasPrefix(name, userPlaceholderPrefix) && len(name) > len(userPlaceholderPrefix) ||
		strings.HasPrefix(name, "env.") && len(name) > len("env.")
}

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
	case ageBandClaim:
		// The band of the minors block, never a claim of the same name.
		if s.band != "" {
			return s.band, true
		}
	}
	for _, c := range s.id.Claims {
		if c.Name == name && usableClaim(c) {
			return c.Value, true
		}
	}
	return nil, false
}
