package caddyauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestIssuerWarnsOnceWithoutIdentity: an issuer that no gameauth handler
// precedes answers 401 and says why at Warn, once per config load.
func TestIssuerWarnsOnceWithoutIdentity(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	iss := &TwilioIssuer{AccountSID: "AC0123456789abcdef0123456789abcdef",
		APIKeySID: "SKfedcba9876543210fedcba9876543210", APIKeySecret: "demo-twilio-api-key-secret"}
	if err := iss.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.WarnLevel)
	h := &IssuerHandler{User: DefaultIssuerUser, logger: zap.New(core)}
	h.setIssuer(ctx, iss)
	for range 3 {
		r := httptest.NewRequest(http.MethodPost, "/tokens/twilio", nil)
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
		err := h.ServeHTTP(httptest.NewRecorder(), r, nopNext)
		var he caddyhttp.HandlerError
		if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized {
			t.Fatalf("want a 401 error, got %v", err)
		}
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
	if msg := logs.All()[0].Message; !strings.Contains(msg, "no verified identity") || !strings.Contains(msg, "gameauth handler before it") {
		t.Errorf("warning %q does not name the cause", msg)
	}
}
