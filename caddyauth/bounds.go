package caddyauth

import (
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Bounds of the options of the verifier and issuer modules. Each is checked
// at provision (so `caddy validate` refuses a config that exceeds it), with
// an error that names the option as the Caddyfile and the JSON config spell
// it and says why. The libraries check bounds of their own too; these come
// first so that an operator never reads a Go field name.
const (
	// maxLeeway bounds the clock skew of every verifier.
	maxLeeway = 5 * time.Minute
	// maxIssuedTTL bounds the lifetime of issued ZEGO and Twilio tokens
	// (Twilio refuses more than 24h).
	maxIssuedTTL = 24 * time.Hour
	// minIssuedTTL is the shortest lifetime of an issued token: they are
	// counted in whole seconds.
	minIssuedTTL = time.Second
	// maxTokenCacheSize bounds cache_size of the signed-token verifiers and
	// of TapTap: an entry takes about 1 KiB.
	maxTokenCacheSize = 1_000_000
	// maxKeys bounds the secrets or keys of one verifier: a rotation needs
	// two or three, and a forged token may be tried against each.
	maxKeys = 8

	// whyLeeway and the other why* texts end the bound errors.
	whyLeeway    = "a larger clock skew accepts expired tokens"
	whyIssuedTTL = "an issued token cannot be revoked before it expires"
	whyCacheSize = "each entry takes about 1 KiB of memory"
	whyKeys      = "key rotation needs two or three"
	whyTriedKeys = whyKeys + ", and a forged token is tried against each"
	whyWholeSecs = "issued tokens count their lifetime in whole seconds"
)

// fmtDuration writes d as an operator would: 5m, 87600h, 1h30m, 500ms.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// checkDuration refuses a negative value of the duration option name of
// module, and one above max, saying why.
func checkDuration(module, name string, d caddy.Duration, max time.Duration, why string) error {
	switch {
	case d < 0:
		return fmt.Errorf("%s: %s must not be negative, got %s", module, name, fmtDuration(td(d)))
	case td(d) > max:
		return fmt.Errorf("%s: %s %s exceeds the maximum of %s: %s", module, name, fmtDuration(td(d)), fmtDuration(max), why)
	}
	return nil
}

// checkDurationMin refuses a value of the duration option name that is set
// (not zero) but below min, saying why.
func checkDurationMin(module, name string, d caddy.Duration, min time.Duration, why string) error {
	if d != 0 && td(d) < min {
		return fmt.Errorf("%s: %s %s is below the minimum of %s: %s", module, name, fmtDuration(td(d)), fmtDuration(min), why)
	}
	return nil
}

// checkNotAbove refuses a duration option a set above another one, b (or
// b's default when b is not set), naming both.
func checkNotAbove(module, a string, da caddy.Duration, b string, db caddy.Duration, why string) error {
	if da > db {
		return fmt.Errorf("%s: %s %s exceeds %s %s: %s", module, a, fmtDuration(td(da)), b, fmtDuration(td(db)), why)
	}
	return nil
}

// checkCount refuses a negative count option and one above max; zero means
// the default.
func checkCount(module, name string, n, max int, unit, why string) error {
	switch {
	case n < 0:
		return fmt.Errorf("%s: %s must be a positive number of %s", module, name, unit)
	case n > max:
		return fmt.Errorf("%s: %s %d exceeds the maximum of %d %s: %s", module, name, n, max, unit, why)
	}
	return nil
}

// issuerTTLs checks the ttl and max_ttl options of the issuer module mod
// and returns the lifetimes to issue with: max_ttl defaults to 24h, ttl to
// 1h or max_ttl if shorter; both at least 1s, at most 24h, ttl at most
// max_ttl.
func issuerTTLs(mod string, ttl, maxTTL caddy.Duration) (time.Duration, time.Duration, error) {
	for _, err := range []error{
		checkDuration(mod, "ttl", ttl, maxIssuedTTL, whyIssuedTTL),
		checkDuration(mod, "max_ttl", maxTTL, maxIssuedTTL, whyIssuedTTL),
		checkDurationMin(mod, "ttl", ttl, minIssuedTTL, whyWholeSecs),
		checkDurationMin(mod, "max_ttl", maxTTL, minIssuedTTL, whyWholeSecs),
	} {
		if err != nil {
			return 0, 0, err
		}
	}
	if maxTTL == 0 {
		maxTTL = caddy.Duration(maxIssuedTTL)
	}
	if ttl == 0 {
		ttl = min(caddy.Duration(time.Hour), maxTTL)
	}
	if err := checkNotAbove(mod, "ttl", ttl, "max_ttl", maxTTL, "max_ttl caps ttl"); err != nil {
		return 0, 0, err
	}
	return td(ttl), td(maxTTL), nil
}
