package verifiers

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
)

// trtcCheckResult asserts the invariants of one Verify call.
func trtcCheckResult(t *testing.T, id Identity, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrInvalidToken) || !slices.Contains(Reasons(), Reason(err)) {
			t.Fatalf("error %v: not ErrInvalidToken with a known reason", err)
		}
		if id.Subject != "" || id.Claims != nil || !id.Expires.IsZero() {
			t.Fatalf("identity with an error: %+v", id)
		}
		return
	}
	if id.Provider != "trtc" || id.Subject == "" || id.Expires.Before(id.IssuedAt) {
		t.Fatalf("bad identity %+v", id)
	}
	if v, _ := id.Claim("sdk_app_id"); v != "1400000001" {
		t.Fatalf("sdk_app_id %q", v)
	}
}

// FuzzTRTCVerify feeds Verify arbitrary token strings.
func FuzzTRTCVerify(f *testing.F) {
	d := trtcDefaultDoc()
	f.Add(d.token())
	d.userbuf = trtcUserbuf("alice", trtcTestApp, 9, trtcTestNow+60, 255, "", false)
	f.Add(d.token())
	d.userbuf = trtcUserbuf("alice", trtcTestApp, 0, trtcTestNow+60, 42, "room-1", true)
	f.Add(d.token())
	f.Add("")
	f.Add("eJw_")
	v := trtcTestVerifier(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(ctx, token)
		trtcCheckResult(t, id, err)
		id2, err2 := v.Verify(ctx, token)
		if Reason(err) != Reason(err2) || id.Subject != id2.Subject {
			t.Fatalf("Verify is not deterministic: %v / %v", err, err2)
		}
	})
}

// FuzzTRTCDocument compresses arbitrary JSON, optionally signed (the
// fuzzer's text in the identifier, its bytes as the userbuf), so that it
// reaches the JSON, the userbuf and the checks behind the HMAC.
func FuzzTRTCDocument(f *testing.F) {
	d := trtcDefaultDoc()
	f.Add([]byte(d.json()), "alice", []byte(nil))
	f.Add([]byte(`{"TLS.ver":"2.0"}`), "bob", trtcUserbuf("bob", trtcTestApp, 0, trtcTestNow+60, 3, "r", true))
	f.Add([]byte(`{"TLS.ver":"2.0","TLS.ver":"2.0"}`), "", []byte{0, 0})
	v := trtcTestVerifier(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, doc []byte, identifier string, userbuf []byte) {
		if len(doc) > 4096 || len(identifier) > 64 || len(userbuf) > 512 {
			return
		}
		id, err := v.Verify(ctx, trtcPack(doc))
		trtcCheckResult(t, id, err)

		s := trtcDefaultDoc()
		s.id, s.userbuf = identifier, userbuf
		if bytes.ContainsAny([]byte(identifier), "\"\\") {
			return // the hand-built JSON does not escape
		}
		id, err = v.Verify(ctx, s.token())
		trtcCheckResult(t, id, err)
		if err == nil && id.Subject != identifier {
			t.Fatalf("subject %q, want %q", id.Subject, identifier)
		}
	})
}
