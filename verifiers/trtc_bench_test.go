package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

func trtcBenchToken(b *testing.B) (*TRTC, string) {
	b.Helper()
	v := trtcTestVerifier(b)
	d := trtcDefaultDoc()
	d.id = "91231223346130001"
	d.userbuf = trtcUserbuf(d.id, trtcTestApp, 0, trtcTestNow+60, 255, "arena-room-0001", true)
	tok := d.token()
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	return v, tok
}

// BenchmarkTRTCVerify is a PrivateMapKey's whole verification: base64,
// bounded inflation, strict JSON, userbuf and HMAC.
func BenchmarkTRTCVerify(b *testing.B) {
	v, tok := trtcBenchToken(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTRTCHMACFloor is the bare cryptography beside
// BenchmarkTRTCVerify: the HMAC-SHA256 of the same signed text with a
// reused keyed state and a constant-time compare.
func BenchmarkTRTCHMACFloor(b *testing.B) {
	v, tok := trtcBenchToken(b)
	buf := new(trtcBuf)
	blob, _ := buf.decodeBase64(tok)
	doc, _ := buf.inflate(blob)
	var s trtcSig
	if !s.parse(doc) {
		b.Fatal("parse")
	}
	signed := s.appendSigned(nil)
	want, err := base64.StdEncoding.DecodeString(s.sig)
	if err != nil {
		b.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(trtcTestSecret))
	var sum [sha256.Size]byte
	_ = v
	b.ReportAllocs()
	for b.Loop() {
		mac.Reset()
		mac.Write(signed)
		if !hmac.Equal(mac.Sum(sum[:0]), want) {
			b.Fatal("bad signature")
		}
	}
}
