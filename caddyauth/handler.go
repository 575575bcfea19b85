// Package caddyauth is the Caddy side of caddy-gameauth: the http.handlers.gameauth
// middleware that verifies game tokens on proxied requests, the
// http.handlers.gameauth_issuer handler that mints RTC tokens for the verified
// player, their guest modules, Caddyfile directives and the gameauth-token
// command. It is the only package of this module that imports Caddy or zap.
package caddyauth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

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
// http.gameauth.verifiers namespace.
type TokenVerifier interface {
	// VerifyRequest verifies the token and then the route's requirements,
	// which may use the request's placeholders through repl. Errors wrap
	// the sentinels of package verifiers.
	VerifyRequest(r *http.Request, repl *caddy.Replacer, token string) (verifiers.Identity, error)
}

// maxClaimHeaders bounds the names of claim_headers.
const maxClaimHeaders = 64

// routeRequirer is implemented by verifiers that can hold route
// requirements of their own (a ZEGO room, a Twilio room).
type routeRequirer interface {
	hasRouteRequirements() bool
}

// identityPlaceholder reports whether a placeholder name is the verified
// identity or an environment variable: the only values a header line or an
// issuer's user template may use.
func identityPlaceholder(name string) bool {
	return strings.HasPrefix(name, userPlaceholderPrefix) && len(name) > len(userPlaceholderPrefix) ||
		strings.HasPrefix(name, "env.") && len(name) > len("env.")
}

// defaultSourcer is implemented by verifiers whose tokens travel in a place
// of their own by default (TapTap: X-LC-Session).
type defaultSourcer interface {
	defaultSources() []TokenSource
}

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

	verifiers   []TokenVerifier
	providers   []string // module names of verifiers, for metrics and logs
	provMetrics []providerMetrics
	sources     []TokenSource
	stripper    headerStripper
	names       *claimNames
	hdrProv     string           // X-Auth-Provider in the configured prefix
	hdrUser     string           // X-Auth-User-Id in the configured prefix
	claimSet    []string         // the claims of claim_headers; nil: every claim (all)
	headers     []HeaderTemplate // canonical names
	stripToken  bool
	metrics     *metrics
	logger      *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.gameauth",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision loads the verifiers and precomputes header names. It makes no
// network calls.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.HeaderPrefix == "" {
		h.HeaderPrefix = DefaultHeaderPrefix
	}
	mods, err := ctx.LoadModule(h, "VerifiersRaw")
	if err != nil {
		return fmt.Errorf("loading gameauth verifiers: %w", err)
	}
	for _, m := range mods.([]any) {
		v, ok := m.(TokenVerifier)
		if !ok {
			return fmt.Errorf("module %T is not a gameauth verifier", m)
		}
		h.verifiers = append(h.verifiers, v)
		h.providers = append(h.providers, m.(caddy.Module).CaddyModule().ID.Name())
	}

	return h.provisionCommon(ctx)
}

// provisionCommon does what Provision does once the verifiers are loaded.
func (h *Handler) provisionCommon(ctx caddy.Context) error {
	if h.logger == nil {
		h.logger = ctx.Logger()
	}
	if h.HeaderPrefix == "" {
		h.HeaderPrefix = DefaultHeaderPrefix
	}
	h.sources = h.sources[:0]
	if len(h.Sources) > 0 {
		h.sources = append(h.sources, h.Sources...)
	} else {
		h.sources = append(h.sources, TokenSource{From: sourceBearer})
		for _, v := range h.verifiers {
			if ds, ok := v.(defaultSourcer); ok {
				h.sources = appendSourcesUnique(h.sources, ds.defaultSources()...)
			}
		}
	}
	for i := range h.sources {
		if err := h.sources[i].normalize(); err != nil {
			return err
		}
	}
	for i := range h.Require {
		if err := h.Require[i].provision(); err != nil {
			return err
		}
	}
	h.stripToken = h.ForwardToken != nil && !*h.ForwardToken
	h.metrics = newHandlerMetrics(ctx)
	h.provMetrics = h.provMetrics[:0]
	for _, p := range h.providers {
		h.provMetrics = append(h.provMetrics, h.metrics.forProvider(p))
	}

	h.stripper = headerStripper{prefix: normalizeHeaderName(h.HeaderPrefix)}
	h.headers = h.headers[:0]
	for _, t := range h.Headers {
		if t.Name == "" {
			return fmt.Errorf("header: a name is required")
		}
		h.stripper.names = append(h.stripper.names, normalizeHeaderName(t.Name))
		h.headers = append(h.headers, HeaderTemplate{Name: http.CanonicalHeaderKey(t.Name), Value: t.Value})
	}
	h.names = newClaimNames(h.HeaderPrefix)
	h.hdrProv = http.CanonicalHeaderKey(h.HeaderPrefix + "Provider")
	h.hdrUser = http.CanonicalHeaderKey(h.HeaderPrefix + "User-Id")
	h.claimSet = []string{}
	for _, c := range h.ClaimHeaders {
		switch c {
		case "all":
			h.claimSet = nil
		case "id", "provider":
		default:
			if h.claimSet != nil {
				h.claimSet = append(h.claimSet, c)
			}
		}
	}
	return nil
}

func appendSourcesUnique(list []TokenSource, more ...TokenSource) []TokenSource {
outer:
	for _, s := range more {
		for _, have := range list {
			if have == s {
				continue outer
			}
		}
		list = append(list, s)
	}
	return list
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if len(h.verifiers) == 0 {
		return fmt.Errorf("gameauth: at least one verifier is required")
	}
	if !validHeaderName(h.HeaderPrefix) {
		return fmt.Errorf("gameauth: header_prefix %q is not a valid header name prefix", h.HeaderPrefix)
	}
	if normalizeHeaderName(h.HeaderPrefix) == "" || len(h.HeaderPrefix) < 3 {
		return fmt.Errorf("gameauth: header_prefix %q is too short", h.HeaderPrefix)
	}
	for _, t := range h.headers {
		if !validHeaderName(t.Name) {
			return fmt.Errorf("gameauth: header %q is not a valid header name", t.Name)
		}
		if isHopOrReserved(t.Name) {
			return fmt.Errorf("gameauth: header %q may not be set by gameauth", t.Name)
		}
	}
	for _, t := range h.headers {
		for _, name := range placeholderNames(t.Value) {
			if !identityPlaceholder(name) {
				return fmt.Errorf("gameauth: header %s: the value may only use {http.auth.user.*} and {env.*} placeholders, not {%s}: "+
					"the header is stripped from requests as an identity header, and a value from the request would let a client choose it", t.Name, name)
			}
		}
	}
	if h.Optional {
		if len(h.Require) > 0 {
			return fmt.Errorf("gameauth: optional cannot be combined with require: a request without a token would pass the requirement unchecked")
		}
		for i, v := range h.verifiers {
			if rr, ok := v.(routeRequirer); ok && rr.hasRouteRequirements() {
				return fmt.Errorf("gameauth: optional cannot be combined with the room, stream or publish requirement of %s: a request without a token would pass it unchecked", h.providers[i])
			}
		}
	}
	if len(h.ClaimHeaders) > maxClaimHeaders {
		return fmt.Errorf("gameauth: claim_headers: at most %d names", maxClaimHeaders)
	}
	for i, c := range h.ClaimHeaders {
		if c != "id" && c != "provider" && c != "all" && (reservedClaim(c) || !validClaimName(c)) {
			return fmt.Errorf("gameauth: claim_headers: %q is not all, id, provider or a claim name (lower case, digits and _)", c)
		}
		if slices.Contains(h.ClaimHeaders[:i], c) {
			return fmt.Errorf("gameauth: claim_headers: %q is named twice", c)
		}
	}
	for _, s := range h.sources {
		if s.From != sourceBearer && s.From != sourceHeader {
			continue
		}
		if h.stripper.matches(s.Name) {
			return fmt.Errorf("gameauth: token source %s is an identity header (it starts with header_prefix %q or is set by a header line) and would be stripped before it is read", s, h.HeaderPrefix)
		}
	}
	return nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func isHopOrReserved(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Connection", "Content-Length", "Transfer-Encoding", "Upgrade", "Te", "Trailer", "Authorization", "Cookie":
		return true
	}
	return false
}

// errMissingToken is the error of a request that carries no token at all.
var errMissingToken = &verifiers.Error{Kind: verifiers.ErrInvalidToken, Reason: "missing token"}

// ServeHTTP strips identity headers, verifies the token and, on success
// only, sets the identity headers and placeholders and calls next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	// Rule 1: strip first, unconditionally, on every path: identity
	// headers, Connection tokens naming them, identity trailers, and any
	// identity an earlier gameauth handler on this route set.
	h.stripper.strip(r.Header)
	h.stripper.stripConnection(r.Header)
	h.stripper.guardTrailers(r)

	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	clearIdentity(repl)

	if h.SkipPreflight && isPreflight(r) {
		return next.ServeHTTP(w, r)
	}

	token, _, res := h.findToken(r)
	switch res {
	case tokenAbsent:
		if h.Optional {
			return next.ServeHTTP(w, r)
		}
		return h.refuse(w, r, repl, errMissingToken, "", "")
	case tokenMalformed:
		return h.refuse(w, r, repl, verifiers.Invalid("malformed token"), "", "")
	}
	if len(token) > verifiers.MaxTokenLength {
		return h.refuse(w, r, repl, verifiers.Invalid("token too long"), "", "")
	}

	start := time.Now()
	id, vi, err := h.verify(r, repl, token)
	if err == nil && (id.Subject == "" || !validHeaderValue(id.Subject) || !validHeaderValue(id.Provider)) {
		err = verifiers.Invalid("unusable subject")
	}
	if err == nil {
		for i := range h.Require {
			if err = h.Require[i].check(r, &id, repl); err != nil {
				break
			}
		}
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
	h.inject(r, repl, &id)
	return next.ServeHTTP(w, r)
}

// removeTokens deletes every token the request carries in any configured
// source, not only the one that was verified: a second token the handler
// did not read would otherwise reach the upstream unverified.
func (h *Handler) removeTokens(r *http.Request) {
	for i := range h.sources {
		if _, res := h.sources[i].extract(r); res != tokenAbsent {
			h.sources[i].remove(r)
		}
	}
}

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// findToken returns the token of the first source present in the request.
func (h *Handler) findToken(r *http.Request) (string, *TokenSource, extractResult) {
	for i := range h.sources {
		t, res := h.sources[i].extract(r)
		if res != tokenAbsent {
			return t, &h.sources[i], res
		}
	}
	return "", nil, tokenAbsent
}

// verify runs the verifiers in order: the first to accept the token wins;
// a forbidden or unavailable answer ends the search.
func (h *Handler) verify(r *http.Request, repl *caddy.Replacer, token string) (verifiers.Identity, int, error) {
	var first error
	firstIdx := -1
	for i, v := range h.verifiers {
		id, err := v.VerifyRequest(r, repl, token)
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

// reservedClaim reports claim names that would collide with the subject or
// provider headers and placeholders.
func reservedClaim(name string) bool {
	return name == "id" || name == "provider" || name == "user_id"
}

// inject sets the verified identity headers and placeholders.
func (h *Handler) inject(r *http.Request, repl *caddy.Replacer, id *verifiers.Identity) {
	// One backing array for every header value: a single allocation.
	vals := make([]string, 2, 2+len(id.Claims))
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
	setIdentity(repl, id)
	for _, t := range h.headers {
		v := repl.ReplaceAll(t.Value, "")
		if v != "" && validHeaderValue(v) {
			r.Header[t.Name] = []string{v}
		}
	}
}

// usableClaim reports whether a claim becomes a header and a placeholder.
func usableClaim(c verifiers.Claim) bool {
	return c.Value != "" && !reservedClaim(c.Name) && validClaimName(c.Name) && validHeaderValue(c.Value)
}

// refuse answers a request that may not pass: the reason goes in the
// {http.auth.gameauth.error} placeholder, the status and challenge follow
// the error's kind, and the error is returned for handle_errors.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, repl *caddy.Replacer, err error, token, provider string) error {
	reason := verifiers.Reason(err)
	repl.Set(ErrorPlaceholder, reason)
	h.metrics.refused(provider, err)
	status := statusOf(err)
	switch status {
	case http.StatusUnauthorized:
		if err == errMissingToken {
			w.Header().Set("WWW-Authenticate", h.challenge("", ""))
		} else {
			w.Header().Set("WWW-Authenticate", h.challenge("invalid_token", reason))
		}
		if ce := h.logger.Check(zapcore.DebugLevel, "token rejected"); ce != nil {
			ce.Write(zap.String("reason", reason), tokenField(token), zap.String("path", r.URL.Path))
		}
	case http.StatusForbidden:
		w.Header().Set("WWW-Authenticate", h.challenge("insufficient_scope", reason))
		if ce := h.logger.Check(zapcore.DebugLevel, "token lacks privilege"); ce != nil {
			ce.Write(zap.String("reason", reason), tokenField(token), zap.String("path", r.URL.Path))
		}
	default:
		var ve *verifiers.Error
		if errors.As(err, &ve) && ve.RetryAfter > 0 {
			secs := int((ve.RetryAfter + 999_999_999) / 1_000_000_000)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		} else if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		h.logger.Warn("token verification unavailable", zap.String("provider", provider), zap.String("reason", reason), zap.Int("status", status))
	}
	return caddyhttp.Error(status, err)
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, verifiers.ErrInvalidToken):
		return http.StatusUnauthorized
	case errors.Is(err, verifiers.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, verifiers.ErrBadGateway):
		return http.StatusBadGateway
	case errors.Is(err, verifiers.ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// challenge builds an RFC 6750 §3 WWW-Authenticate value. reason comes
// from the fixed set of verifier reasons, which hold no quote or backslash.
func (h *Handler) challenge(code, reason string) string {
	v := "Bearer"
	sep := " "
	if h.Realm != "" {
		v += sep + `realm="` + quoteSafe(h.Realm) + `"`
		sep = ", "
	}
	if code != "" {
		v += sep + `error="` + code + `"`
		sep = ", "
		if reason != "" {
			v += sep + `error_description="` + quoteSafe(reason) + `"`
		}
	}
	return v
}

// quoteSafe keeps only the characters RFC 6750 allows in a quoted
// error_description (%x20-21 / %x23-5B / %x5D-7E).
func quoteSafe(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b = append(b, c)
		}
	}
	return string(b)
}

// tokenField logs a short hash of the token for correlation, never the token.
func tokenField(token string) zap.Field {
	if token == "" {
		return zap.Skip()
	}
	sum := sha256.Sum256([]byte(token))
	return zap.String("token_sha256", hex.EncodeToString(sum[:6]))
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
