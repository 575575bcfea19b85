package caddyauth_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestREADMESnippets adapts and validates every Caddyfile and JSON snippet
// of the README, as `caddy validate` would: what a newcomer copies works.
// Grammar blocks (with <placeholders>) and shell sessions are skipped.
func TestREADMESnippets(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	demoCreds, err := filepath.Abs("../demo/tcb_custom_login.DEMO-ONLY.json")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"SEAYOO_SECRET_KEY":     "sk_secret",
		"ZEGO_SERVER_SECRET":    "0123456789abcdef0123456789abcdef",
		"TWILIO_ACCOUNT_SID":    "AC0123456789abcdef0123456789abcdef",
		"TWILIO_API_KEY_SID":    "SKfedcba9876543210fedcba9876543210",
		"TWILIO_API_KEY_SECRET": "demo-twilio-api-key-secret",
		"TDS_CLIENT_ID":         "client-id",
		"TDS_CLIENT_TOKEN":      "client-token",
		"TRTC_SECRET_KEY":       "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e",
		"AGORA_APP_ID":          "970ca35de60c44645bbae8a215061b33",
		"AGORA_APP_CERTIFICATE": "5cfd2fd1755d40ecb72977518be15d3b",
	} {
		t.Setenv(k, v)
	}
	logFile := filepath.Join(t.TempDir(), "access.log")
	fence := regexp.MustCompile("(?s)```(\\w*)\\n(.*?)```")
	grammar := regexp.MustCompile(`<[a-z|]`) // <duration>, <zego|twilio|cloudbase>
	checked := 0
	for i, m := range fence.FindAllStringSubmatch(string(readme), -1) {
		lang, body := m[1], m[2]
		first := strings.TrimSpace(strings.SplitN(body, "\n", 2)[0])
		name := "block " + first
		switch {
		case lang == "json":
			cfg := `{"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"routes":[{"handle":[` + body + `]}]}}}}}`
			if err := caddy.Validate(mustConfig(t, cfg)); err != nil {
				t.Errorf("README JSON snippet %d (%s): %v", i, first, err)
			}
			checked++
			continue
		case lang != "" || grammar.MatchString(body) || !strings.HasSuffix(first, "{") ||
			strings.HasPrefix(first, "request>") || first == "{":
			// A grammar block, a shell session, an HTTP answer, a log
			// fragment, or global options (the rate_limit one names a
			// plugin this build does not have).
			continue
		}
		src := strings.ReplaceAll(body, "/etc/caddy/tcb_custom_login.json", demoCreds)
		src = strings.ReplaceAll(src, "/var/log/caddy/access.log", logFile)
		src = strings.ReplaceAll(src, "env_id my-env-1a2b3c", "env_id demo-env-1a2b3c") // the demo key's environment
		if strings.HasPrefix(first, "api.example.com") {
			src = "http://" + src
		} else {
			src = "http://api.example.com {\n" + src + "\n}\n"
		}
		cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), map[string]any{"filename": "README.md"})
		if err != nil {
			t.Errorf("README snippet %d (%s) does not adapt: %v", i, name, err)
			continue
		}
		if err := caddy.Validate(mustConfig(t, string(cfg))); err != nil {
			t.Errorf("README snippet %d (%s) does not validate: %v", i, name, err)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d README snippets checked: did the README's code fences change?", checked)
	}
}
