package caddyauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

func TestSoloPlaceholder(t *testing.T) {
	for tmpl, want := range map[string]string{
		"{http.auth.user.id}":        "http.auth.user.id",
		"{http.auth.user.openid}":    "http.auth.user.openid",
		"":                           "",
		"{}":                         "",
		"user-{http.auth.user.id}":   "",
		"{http.auth.user.id}-x":      "",
		"{a}{b}":                     "",
		"{a\\}":                      "",
		"http.auth.user.id":          "",
		"{http.auth.user.id":         "",
		"{{http.auth.user.id}}":      "",
		"{http.request.header.X-Id}": "http.request.header.X-Id",
	} {
		if got := soloPlaceholder(tmpl); got != want {
			t.Errorf("soloPlaceholder(%q) = %q, want %q", tmpl, got, want)
		}
	}
}

// TestIssuerUserTemplate checks that the direct lookup of a one-placeholder
// template gives what ReplaceAll gives, for strings, missing values and
// values of other types.
func TestIssuerUserTemplate(t *testing.T) {
	repl := caddy.NewReplacer()
	repl.Set("http.auth.user.id", "91231223346130001")
	repl.Set("num", 42)
	repl.Set("empty", "")
	for _, tmpl := range []string{
		"{http.auth.user.id}", "{num}", "{empty}", "{missing}",
		"u-{http.auth.user.id}", "{http.auth.user.id}{num}", "literal",
	} {
		h := &IssuerHandler{User: tmpl, userKey: soloPlaceholder(tmpl)}
		if got, want := h.user(repl), repl.ReplaceAll(tmpl, ""); got != want {
			t.Errorf("user(%q) = %q, ReplaceAll gives %q", tmpl, got, want)
		}
	}
	if got := (&IssuerHandler{User: DefaultIssuerUser, userKey: soloPlaceholder(DefaultIssuerUser)}).user(caddy.NewReplacer()); got != "" {
		t.Errorf("no verified identity: user = %q, want empty", got)
	}
}

// TestIssuerAnswersConcurrent issues from many goroutines at once, each for
// its own user: the pooled answer buffers must never mix two answers.
func TestIssuerAnswersConcurrent(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	iss := &TwilioIssuer{AccountSID: "AC0123456789abcdef0123456789abcdef",
		APIKeySID: "SKfedcba9876543210fedcba9876543210", APIKeySecret: "demo-twilio-api-key-secret"}
	if err := iss.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	h := &IssuerHandler{User: DefaultIssuerUser, logger: zap.NewNop()}
	h.setIssuer(ctx, iss)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				user := fmt.Sprintf("player-%d-%d-%s", g, i, strings.Repeat("x", i%50))
				repl := caddy.NewReplacer()
				repl.Set("http.auth.user.id", user)
				r := httptest.NewRequest(http.MethodGet, "/token", nil)
				r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
				w := httptest.NewRecorder()
				if err := h.ServeHTTP(w, r, nopNext); err != nil {
					t.Error(err)
					return
				}
				var ans tokenAnswer
				if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil {
					t.Errorf("answer %q: %v", w.Body.String(), err)
					return
				}
				if ans.UserID != user || ans.Token == "" {
					t.Errorf("answer for %q: user_id %q", user, ans.UserID)
					return
				}
				if got := w.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control %q", got)
				}
			}
		}()
	}
	wg.Wait()
}
