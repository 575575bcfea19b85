package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// seayooBenchSetup returns the re-signed documentation example (a token as
// Seayoo's servers mint it: 13 claims, 423 bytes) and its configuration.
func seayooBenchSetup(b testing.TB) (string, SeayooConfig) {
	vec := seayooVectorNamed(b, "documentation example, re-signed")
	return vec.Token, SeayooConfig{
		Secrets: []string{vec.Secret},
		GameID:  vec.GameID,
		Issuer:  vec.Issuer,
		Clock:   func() time.Time { return seayooTestNow },
	}
}

// BenchmarkSeayooVerify measures Seayoo.Verify on a good token.
func BenchmarkSeayooVerify(b *testing.B) {
	token, cfg := seayooBenchSetup(b)
	v := seayooMustNew(b, cfg)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeayooVerifyParallel measures Seayoo.Verify from all Ps at once
// (the pooled HMAC states and buffers must not serialise).
func BenchmarkSeayooVerifyParallel(b *testing.B) {
	token, cfg := seayooBenchSetup(b)
	v := seayooMustNew(b, cfg)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := v.Verify(ctx, token); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSeayooVerifyForged measures the refusal of a forged token (the
// signature of another secret): the cost an attacker can impose.
func BenchmarkSeayooVerifyForged(b *testing.B) {
	token, cfg := seayooBenchSetup(b)
	cfg.Secrets = []string{"sk_other_secret"}
	v := seayooMustNew(b, cfg)
	ctx := context.Background()
	if _, err := v.Verify(ctx, token); Reason(err) != "bad signature" {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err == nil {
			b.Fatal("forged token accepted")
		}
	}
}

// BenchmarkSeayooGolangJWTParse is the reference: golang-jwt parsing the same
// token into MapClaims with the parser options the official SDK uses.
func BenchmarkSeayooGolangJWTParse(b *testing.B) {
	token, cfg := seayooBenchSetup(b)
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.GameID),
		jwt.WithLeeway(0),
		jwt.WithTimeFunc(cfg.Clock),
	)
	key := []byte(cfg.Secrets[0])
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(token, keyFunc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHMACSHA256Floor is the bare cryptography of a verification: the
// HMAC-SHA-256 of the token's header.payload with a reused keyed state, the
// decoding of its signature and a constant-time comparison.
func BenchmarkHMACSHA256Floor(b *testing.B) {
	token, cfg := seayooBenchSetup(b)
	dot := strings.LastIndexByte(token, '.')
	input, sigText := []byte(token[:dot]), []byte(token[dot+1:])
	mac := hmac.New(sha256.New, []byte(cfg.Secrets[0]))
	var sig, sum [sha256.Size]byte
	b.ReportAllocs()
	for b.Loop() {
		mac.Reset()
		mac.Write(input)
		if _, err := base64.RawURLEncoding.Decode(sig[:], sigText); err != nil {
			b.Fatal(err)
		}
		if !hmac.Equal(mac.Sum(sum[:0]), sig[:]) {
			b.Fatal("bad signature")
		}
	}
}

// seayooRaceEnabled reports whether the test binary was built with -race
// (which makes sync.Pool drop items at random).
func seayooRaceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// TestSeayooVerifyAllocs bounds the allocations of a first-seen token
// (about 70: the gate's decoded segments, golang-jwt's header map and
// typed claims, its HMAC): a regression guard, not a budget to spend. A
// token seen again is answered by Cached without allocating.
func TestSeayooVerifyAllocs(t *testing.T) {
	if seayooRaceEnabled() {
		t.Skip("allocation counts are not meaningful under -race")
	}
	token, cfg := seayooBenchSetup(t)
	v := seayooMustNew(t, cfg)
	ctx := context.Background()
	if _, err := v.Verify(ctx, token); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := v.Verify(ctx, token); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 80 {
		t.Errorf("Verify makes %v allocations, want at most 80", allocs)
	}
}

// BenchmarkSeayooGate is the strict gate alone (jwtgate.go) on the token of
// BenchmarkSeayooVerify: its share of a first-seen token.
func BenchmarkSeayooGate(b *testing.B) {
	token, cfg := seayooBenchSetup(b)
	v := seayooMustNew(b, cfg)
	b.ReportAllocs()
	for b.Loop() {
		var extras seayooExtras
		if _, e := v.gate.check(token, 32, extras.add); e != nil {
			b.Fatal(e)
		}
	}
}
