package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// BenchmarkAgoraVerify verifies a publisher token with an account, signed
// with the second configured certificate (the first is tried and fails).
func BenchmarkAgoraVerify(b *testing.B) {
	token := agoraBuild(agoraBase())
	v := agoraTestVerifier(b, agoraTestNow)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAgoraVerifyOneCert verifies the same token with one certificate.
func BenchmarkAgoraVerifyOneCert(b *testing.B) {
	token := agoraBuild(agoraBase())
	v, err := NewAgora(AgoraConfig{AppID: agoraTestApp, Certificates: []string{agoraTestCert}, Clock: agoraAt(agoraTestNow)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAgoraVerifyBomb measures refusing a zlib bomb (4 MiB of zeros):
// at most 4 KiB are inflated.
func BenchmarkAgoraVerifyBomb(b *testing.B) {
	s := agoraBase()
	s.trailing = make([]byte, 4<<20)
	token := agoraBuild(s)
	v := agoraTestVerifier(b, agoraTestNow)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkAgoraHMACFloor is the bare-crypto floor beside
// BenchmarkAgoraVerifyOneCert: the three HMAC-SHA256 of AccessToken2 (the
// key derivation and the signature over the signing info) and a
// constant-time compare.
func BenchmarkAgoraHMACFloor(b *testing.B) {
	s := agoraBase()
	content := agoraContent(s)
	sig, info := content[2:2+32], content[2+32:]
	var ts, salt [4]byte
	binary.LittleEndian.PutUint32(ts[:], s.issueTs)
	binary.LittleEndian.PutUint32(salt[:], s.salt)
	cert := []byte(agoraTestCert)
	var k1, k2, sum [sha256.Size]byte
	b.ReportAllocs()
	for b.Loop() {
		m := hmac.New(sha256.New, ts[:])
		m.Write(cert)
		m.Sum(k1[:0])
		m = hmac.New(sha256.New, salt[:])
		m.Write(k1[:])
		m.Sum(k2[:0])
		m = hmac.New(sha256.New, k2[:])
		m.Write(info)
		if !hmac.Equal(m.Sum(sum[:0]), sig) {
			b.Fatal("bad signature")
		}
	}
}
