package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// BenchmarkTwilioVerify verifies an npm-made token with a room grant and
// no region, the usual Programmable Video token.
func BenchmarkTwilioVerify(b *testing.B) {
	token := loadTwilioFixtures(b)["room_unicode"].Token
	v := newTwilioTest(b, twilioAt(0), 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTwilioVerifyRegion verifies an npm-made token with a room and a
// region.
func BenchmarkTwilioVerifyRegion(b *testing.B) {
	token := loadTwilioFixtures(b)["room_region"].Token
	v := newTwilioTest(b, twilioAt(0), 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTwilioVerifyRejectAlg measures the cost of refusing an HS512
// token, which never reaches the HMAC.
func BenchmarkTwilioVerifyRejectAlg(b *testing.B) {
	token := loadTwilioFixtures(b)["hs512"].Token
	v := newTwilioTest(b, twilioAt(0), 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkTwilioHMACFloor is the bare-crypto floor beside
// BenchmarkTwilioVerify: HMAC-SHA256 of the same signing input and a
// constant-time compare with the decoded signature.
func BenchmarkTwilioHMACFloor(b *testing.B) {
	token := loadTwilioFixtures(b)["room_unicode"].Token
	i := strings.LastIndexByte(token, '.')
	signingInput := []byte(token[:i])
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	key := []byte(twilioTestSecret1)
	var sum [sha256.Size]byte
	b.ReportAllocs()
	for b.Loop() {
		m := hmac.New(sha256.New, key)
		m.Write(signingInput)
		if !hmac.Equal(m.Sum(sum[:0]), sig) {
			b.Fatal("bad signature")
		}
	}
}

// TestTwilioVerifyAllocs bounds the allocations of a first-seen token, with
// or without a region in the header (about 65, see TestSeayooVerifyAllocs):
// a regression guard.
func TestTwilioVerifyAllocs(t *testing.T) {
	if seayooRaceEnabled() {
		t.Skip("allocation counts are not meaningful under -race")
	}
	fx := loadTwilioFixtures(t)
	v := newTwilioTest(t, twilioAt(0), 0)
	ctx := context.Background()
	for _, name := range []string{"room_unicode", "room_region", "escaped_identity", "no_room"} {
		token := fx[name].Token
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := v.Verify(ctx, token); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 75 {
			t.Errorf("%s: Verify makes %v allocations, want at most 75", name, allocs)
		}
	}
}
