package caddyauth

import (
	"net/http"
	"slices"

	"github.com/caddyserver/caddy/v2"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// HeaderTemplate is one extra header sent upstream after a successful
// verification.
type HeaderTemplate struct {
	// Name is the header name. It is stripped from every incoming request,
	// in every spelling, like the identity headers.
	Name string `json:"name"`
	// Value is a template that may use placeholders, such as
	// {http.auth.user.id}. A header whose value is empty is not set.
	Value string `json:"value"`
}

// inject sets the verified identity headers and placeholders, and with a
// minors block the age band and the play window end of age.
func (h *Handler) inject(r *http.Request, repl *caddy.Replacer, id *verifiers.Identity, age *ageVerdict) {
	// One backing array for every header value: a single allocation.
	vals := make([]string, 2, 3+len(id.Claims))
	vals[0], vals[1] = id.Provider, id.Subject
	r.Header[h.hdrProv] = vals[0:1:1]
	r.Header[h.hdrUser] = vals[1:2:2]
	names := h.names.load()
	for _, c := range id.Claims {
		if !usableClaim(c) || h.claimSet != nil && !slices.Contains(h.claimSet, c.Name) {
			continue
		}
		key, ok := names[c.Name]
		if !ok {
			key = h.names.add(c.Name)
		}
		vals = append(vals, c.Value)
		n := len(vals)
		r.Header[key] = vals[n-1 : n : n]
	}
	// The {http.auth.user.*} placeholders are answered lazily from the
	// identity instead of being copied into the replacer one by one.
	s := setIdentity(repl, id, h)
	if h.Minors != nil {
		s.band, s.until = age.band.String(), age.until
		if h.hdrBand != "" {
			// Set after the claims: a claim of the same name never
			// speaks for the band.
			vals = append(vals, s.band)
			n := len(vals)
			r.Header[h.hdrBand] = vals[n-1 : n : n]
		}
	}
	for _, t := range h.headers {
		v := repl.ReplaceAll(t.Value, "")
		if v != "" && validHeaderValue(v) {
			r.Header[t.Name] = []string{v}
		}
	}
}

// usableClaim reports whether a claim becomes a header and a placeholder.
// uninject removes the headers inject set for id, whatever the prefix of
// the handler that now runs.
func (h *Handler) uninject(hdr http.Header, id *verifiers.Identity) {
	delete(hdr, h.hdrProv)
	delete(hdr, h.hdrUser)
	if h.hdrBand != "" {
		delete(hdr, h.hdrBand)
	}
	names := h.names.load()
	for _, c := range id.Claims {
		key, ok := names[c.Name]
		if !ok {
			key = h.names.add(c.Name)
		}
		delete(hdr, key)
	}
	for _, t := range h.headers {
		delete(hdr, t.Name)
	}
}

func usableClaim(c verifiers.Claim) bool {
	return c.Value != "" && !reservedClaim(c.Name) && check.ClaimName(c.Name) && validHeaderValue(c.Value)
}

// reservedClaim reports claim names that would collide with the subject or
// provider headers and placeholders.
func reservedClaim(name string) bool {
	return name == "id" || name == "provider" || name == "user_id"
}
