package verifiers

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/strictjson"
	"github.com/golang-jwt/jwt/v5"
)

// This file holds what the JWT verifiers share after the gate: the parser
// options, the time claim types of their typed claims, and the mapping of
// golang-jwt's errors to reasons.

// jwtParser returns the golang-jwt parser of a verifier: the one algorithm,
// exp required, the leeway and clock, and the options given.
func jwtParser(alg string, leeway time.Duration, clock Clock, opts ...jwt.ParserOption) *jwt.Parser {
	return jwt.NewParser(append([]jwt.ParserOption{
		jwt.WithValidMethods([]string{alg}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(clock),
		jwt.WithStrictDecoding(),
	}, opts...)...)
}

// jwtRefusal maps a golang-jwt error to an *Error. golang-jwt decodes the
// claims, runs the key function, checks the signature and then validates,
// stopping at the first stage that fails; only validation reports several
// errors at once, which are taken in this order: missing exp, expired, not
// yet valid (nbf or iat), issuer, audience (aud or sub), then the vendor's
// Validate. c is the claims the parser filled, to tell which required claim
// is missing.
func jwtRefusal(err error, c jwt.Claims) *Error {
	missing := errors.Is(err, jwt.ErrTokenRequiredClaimMissing)
	var e *Error
	switch {
	case missing && absentDate(c.GetExpirationTime()):
		return Invalid(ReasonMissingExp)
	case errors.Is(err, jwt.ErrTokenExpired):
		return Invalid(ReasonTokenExpired)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return Invalid(ReasonNotYetValid)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), missing && absentString(c.GetIssuer()):
		return Invalid(ReasonWrongIssuer)
	case errors.Is(err, jwt.ErrTokenInvalidAudience), errors.Is(err, jwt.ErrTokenInvalidSubject), missing:
		return Invalid(ReasonWrongAudience)
	case errors.As(err, &e): // a time claim, the key function or Validate
		return e
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return Invalid(ReasonBadSignature)
	}
	return Invalid(ReasonMalformedToken)
}

func absentDate(d *jwt.NumericDate, err error) bool { return d == nil || err != nil }
func absentString(s string, err error) bool         { return s == "" || err != nil }

// maxUnix bounds time claims in seconds: 9999-12-31T23:59:59Z.
const maxUnix = 253402300799

// unixTime is a time claim in seconds, as encoding/json reads it: absent
// (or null), or a number from 0 to maxUnix. Any other value fails the
// decoding with "bad time claim" (golang-jwt decodes before it checks the
// signature).
type unixTime struct {
	sec int64
	set bool
}

// parse reads b, the JSON text of the claim; frac allows a number with a
// fraction or an exponent, truncated to the second.
func (t *unixTime) parse(b []byte, frac bool) error {
	*t = unixTime{}
	s := string(b)
	if s == "null" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && frac {
		// A fraction, an exponent or an integer beyond int64, read as a
		// float64 (so 253402300799.9999999 rounds up out of range).
		// Strings and literals fail here: the JSON text is valid.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr == nil && f >= 0 && f <= maxUnix {
			n, err = int64(f), nil
		}
	}
	if err != nil || n < 0 || n > maxUnix {
		return Invalid(ReasonBadTimeClaim)
	}
	*t = unixTime{sec: n, set: true}
	return nil
}

// date is the claim for golang-jwt, nil when absent.
func (t unixTime) date() *jwt.NumericDate {
	if !t.set {
		return nil
	}
	return &jwt.NumericDate{Time: time.Unix(t.sec, 0)}
}

// time is the claim as a time, the zero time when absent.
func (t unixTime) time() time.Time {
	if !t.set {
		return time.Time{}
	}
	return time.Unix(t.sec, 0)
}

// wholeSeconds is a unixTime that must be an integer.
type wholeSeconds struct{ unixTime }

func (t *wholeSeconds) UnmarshalJSON(b []byte) error { return t.parse(b, false) }

// numericDate is a unixTime read as RFC 7519's NumericDate: any JSON
// number, truncated to the second.
type numericDate struct{ unixTime }

func (t *numericDate) UnmarshalJSON(b []byte) error { return t.parse(b, true) }

// claimNames returns the set of the member names encoding/json reads into
// a claims struct: the json tags of its fields and of the fields of its
// nested structs that have no decoder of their own.
func claimNames(t reflect.Type) *strictjson.Names {
	var names []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			names = append(names, name)
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(reflect.TypeFor[interface{ UnmarshalJSON([]byte) error }]()) {
				walk(ft)
			}
		}
	}
	walk(t)
	return strictjson.NewNames(names...)
}
