package verifiers_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// BenchmarkCloudBaseVerify verifies an SDK-made ticket (RSA-2048).
func BenchmarkCloudBaseVerify(b *testing.B) {
	fx := cbLoadFixture(b)
	v := cbFixtureVerifier(b, fx, time.UnixMilli(fx.NowMs))
	ticket := fx.Tickets[0].Ticket
	ctx := context.Background()
	if _, err := v.Verify(ctx, ticket); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, ticket); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRSAVerifyFloor is the bare cryptography of
// BenchmarkCloudBaseVerify: SHA-256 of the same signing input and an
// RSA-2048 PKCS#1 v1.5 verification of the same signature.
func BenchmarkRSAVerifyFloor(b *testing.B) {
	fx := cbLoadFixture(b)
	_, jwtPart, _ := strings.Cut(fx.Tickets[0].Ticket, "/@@/")
	dot := strings.LastIndexByte(jwtPart, '.')
	input := []byte(jwtPart[:dot])
	sig, err := base64.RawURLEncoding.DecodeString(jwtPart[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	key, _, err := verifiers.ParseCloudBaseKey([]byte(fx.PublicKey), fx.KeyID)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d := sha256.Sum256(input)
		if err := rsa.VerifyPKCS1v15(key.PublicKey, crypto.SHA256, d[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}
