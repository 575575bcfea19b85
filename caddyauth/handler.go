// Package caddyauth is the Caddy side of caddy-gameauth: the http.handlers.gameauth
// middleware that verifies game tokens on proxied requests, the
// http.handlers.gameauth_issuer handler that mints RTC tokens for the verified
// player, their guest modules, Caddyfile directives and the gameauth-token
// command. It is the only package of this module that imports Caddy or zap.
//
// The handler is a fixed pipeline, one file per stage: strip what the
// client may not send (headers.go, channels.go), find the one token
// (sources.go), offer it to the verifiers in order (this file), check the
// route's requirements (requirements.go, rules.go), then pass the identity
// on (inject.go, identity.go) or refuse (refuse.go). A vendor is an adapter
// file (seayoo.go, zego.go, twilio.go, taptap.go, cloudbase.go) whose guest
// modules only build a verifier or an issuer from package verifiers or
// issuers, declare their requirement options and their kind of token for
// the command, and parse their Caddyfile block.
package caddyauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// DefaultHeaderPrefix is the prefix of the identity headers sent upstream.
const DefaultHeaderPrefix = "X-Auth-"

// ErrorPlaceholder holds the reason a request was refused, for handle_errors.
const ErrorPlaceholder = "http.auth.gameauth.error"

// TokenVerifier is implemented by the guest modules of the
// http.gameauth.verifiers namespace. It is a verifiers.Verifier: the module
// builds one at provision and answers with it. A module never checks route
// requirements itself; a verifier whose block takes some (a ZEGO room)
// turns them into rules of the handler's engine (requirer).
type TokenVerifier interface {
	// Verify verifies the token. Errors wrap the sentinels of package
	// verifiers.
	Verify(ctx context.Context, token string) (verifiers.Identity, error)
}

// defaultSourcer is implemented by verifiers whose tokens travel in a place
// of their own by default (TapTap: X-LC-Session).
type defaultSourcer interface {
	defaultSources() []TokenSource
}

// Handler verifies a game token on each request, strips every identity
// header the client sent, and on success tells the upstream who the player
// is through X-Auth-* headers and the {http.auth.user.*} placeholders.
// A missing or bad token is refused with 401, a valid token without the
// privilege the route requires with 403, and a backing service that cannot
// answer with 502 or 503; the request is then not passed on.
type Handler struct {
	// VerifiersRaw are the token verifiers, tried in order on the one token
	// the request carries; the first that accepts it wins. A verifier that
	// finds the token forbidden or cannot reach its backing service ends the
	// search. Required.
	VerifiersRaw []json.RawMessage `json:"verifiers,omitempty" caddy:"namespace=http.gameauth.verifiers inline_key=verifier"`

	// Sources are where the token is looked for, in order; the first
	// source present in the request is the one checked. Default: the
	// Authorization header with the Bearer scheme, then the default
	// sources of the configured verifiers (X-LC-Session for taptap).
	Sources []TokenSource `json:"sources,omitempty"`

	// HeaderPrefix is the prefix of the identity headers. Every request
	// header starting with it, in any case and with '_' or '.' in place of
	// '-', is deleted before anything else. Default: X-Auth-
	HeaderPrefix string `json:"header_prefix,omitempty"`

	// Headers are extra headers set from templates after a successful
	// verification. Their names are stripped from incoming requests too.
	// Default: none.
	Headers []HeaderTemplate `json:"headers,omitempty"`

	// ClaimHeaders names the claims sent upstream as X-Auth-<Claim>
	// headers besides X-Auth-Provider and X-Auth-User-Id, which are always
	// sent: claim names such as "idp" or "age", or "all" for every usable
	// claim ("id" and "provider" are accepted and change nothing). Every
	// claim stays available as an {http.auth.user.*} placeholder and to
	// require rules, and every header with the prefix is still stripped.
	// Private by default: personal data (names, device ids) reaches only
	// upstreams that ask for it, and fewer headers cost less in the proxy
	// and the upstream. At most 64 names. Default: none (provider and user
	// id only).
	ClaimHeaders []string `json:"claim_headers,omitempty"`

	// Realm is the realm of the WWW-Authenticate challenge. Default: none.
	Realm string `json:"realm,omitempty"`

	// Require are claim rules the verified identity must meet, all of
	// them; failing one is a 403 whose reason names the rule. Default: none.
	Require []ClaimRule `json:"require,omitempty"`

	// Optional lets requests that carry no token through, with every
	// identity header stripped and none set. A token that is present but
	// bad is still refused. Default: false.
	Optional bool `json:"optional,omitempty"`

	// SkipPreflight lets CORS preflight requests (OPTIONS with Origin and
	// Access-Control-Request-Method) through without a token, with every
	// identity header stripped. Default: false.
	SkipPreflight bool `json:"skip_preflight,omitempty"`

	// ForwardToken, when false, removes the token from the request (the
	// header, query parameter, cookie or WebSocket subprotocol it came
	// from) before it goes upstream, so it never lands in upstream logs.
	// Default: true.
	ForwardToken *bool `json:"forward_token,omitempty"`

	// Minors, when set, lets a minor (a verified age below its adult_age)
	// through only inside the play window: outside it the request is
	// refused with 403 minor play time and Retry-After to the next window;
	// inside it, the window's end ends the player's live connections and
	// caps the tokens gameauth_issuer mints for them. It also gives the
	// {http.auth.user.age_band} placeholder (and X-Auth-Age-Band with
	// claim_headers age_band). Default: none (no play-time rule).
	Minors *MinorsPolicy `json:"minors,omitempty"`

	verifiers   []TokenVerifier
	providers   []string // module names of verifiers, for metrics and logs
	provMetrics []providerMetrics
	rules       requirements // the route's requirements, by verifier
	sources     []TokenSource
	stripper    headerStripper
	names       *claimNames
	hdrProv     string           // X-Auth-Provider in the configured prefix
	hdrUser     string           // X-Auth-User-Id in the configured prefix
	hdrBand     string           // X-Auth-Age-Band when minors is set and claim_headers asks; else ""
	claimSet    []string         // the claims of claim_headers; nil: every claim (all)
	headers     []HeaderTemplate // canonical names
	stripToken  bool
	metrics     *metrics
	logger      *zap.Logger
	bans        *banState // the process's ban list and live sessions
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.gameauth",
		New: func() caddy.Module { return new(Handler) },
	}
}

// ServeHTTP strips identity headers, verifies the token and the route's
// requirements and, on success only, sets the identity headers and
// placeholders and calls next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	// Rule 1: strip first, unconditionally, on every path: identity
	// headers, Connection tokens naming them, identity trailers, and any
	// identity an earlier gameauth handler on this route set.
	h.stripper.strip(r.Header)
	h.stripper.stripConnection(r.Header)
	h.stripper.guardTrailers(r)

	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	clearIdentity(repl, r.Header)

	if h.SkipPreflight && isPreflight(r) {
		return next.ServeHTTP(w, r)
	}

	token, res := h.findToken(r)
	switch res {
	case tokenAbsent:
		if h.Optional {
			return next.ServeHTTP(w, r)
		}
		return h.refuse(w, r, repl, errMissingToken, "", "")
	case tokenMalformed:
		return h.refuse(w, r, repl, verifiers.Invalid(verifiers.ReasonMalformedToken), "", "")
	}
	if len(token) > verifiers.MaxTokenLength {
		return h.refuse(w, r, repl, verifiers.Invalid(verifiers.ReasonTokenTooLong), "", "")
	}

	start := time.Now()
	id, vi, err := h.verify(r.Context(), token)
	if err == nil && (id.Subject == "" || !validHeaderValue(id.Subject) || !validHeaderValue(id.Provider)) {
		err = verifiers.Invalid(verifiers.ReasonBadClaim)
	}
	if err == nil {
		err = h.admit(r.Context(), vi, token, &id)
	}
	if err == nil {
		err = h.rules.check(vi, r, &id, repl)
	}
	// The minors rule comes after the route's requirements: a request the
	// route refuses anyway is told why, and Retry-After is only sent when
	// waiting for the window helps.
	var age ageVerdict
	if err == nil && h.Minors != nil {
		age, err = h.Minors.check(&id)
	}
	if vi >= 0 {
		h.provMetrics[vi].observe(err, start)
	}
	if err != nil {
		provider := ""
		if vi >= 0 {
			provider = h.providers[vi]
		}
		return h.refuse(w, r, repl, err, token, provider)
	}
	if h.stripToken {
		h.removeTokens(r)
	}
	h.inject(r, repl, &id, &age)
	// A WebSocket or event stream is tracked so that it ends when the
	// token expires, the player is banned or revoked, or a minor's play
	// window ends.
	w, r, done, err := h.bans.live.track(w, r, sessionInfo{Provider: id.Provider, Subject: id.Subject,
		IssuedAt: id.IssuedAt, Expires: id.Expires, Deadline: age.until, DeadlineReason: verifiers.ReasonMinorPlayTime})
	if err != nil {
		clearIdentity(repl, r.Header)
		return h.refuse(w, r, repl, err, token, h.providers[vi])
	}
	defer done()
	return next.ServeHTTP(w, r)
}

// admit checks the verified identity against the ban list. A TapTap
// session refused as revoked is asked about again once: its issue time is
// when LeanCloud last confirmed it, so a revocation makes the proxy forget
// what it cached and ask LeanCloud, the authority on its sessions.
func (h *Handler) admit(ctx context.Context, vi int, token string, id *verifiers.Identity) error {
	err := h.bans.admit(id)
	if err != errRevoked { // not errRevokedAhead: asking again cannot help
		return err
	}
	f, ok := h.verifiers[vi].(forgetter)
	if !ok {
		return err
	}
	f.Forget(token)
	fresh, verr := h.verifiers[vi].Verify(ctx, token)
	if verr != nil {
		return verr
	}
	*id = fresh
	return h.bans.admit(id)
}

// forgetter is implemented by verifiers whose tokens carry no issue time
// and whose backing service can be asked again (TapTap).
type forgetter interface {
	Forget(token string)
}

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// findToken returns the token of the first source present in the request.
func (h *Handler) findToken(r *http.Request) (string, extractResult) {
	for i := range h.sources {
		t, res := h.sources[i].extract(r)
		if res != tokenAbsent {
			return t, res
		}
	}
	return "", tokenAbsent
}

// removeTokens deletes every token the request carries in any configured
// source, not only the one that was verified: a second token the handler
// did not read would otherwise reach the upstream unverified.
func (h *Handler) removeTokens(r *http.Request) {
	for i := range h.sources {
		s := &h.sources[i]
		// A query parameter is removed in every spelling an upstream may
		// read as it (after ";", "access.token"), which extract does not
		// see; the others only when extract finds them, so that an
		// Authorization header of another scheme stays.
		if s.From == sourceQuery && r.URL.RawQuery != "" {
			s.remove(r)
		} else if _, res := s.extract(r); res != tokenAbsent {
			s.remove(r)
		}
	}
}

// verify offers the token to the verifiers in order: the first to accept
// it wins; a forbidden or unavailable answer ends the search. When every
// verifier finds the token invalid, the first one's answer is returned.
// The index is that of the verifier whose answer it is, or -1.
func (h *Handler) verify(ctx context.Context, token string) (verifiers.Identity, int, error) {
	var first error
	firstIdx := -1
	for i, v := range h.verifiers {
		id, err := v.Verify(ctx, token)
		if err == nil {
			return id, i, nil
		}
		if !errors.Is(err, verifiers.ErrInvalidToken) {
			return verifiers.Identity{}, i, err
		}
		if first == nil {
			first, firstIdx = err, i
		}
	}
	return verifiers.Identity{}, firstIdx, first
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
