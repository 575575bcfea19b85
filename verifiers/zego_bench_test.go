package verifiers

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"testing"
)

// zegoBenchToken returns the official privilege token with a stream list
// (the longest plaintext) of the given variant.
func zegoBenchToken(b *testing.B, id string) (*Zego, string) {
	b.Helper()
	for _, f := range zegoLoadFixtures(b) {
		if f.ID == id {
			v := zegoFixtureVerifier(b, zegoFixtureCreated+2)
			if _, err := v.Verify(context.Background(), f.Token); err != nil {
				b.Fatal(err)
			}
			return v, f.Token
		}
	}
	b.Fatalf("no fixture %s", id)
	return nil, ""
}

func BenchmarkZegoVerifyGCM(b *testing.B) {
	v, tok := zegoBenchToken(b, "js-gcm-privilege-arena_9")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkZegoVerifyCBC(b *testing.B) {
	v, tok := zegoBenchToken(b, "go-cbc-privilege-arena_9")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkZegoVerifyGCMIdentity is the common case: a basic token.
func BenchmarkZegoVerifyGCMIdentity(b *testing.B) {
	v, tok := zegoBenchToken(b, "js-gcm-identity-100y")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkZegoVerifyReject measures a forged GCM token (bad tag), what
// an attacker can make us do for free.
func BenchmarkZegoVerifyReject(b *testing.B) {
	v, _ := zegoBenchToken(b, "js-gcm-privilege-arena_9")
	var tok string
	for _, f := range zegoLoadFixtures(b) {
		if f.ID == "neg-gcm-tag-byte-flipped" {
			tok = f.Token
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err == nil {
			b.Fatal("forged token accepted")
		}
	}
}

// zegoBenchBlob splits a fixture token into nonce/IV and ciphertext.
func zegoBenchBlob(b *testing.B, id string) (iv, ct []byte, key cipher.Block) {
	_, tok := zegoBenchToken(b, id)
	blob, err := base64.StdEncoding.DecodeString(tok[2:])
	if err != nil {
		b.Fatal(err)
	}
	n := int(binary.BigEndian.Uint16(blob[8:]))
	l := int(binary.BigEndian.Uint16(blob[10+n:]))
	key, err = aes.NewCipher([]byte(zegoFixtureSecret))
	if err != nil {
		b.Fatal(err)
	}
	return blob[10 : 10+n], blob[12+n : 12+n+l], key
}

// BenchmarkAESGCMOpenFloor is the bare AES-256-GCM open of the same
// ciphertext as BenchmarkZegoVerifyGCM: the floor Verify sits on.
func BenchmarkAESGCMOpenFloor(b *testing.B) {
	nonce, ct, block := zegoBenchBlob(b, "js-gcm-privilege-arena_9")
	aead, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, len(ct))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := aead.Open(dst, nonce, ct, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAESCBCDecryptFloor is the bare AES-256-CBC decryption of the
// same ciphertext as BenchmarkZegoVerifyCBC.
func BenchmarkAESCBCDecryptFloor(b *testing.B) {
	iv, ct, block := zegoBenchBlob(b, "go-cbc-privilege-arena_9")
	dst := make([]byte, len(ct))
	b.ReportAllocs()
	for b.Loop() {
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(dst, ct)
	}
}
