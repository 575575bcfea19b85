package caddyauth

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gameauth/caddy-gameauth/internal/tokenhash"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// errMissingToken is the error of a request that carries no token at all.
var errMissingToken = &verifiers.Error{Kind: verifiers.ErrInvalidToken, Reason: verifiers.ReasonMissingToken}

// refuse answers a request that may not pass: the error's description
// (describe) goes in the {http.auth.gameauth.error} placeholder and the
// challenge, its fixed reason in the metrics, the status and challenge
// follow the error's kind, and the error is returned for handle_errors.
// The request is not passed on.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, repl *caddy.Replacer, err error, token, provider string) error {
	reason := describe(err)
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
		setRetryAfter(w, err)
		if ce := h.logger.Check(zapcore.DebugLevel, "token lacks privilege"); ce != nil {
			ce.Write(zap.String("reason", reason), tokenField(token), zap.String("path", r.URL.Path))
		}
	default:
		if !setRetryAfter(w, err) && status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		h.logger.Warn("token verification unavailable", zap.String("provider", provider), zap.String("reason", reason), zap.Int("status", status))
	}
	return caddyhttp.Error(status, err)
}

// setRetryAfter sets Retry-After from the error's RetryAfter, in whole
// seconds rounded up, and reports whether it did.
func setRetryAfter(w http.ResponseWriter, err error) bool {
	var ve *verifiers.Error
	if !errors.As(err, &ve) || ve.RetryAfter <= 0 {
		return false
	}
	secs := int64((ve.RetryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	return true
}

// describe is what a refusal says to the client and to handle_errors: its
// reason (one of verifiers.Reasons), or for a require line the reason and
// the rule ("claim rule failed: age >= 18").
func describe(err error) string {
	var rr *ruleRefusal
	if errors.As(err, &rr) {
		return rr.desc
	}
	return verifiers.Reason(err)
}

// statusOf maps an error of the verifiers or the engine to its status.
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
// from describe: a fixed reason, or a rule's description already made
// quote-safe.
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
	return zap.String("token_sha256", tokenhash.Short(token))
}
