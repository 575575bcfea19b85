package caddyauth_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// TestREADMEListsEveryReason: the README's table of refusal reasons for
// handle_errors users names every reason a verifier can give.
func TestREADMEListsEveryReason(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, r := range verifiers.Reasons() {
		if r == verifiers.ReasonInternal {
			continue // not a refusal a client can cause
		}
		if !strings.Contains(readme, "`"+r+"`") {
			t.Errorf("README does not list the reason %q", r)
		}
	}
}
