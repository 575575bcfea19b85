package caddyauth_test

import (
	"os"
	"strings"
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

// TestExampleConfigElsewhere: run from another directory, the example's
// relative key file is not found, and the error says where it was looked
// for, so the fix (run from the repository root) is plain.
func TestExampleConfigElsewhere(t *testing.T) {
	b, err := os.ReadFile("../caddy.json.example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	err = caddy.Validate(mustConfig(t, string(b)))
	if err == nil || !strings.Contains(err.Error(), "demo/tcb_custom_login.DEMO-ONLY.json") ||
		!strings.Contains(err.Error(), "relative path is read from the directory Caddy runs in, "+dir) {
		t.Fatalf("error does not say where the relative path was read from: %v", err)
	}
}
