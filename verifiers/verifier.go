// Package verifiers checks the login and RTC tokens that game clients carry:
// Seayoo Combo identity tokens, Twilio Access Tokens, ZEGOCLOUD Token04,
// TapTap/LeanCloud session tokens and Tencent CloudBase custom-login tickets.
//
// It is plain Go plus golang-jwt: it never imports Caddy or zap, so it can be
// used as a library by any Go server. Every Verifier is immutable after its
// constructor returns and is safe for concurrent use.
//
// The JWTs (Seayoo, Twilio, CloudBase) pass one strict gate (jwtgate.go),
// then golang-jwt into typed claims. ZEGO's binary layout is read by hand,
// its JSON by encoding/json behind the same strict JSON rule; TapTap asks
// LeanCloud.
//
// Errors are classified by three sentinels, usable with errors.Is:
//
//   - ErrInvalidToken: the token is missing, malformed, forged or expired (HTTP 401).
//   - ErrForbidden: the token is valid but does not grant what was asked (HTTP 403).
//   - ErrUnavailable: a backing service could not answer (HTTP 503), or
//     ErrBadGateway: it refused our own credentials (HTTP 502).
//
// Every error returned by a verifier is an *Error whose Reason is one of the
// fixed strings of reasons.go (Reasons lists them): it never contains the
// token, a secret or any other attacker-controlled text, so it is safe to
// log, to show to clients and to use as a metrics label. Configuration
// errors name the faulty field (internal/check.FieldError) and never quote
// a value.
package verifiers

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Every error a Verifier returns wraps exactly one of them.
var (
	// ErrInvalidToken means the token cannot be trusted: missing, malformed,
	// badly signed, expired, or issued for someone else.
	ErrInvalidToken = errors.New("invalid token")
	// ErrForbidden means the token is valid but lacks a privilege the
	// request needs (wrong room, stream not allowed, claim rule failed).
	ErrForbidden = errors.New("insufficient privilege")
	// ErrUnavailable means a backing service (LeanCloud) could not answer:
	// timeout, refused connection, 429, 5xx, or a malformed answer.
	ErrUnavailable = errors.New("verification service unavailable")
	// ErrBadGateway means a backing service refused our own credentials:
	// the server is misconfigured, not the client.
	ErrBadGateway = errors.New("verification service rejected our credentials")
)

// Error is the error type returned by every verifier.
type Error struct {
	// Kind is one of the sentinel errors above.
	Kind error
	// Reason is one of the Reason constants, such as ReasonTokenExpired.
	// It never contains attacker input or secrets.
	Reason string
	// RetryAfter is a hint for ErrUnavailable errors; zero means none.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Reason == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Reason
}

// Unwrap returns the sentinel kind, so errors.Is works.
func (e *Error) Unwrap() error { return e.Kind }

// Invalid returns an ErrInvalidToken error with the given fixed reason.
func Invalid(reason string) *Error { return &Error{Kind: ErrInvalidToken, Reason: reason} }

// Forbidden returns an ErrForbidden error with the given fixed reason.
func Forbidden(reason string) *Error { return &Error{Kind: ErrForbidden, Reason: reason} }

// Unavailable returns an ErrUnavailable error with the given fixed reason.
func Unavailable(reason string, retryAfter time.Duration) *Error {
	return &Error{Kind: ErrUnavailable, Reason: reason, RetryAfter: retryAfter}
}

// Reason returns the fixed reason of err if it is (or wraps) an *Error with
// one, otherwise the generic text of its kind, or ReasonInternal.
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Reason != "" {
			return e.Reason
		}
		return e.Kind.Error()
	}
	for _, s := range []error{ErrInvalidToken, ErrForbidden, ErrUnavailable, ErrBadGateway} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return ReasonInternal
}

// Claim is one attribute of a verified identity. Name is snake_case.
type Claim struct {
	Name  string
	Value string
}

// Identity is who a verified token speaks for.
type Identity struct {
	// Provider names the verifier: "seayoo", "twilio", "zego", "taptap", "cloudbase", "trtc" or "agora".
	Provider string
	// Subject is the stable user id. It is never empty when Verify returns a nil error.
	Subject string
	// Claims are the other attributes of the token, in a stable order, with
	// snake_case names. Empty values are omitted.
	Claims []Claim
	// Expires is when the token stops being valid; zero if unknown.
	Expires time.Time
	// IssuedAt is when the token was issued, as the token itself says it,
	// to the precision it says it (Seayoo and Twilio: iat, seconds;
	// CloudBase: iat, milliseconds; ZEGO: ctime, seconds). It is the zero
	// time if the token does not say (Twilio's iat is optional, and so is
	// Seayoo's); a token that says 0 gives the Unix epoch, not the zero
	// time. It is the issuer's claim, checked only as far as each
	// verifier's rules go: no verifier refuses a token for an iat in the
	// past.
	//
	// TapTap session tokens carry no issue time: there it is the time at
	// which the LeanCloud call that confirmed the session was sent (see
	// TapTap), which a cache hit does not move.
	//
	// Revocations (package bans) compare it with their time: a token with
	// a zero IssuedAt is older than any revocation.
	IssuedAt time.Time
}

// Claim returns the value of the named claim and whether it is present.
func (id *Identity) Claim(name string) (string, bool) {
	for i := range id.Claims {
		if id.Claims[i].Name == name {
			return id.Claims[i].Value, true
		}
	}
	return "", false
}

// Verifier checks a token and says whom it speaks for.
//
// Implementations are immutable after construction, safe for concurrent
// use, and never panic, whatever the input. A nil error means the returned
// Identity has a non-empty Subject.
type Verifier interface {
	Verify(ctx context.Context, token string) (Identity, error)
}

// MaxTokenLength bounds every token before any parsing: longer inputs are
// rejected with ErrInvalidToken without being decoded. Real tokens of every
// supported kind are well under 4 KiB.
const MaxTokenLength = 8 << 10

// Clock returns the current time. Verifiers take one so tests can fix time.
type Clock func() time.Time

func clockOrNow(c Clock) Clock {
	if c == nil {
		return time.Now
	}
	return c
}
