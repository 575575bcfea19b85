package caddyauth_test

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestTRTCBounds checks that `caddy validate` refuses every out-of-bounds
// or malformed trtc option with an error naming it as the Caddyfile does.
func TestTRTCBounds(t *testing.T) {
	t.Setenv("TRTC_SECRET_KEY", "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e")
	const secret = "secret {env.TRTC_SECRET_KEY}\n"
	for _, tt := range []struct {
		name, body, want string
	}{
		{"verifier sdk_app_id missing", verify("trtc {\n" + secret + "}"), "trtc: sdk_app_id is required"},
		{"verifier secret missing", verify("trtc {\nsdk_app_id 1\n}"), "trtc: secret is required"},
		{"verifier secret short", verify("trtc {\nsdk_app_id 1\nsecret abc\n}"), "trtc: secret must be 32 to 256"},
		{"verifier secrets repeat", verify("trtc {\nsdk_app_id 1\n" + secret + "secrets {env.TRTC_SECRET_KEY}\n}"), "trtc: secrets #1 repeats secret"},
		{"verifier too many secrets", verify("trtc {\nsdk_app_id 1\nsecrets" + strings.Repeat(" k0123456789abcdef0123456789abcdef", 9) + "\n}"), "exceed the maximum of 8"},
		{"verifier leeway", verify("trtc {\nsdk_app_id 1\n" + secret + "leeway 10m\n}"), "trtc: leeway 10m exceeds the maximum of 5m"},
		{"verifier cache_size", verify("trtc {\nsdk_app_id 1\n" + secret + "cache_size 2000000\n}"), "cache_size 2000000 exceeds the maximum"},
		{"issuer sdk_app_id missing", issue("trtc {\n" + secret + "}"), "trtc issuer: sdk_app_id is required"},
		{"issuer secret missing", issue("trtc {\nsdk_app_id 1\n}"), "trtc issuer: secret is required"},
		{"issuer secret short", issue("trtc {\nsdk_app_id 1\nsecret abc\n}"), "trtc issuer: secret must be 32 to 256"},
		{"issuer ttl", issue("trtc {\nsdk_app_id 1\n" + secret + "ttl 25h\n}"), "trtc issuer: ttl 25h exceeds the maximum of 24h"},
		{"issuer max_ttl", issue("trtc {\nsdk_app_id 1\n" + secret + "max_ttl 48h\n}"), "trtc issuer: max_ttl 48h exceeds the maximum of 24h"},
		{"issuer ttl over max_ttl", issue("trtc {\nsdk_app_id 1\n" + secret + "ttl 2h\nmax_ttl 1h\n}"), "trtc issuer: ttl 2h exceeds max_ttl 1h"},
		{"issuer ttl under a second", issue("trtc {\nsdk_app_id 1\n" + secret + "ttl 500ms\n}"), "trtc issuer: ttl 500ms is below the minimum of 1s"},
		{"issuer room_type", issue("trtc {\nsdk_app_id 1\n" + secret + "room_type float\n}"), `trtc issuer: room_type "float": want number or string`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := validateCaddyfile(t, tt.body)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if goFieldName.MatchString(err.Error()) {
				t.Errorf("error names a Go field: %v", err)
			}
			if strings.Contains(err.Error(), "5bd2850fff3ecb11") {
				t.Errorf("error prints the secret: %v", err)
			}
		})
	}
	for _, tt := range []struct{ name, caddyfile, want string }{
		{"sdk_app_id not a number", "trtc {\nsdk_app_id x\n}", `sdk_app_id: want a positive 32-bit number, got "x"`},
		{"unknown verifier option", "trtc {\nsdk_app_id 1\nchannel x\n}", `unknown subdirective "channel" in trtc`},
		{"unknown issuer option", "", `unknown subdirective "mode" in trtc issuer`},
	} {
		body := verify(tt.caddyfile)
		if tt.caddyfile == "" {
			body = issue("trtc {\nsdk_app_id 1\nmode gcm\n}")
		}
		t.Run(tt.name, func(t *testing.T) {
			caddyfile := "http://127.0.0.1:0 {\n" + body + "\n}\n"
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	if err := validateCaddyfile(t, verify("trtc {\nsdk_app_id 1400000001\n"+secret+"room {http.request.uri.path.1}\npublish\nleeway 5m\ncache_size off\n}")); err != nil {
		t.Errorf("a valid verifier: %v", err)
	}
	if err := validateCaddyfile(t, issue("trtc {\nsdk_app_id 1400000001\n"+secret+"room_type string\nttl 24h\nmax_ttl 24h\n}")); err != nil {
		t.Errorf("a valid issuer: %v", err)
	}
}
