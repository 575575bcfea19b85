package caddyauth_test

import (
	"os"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestExampleConfigValidates loads caddy.json.example as `caddy validate`
// does (from the repository root, where its demo paths resolve).
func TestExampleConfigValidates(t *testing.T) {
	t.Chdir("..")
	b, err := os.ReadFile("caddy.json.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(mustConfig(t, string(b))); err != nil {
		t.Fatalf("caddy.json.example: %v", err)
	}
}
