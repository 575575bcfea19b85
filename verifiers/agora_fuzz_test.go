package verifiers

import (
	"context"
	"encoding/base64"
	"testing"
)

// FuzzAgoraVerify feeds arbitrary tokens to the verifier: it must never
// panic, answer deterministically, and accept only what the right
// certificate signed, with a subject and a sane expiry.
func FuzzAgoraVerify(f *testing.F) {
	f.Add(agoraBuild(agoraBase()))
	f.Add("")
	f.Add("007")
	f.Add("007eJwDAAAAAAE=")
	v := agoraTestVerifier(f, agoraTestNow)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(ctx, token)
		id2, err2 := v.Verify(ctx, token)
		if Reason(err) != Reason(err2) || id.Subject != id2.Subject {
			t.Fatalf("not deterministic: %v / %v", err, err2)
		}
		if err == nil && (id.Subject == "" || id.Expires.Unix() <= agoraTestNow) {
			t.Fatalf("accepted %+v", id)
		}
	})
}

// FuzzAgoraContent signs and deflates arbitrary contents with the right
// certificate, so the fuzzer reaches the decoder behind the signature
// (what a certificate holder could write). The signature is computed over
// whatever follows the first length-prefixed string.
func FuzzAgoraContent(f *testing.F) {
	content := agoraContent(agoraBase())
	f.Add(content[2+32:])
	s := agoraBase()
	s.services = append(s.services, agoraRTM("u"), []byte{99, 0})
	f.Add(agoraContent(s)[2+32:])
	v := agoraTestVerifier(f, agoraTestNow)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, info []byte) {
		if len(info) > 4096 {
			return
		}
		// Re-sign info as a token whose header fields it holds.
		r := agoraReader{b: info}
		app := r.bytes()
		ts, _, salt := r.u32(), r.u32(), r.u32()
		if r.bad {
			return
		}
		spec := agoraSpec{cert: agoraTestCert, issueTs: ts, salt: salt}
		_ = app
		sig := agoraSig(spec, info)
		c := append(agoraStr(nil, string(sig)), info...)
		tok := "007" + base64.StdEncoding.EncodeToString(agoraDeflate(c))
		id, err := v.Verify(ctx, tok)
		if err == nil && (id.Subject == "" || id.Subject == "0" || id.Expires.Unix() <= agoraTestNow) {
			t.Fatalf("accepted %+v", id)
		}
	})
}
