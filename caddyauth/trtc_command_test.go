package caddyauth

import (
	"strings"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// TestTRTCTokenCommand mints UserSigs and PrivateMapKeys with the
// gameauth-token command and checks them with the verifier.
func TestTRTCTokenCommand(t *testing.T) {
	const secret = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
	v, err := verifiers.NewTRTC(verifiers.TRTCConfig{SDKAppID: 1400000001, Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, "trtc", secret+"\n")
	for _, tt := range []struct {
		args   []string
		claims map[string]string
	}{
		{[]string{"--ttl", "2h"}, map[string]string{"room_id": ""}},
		{[]string{"--room", "10000", "--publish"}, map[string]string{"room_id": "10000", "room_type": "number", "privilege_map": "255"}},
		{[]string{"--room", "arena-7", "--room-type", "string"}, map[string]string{"room_id": "arena-7", "room_type": "string", "privilege_map": "171"}},
	} {
		args := append([]string{"trtc", "--user", "alice", "--sdk-app-id", "1400000001", "--secret-file", file}, tt.args...)
		tok, err := mint(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		id, err := v.Verify(t.Context(), tok.Token)
		if err != nil || id.Subject != "alice" {
			t.Fatalf("%v: %v %v", tt.args, id, err)
		}
		for name, want := range tt.claims {
			if got, _ := id.Claim(name); got != want {
				t.Errorf("%v: %s = %q, want %q", tt.args, name, got, want)
			}
		}
		if len(tt.args) == 2 && tok.ExpiresAt.Sub(tok.IssuedAt) != 2*time.Hour {
			t.Errorf("ttl %v", tok.ExpiresAt.Sub(tok.IssuedAt))
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--sdk-app-id", "x", "--secret-file", file}, "--sdk-app-id"},
		{[]string{"--sdk-app-id", "1", "--secret-file", file, "--room-type", "float"}, "--room-type"},
		{[]string{"--sdk-app-id", "1", "--secret-file", writeFile(t, "short", "short")}, "printable ASCII"},
		{[]string{"--sdk-app-id", "1", "--secret-file", file, "--room", "arena"}, "room_id"},
	} {
		_, err := mint(t, append([]string{"trtc", "--user", "alice"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}
