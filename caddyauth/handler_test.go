package caddyauth

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

func TestParseBearer(t *testing.T) {
	cases := []struct {
		in   string
		tok  string
		want extractResult
	}{
		{"Bearer abc.def", "abc.def", tokenFound},
		{"bearer abc", "abc", tokenFound},
		{"BEARER abc", "abc", tokenFound},
		{"Bearer   abc", "abc", tokenFound},
		{"Bearer", "", tokenMalformed},
		{"Bearer ", "", tokenMalformed},
		{"Bearer a b", "", tokenMalformed},
		{"Bearer a\tb", "", tokenMalformed},
		{"Bearer\tabc", "", tokenMalformed},
		{"bearer\x00abc", "", tokenMalformed},
		{"Bearerabc", "", tokenAbsent},
		{"Basic dXNlcjpwYXNz", "", tokenAbsent},
		{"", "", tokenAbsent},
		{"Bearer a\x00b", "", tokenMalformed},
	}
	for _, c := range cases {
		tok, res := parseBearer(c.in)
		if tok != c.tok || res != c.want {
			t.Errorf("parseBearer(%q) = %q, %d; want %q, %d", c.in, tok, res, c.tok, c.want)
		}
	}
}

func TestStripperSpellings(t *testing.T) {
	s := headerStripper{prefix: normalizeHeaderName("X-Auth-"), names: []string{normalizeHeaderName("X-Player")}}
	h := http.Header{
		"X-Auth-User-Id": {"a"}, "X_auth_user_id": {"b"}, "x.auth.provider": {"c"}, "X-AUTH-ROOM": {"d"},
		"X_Player": {"e"}, "x.player": {"f"}, "X-Authorization": {"keep"}, "Authorization": {"keep"},
		"X-Auth": {"keep"}, "X-Players": {"keep"},
	}
	s.strip(h)
	for k := range h {
		if h.Get(k) != "keep" && h[k][0] != "keep" {
			t.Errorf("%s survived", k)
		}
	}
	if len(h) != 4 {
		t.Errorf("kept %v", h)
	}
}

func TestHeaderCase(t *testing.T) {
	for in, want := range map[string]string{"external_id": "External-Id", "age": "Age", "weixin_unionid": "Weixin-Unionid", "short_id": "Short-Id"} {
		if got := headerCase(in); got != want {
			t.Errorf("headerCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClaimNamesBounded(t *testing.T) {
	c := newClaimNames("X-Auth-")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				name := fmt.Sprintf("claim_%d", (i*4+g)%700)
				want := "X-Auth-Claim-" + strconv.Itoa((i*4+g)%700)
				got, ok := c.load()[name]
				if !ok {
					got = c.add(name)
				}
				if got != want {
					t.Errorf("header of %s = %q, want %q", name, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := len(c.load()); n != maxCachedClaimNames {
		t.Errorf("cached %d names, want the bound %d", n, maxCachedClaimNames)
	}
}

func TestValidateRefusesStrippedSource(t *testing.T) {
	for _, src := range []TokenSource{{From: sourceHeader, Name: "X-Auth-Token"}, {From: sourceHeader, Name: "x_auth_token"}, {From: sourceBearer, Name: "X-Player"}} {
		h := &Handler{verifiers: []TokenVerifier{nil}, providers: []string{"x"}, logger: zap.NewNop(),
			Sources: []TokenSource{src}, Headers: []HeaderTemplate{{Name: "X-Player", Value: "{http.auth.user.id}"}}}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
		defer cancel()
		if err := h.provisionCommon(ctx); err != nil {
			t.Fatal(err)
		}
		err := h.Validate()
		if err == nil || !strings.Contains(err.Error(), "would be stripped") {
			t.Errorf("source %v: Validate() = %v", src, err)
		}
	}
}

func TestChallenge(t *testing.T) {
	h := &Handler{Realm: `game "api"`}
	if got := h.challenge("", ""); got != `Bearer realm="game api"` {
		t.Errorf("%q", got)
	}
	h.Realm = ""
	if got := h.challenge("invalid_token", "token expired"); got != `Bearer error="invalid_token", error_description="token expired"` {
		t.Errorf("%q", got)
	}
}
