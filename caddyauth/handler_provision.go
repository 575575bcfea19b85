package caddyauth

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/caddyserver/caddy/v2"

	"github.com/gameauth/caddy-gameauth/internal/check"
)

// Provision loads the verifiers and precomputes header names and the
// requirement engine. It makes no network calls.
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
	var err error
	if h.bans, err = bansOf(ctx); err != nil {
		return err
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
	require := make([]rule, 0, len(h.Require))
	for i := range h.Require {
		ru, err := h.Require[i].compile()
		if err != nil {
			return err
		}
		require = append(require, ru)
	}
	h.rules = newRequirements(h.verifiers, require)
	h.stripToken = h.ForwardToken != nil && !*h.ForwardToken
	if h.Minors != nil {
		if err := h.Minors.provision(h.logger); err != nil {
			return err
		}
	}
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
	h.hdrBand = ""
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
	if h.Minors != nil && (h.claimSet == nil || slices.Contains(h.claimSet, ageBandClaim)) {
		h.hdrBand = h.names.add(ageBandClaim)
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
	if err := h.validateOptional(); err != nil {
		return err
	}
	if err := h.validateCounts(); err != nil {
		return err
	}
	for i, c := range h.ClaimHeaders {
		if c != "id" && c != "provider" && c != "all" && (reservedClaim(c) || !check.ClaimName(c)) {
			return fmt.Errorf("gameauth: claim_headers: %q is not all, id, provider or a claim name (lower case, digits and _)", c)
		}
		if slices.Contains(h.ClaimHeaders[:i], c) {
			return fmt.Errorf("gameauth: claim_headers: %q is named twice", c)
		}
		if c == ageBandClaim && h.Minors == nil {
			return errNoMinors
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

// Bounds of the handler's lists and strings: no legitimate config comes
// near them, and each is work or header bytes on every request.
const (
	maxClaimHeaders = 64  // claim_headers names
	maxHeaderLines  = 32  // header lines
	maxSources      = 16  // from_* lines
	maxRequire      = 64  // require lines
	maxPrefixLen    = 64  // header_prefix bytes
	maxRealmLen     = 256 // realm bytes
)

// validateCounts refuses lists and strings beyond their bounds, naming the
// Caddyfile option.
func (h *Handler) validateCounts() error {
	for _, c := range []struct {
		option string
		n, max int
		unit   string
	}{
		{"claim_headers", len(h.ClaimHeaders), maxClaimHeaders, "names"},
		{"header", len(h.Headers), maxHeaderLines, "lines"},
		{"from_*", len(h.Sources), maxSources, "token sources"},
		{"require", len(h.Require), maxRequire, "lines"},
		{"header_prefix", len(h.HeaderPrefix), maxPrefixLen, "bytes"},
		{"realm", len(h.Realm), maxRealmLen, "bytes"},
	} {
		if c.n > c.max {
			return fmt.Errorf("gameauth: %s: at most %d %s, got %d", c.option, c.max, c.unit, c.n)
		}
	}
	return nil
}

// validateOptional refuses optional with any requirement: a request
// without a token skips the requirement engine, so it would pass the
// requirement unchecked.
func (h *Handler) validateOptional() error {
	if !h.Optional {
		return nil
	}
	if len(h.Require) > 0 {
		return fmt.Errorf("gameauth: optional cannot be combined with require: a request without a token would pass the requirement unchecked")
	}
	for i, v := range h.verifiers {
		if rq, ok := v.(requirer); ok && len(rq.rules()) > 0 {
			return fmt.Errorf("gameauth: optional cannot be combined with the %s requirement of %s: a request without a token would pass it unchecked",
				orList(rq.requirementOptions()), h.providers[i])
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
