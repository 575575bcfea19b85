package verifiers

import (
	"github.com/gameauth/caddy-gameauth/internal/check"

	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// FuzzTapTapParseUser feeds arbitrary LeanCloud answers to the body parsers.
// Invariants: no panic; a nil error means Provider "taptap", a printable
// non-empty Subject, claims only from the fixed set, in order, each safe;
// and the identity survives a round trip through a canonical body.
func FuzzTapTapParseUser(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "taptap", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"objectId":"a","shortId":123,"authData":{"taptap":{"openid":"o","unionid":"u"}}}`,
		`{"objectId":"a","nickname":"x\u2028y","username":"\u0000"}`,
		`{"objectid":"b","objectId":"a","objectId":"c"}`,
		`{"objectId":"a","authData":{"taptap":{"openid":1e999}}}`,
		`[]`, `null`, `{}`, `{"objectId":null}`, `"`,
	} {
		f.Add([]byte(s))
	}
	allowed := map[string]int{"username": 0, "nickname": 1, "avatar": 2, "short_id": 3, "openid": 4, "unionid": 5}

	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = parseTapTapErrorCode(body)
		id, err := parseTapTapUser(body)
		if err != nil {
			if id.Subject != "" || id.Claims != nil {
				t.Fatalf("identity with an error: %+v", id)
			}
			if Reason(err) != "leancloud error" {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if id.Provider != "taptap" || id.Subject == "" || len(id.Subject) > tapMaxSubject || !check.PrintableASCII(id.Subject) {
			t.Fatalf("bad subject in %+v", id)
		}
		last := -1
		for _, c := range id.Claims {
			pos, ok := allowed[c.Name]
			if !ok || pos <= last {
				t.Fatalf("claim %q unexpected or out of order", c.Name)
			}
			last = pos
			if c.Value == "" || len(c.Value) > tapMaxClaimValue || !utf8.ValidString(c.Value) ||
				strings.ContainsAny(c.Value, "\r\n\x00") {
				t.Fatalf("unsafe claim %q=%q", c.Name, c.Value)
			}
		}

		// Round trip through a canonical LeanCloud body.
		user := map[string]any{"objectId": id.Subject, "sessionToken": "s", "authData": map[string]any{}}
		tt := map[string]any{"access_token": "at", "mac_key": "mk"}
		keys := map[string]string{"username": "username", "nickname": "nickname", "avatar": "avatar", "short_id": "shortId"}
		for _, c := range id.Claims {
			switch c.Name {
			case "openid", "unionid":
				tt[c.Name] = c.Value
			default:
				user[keys[c.Name]] = c.Value
			}
		}
		user["authData"] = map[string]any{"taptap": tt}
		b, err := json.Marshal(user)
		if err != nil {
			t.Fatal(err)
		}
		id2, err := parseTapTapUser(b)
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if !tapSameGolden(tapGoldenOf(id), tapGoldenOf(id2)) {
			t.Fatalf("round trip changed the identity:\n%+v\n%+v", id, id2)
		}
	})
}

// FuzzTapTapVerifyToken feeds arbitrary session tokens to Verify against the
// fake LeanCloud (served in process). Invariants: no panic; a token that
// fails the local bounds never reaches LeanCloud; one that passes is sent
// unchanged in X-LC-Session; nil error => non-empty Subject.
func FuzzTapTapVerifyToken(f *testing.F) {
	for _, s := range []string{
		"anmlwi96s381m6ca7o7266pzf", "xmpwr2kvzl3xm5b7q1j6tcy0d", "", " ", "a\r\nb", "é",
		strings.Repeat("z", 256), strings.Repeat("z", 257),
	} {
		f.Add(s)
	}
	fake := newFakeLeanCloud(f, tapTestClientToken)
	fake.setMode(lcAny)
	v, _ := newTestTapTap(f, fake, func(c *TapTapConfig) {
		c.CacheSize = 64
		c.HTTPClient = &http.Client{Transport: tapHandlerTransport{fake.serve}}
	})
	var mu sync.Mutex // fuzz workers are processes, but keep the check honest
	f.Fuzz(func(t *testing.T, token string) {
		mu.Lock()
		defer mu.Unlock()
		before := fake.calls.Load()
		id, err := v.Verify(context.Background(), token)
		called := fake.calls.Load() != before
		local := tapCheckToken(token) != nil
		switch {
		case local && (err == nil || called):
			t.Fatalf("bad token accepted or sent upstream (err %v, called %v)", err, called)
		case !local && err != nil:
			t.Fatalf("good token refused: %v", err)
		case err == nil && id.Subject == "":
			t.Fatal("nil error with an empty subject")
		case called && fake.header().Get("X-LC-Session") != token:
			t.Fatal("X-LC-Session differs from the token")
		}
	})
}
