package issuers_test

import (
	"context"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/nodetest"

	"github.com/gameauth/caddy-gameauth/issuers"
)

// twilioRunNode runs a script of ../interop with input as JSON on stdin and
// decodes its JSON stdout into out. Without node or the installed npm
// packages it skips, unless GAMEAUTH_REQUIRE_INTEROP=1.
func twilioRunNode(t *testing.T, script string, input, out any) {
	t.Helper()
	nodetest.Run(t, script, input, out, "twilio", "jsonwebtoken")
}

// twilioCheckResult is what interop/twilio_check.js prints.
type twilioCheckResult struct {
	OK          bool     `json:"ok"`
	Errors      []string `json:"errors"`
	HeaderJSON  string   `json:"headerJSON"`
	PayloadJSON string   `json:"payloadJSON"`
	Twilio      struct {
		Token       string `json:"token"`
		HeaderJSON  string `json:"headerJSON"`
		PayloadJSON string `json:"payloadJSON"`
		Error       string `json:"error"`
	} `json:"twilio"`
	Identical bool `json:"identical"`
}

// TestTwilioIssueInteropNode checks tokens we issue with jsonwebtoken.verify
// and Twilio's rules (interop/twilio_check.js), and requires them to be
// byte-identical to what the npm twilio library mints for the same inputs.
func TestTwilioIssueInteropNode(t *testing.T) {
	tests := []struct {
		name   string
		region string
		clock  issuers.Clock // nil: the real clock
		req    issuers.Request
	}{
		{"room and region", "ie1", twilioClock(0), issuers.Request{UserID: "alice", RoomID: "DailyStandup"}},
		{"no room", "", twilioClock(0), issuers.Request{UserID: "bob"}},
		{"short ttl", "", twilioClock(0), issuers.Request{UserID: "carol", RoomID: "r", TTL: 2 * time.Minute}},
		{"24h", "us1", twilioClock(0), issuers.Request{UserID: "dave", TTL: 24 * time.Hour}},
		{"json specials", "", twilioClock(0), issuers.Request{UserID: `o"brien\<b>&'`, RoomID: `a"\/b`}},
		{"unicode", "au1", twilioClock(0), issuers.Request{UserID: "ユーザー🎮é", RoomID: "Sala ñ/β #1"}},
		{"real clock", "", nil, issuers.Request{UserID: "erin", RoomID: "Live"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := newTwilioIssuer(t, func(c *issuers.TwilioConfig) { c.Region, c.Clock = tt.region, tt.clock })
			tok, err := is.Issue(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			in := map[string]any{
				"token":      tok.Token,
				"accountSid": twilioTestAccount,
				"keySid":     twilioTestKey1,
				"secret":     twilioTestSecret1,
				"identity":   tt.req.UserID,
				"ttl":        int64(tok.ExpiresAt.Sub(tok.IssuedAt) / time.Second),
				"now":        tok.IssuedAt.Unix(),
			}
			if tt.req.RoomID != "" {
				in["room"] = tt.req.RoomID
			}
			if tt.region != "" {
				in["region"] = tt.region
			}
			var res twilioCheckResult
			twilioRunNode(t, "twilio_check.js", in, &res)
			if !res.OK || len(res.Errors) != 0 {
				t.Errorf("twilio_check.js: %q", res.Errors)
			}
			if res.Twilio.Error != "" {
				t.Fatalf("twilio library: %s", res.Twilio.Error)
			}
			if res.HeaderJSON != res.Twilio.HeaderJSON {
				t.Errorf("header\n ours   %s\n twilio %s", res.HeaderJSON, res.Twilio.HeaderJSON)
			}
			if res.PayloadJSON != res.Twilio.PayloadJSON {
				t.Errorf("payload\n ours   %s\n twilio %s", res.PayloadJSON, res.Twilio.PayloadJSON)
			}
			if !res.Identical || res.Twilio.Token != tok.Token {
				t.Errorf("token differs from the npm library's")
			}
		})
	}
}

// TestTwilioCheckScriptRejects makes sure interop/twilio_check.js can fail:
// a token from another key, or for another identity, must not pass it.
func TestTwilioCheckScriptRejects(t *testing.T) {
	other := newTwilioIssuer(t, func(c *issuers.TwilioConfig) {
		c.APIKeySID, c.APIKeySecret = twilioTestKey2, twilioTestSecret2
	})
	tok, err := other.Issue(context.Background(), issuers.Request{UserID: "alice", RoomID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   map[string]any
	}{
		{"wrong key", map[string]any{"keySid": twilioTestKey1, "secret": twilioTestSecret1, "identity": "alice", "room": "r"}},
		{"wrong identity", map[string]any{"keySid": twilioTestKey2, "secret": twilioTestSecret2, "identity": "bob", "room": "r"}},
		{"wrong room", map[string]any{"keySid": twilioTestKey2, "secret": twilioTestSecret2, "identity": "alice", "room": "s"}},
		{"expired", map[string]any{"keySid": twilioTestKey2, "secret": twilioTestSecret2, "identity": "alice", "room": "r", "now": twilioTestNow + 3600}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := map[string]any{"token": tok.Token, "accountSid": twilioTestAccount, "ttl": 3600, "now": twilioTestNow}
			for k, v := range tt.in {
				in[k] = v
			}
			var res twilioCheckResult
			twilioRunNode(t, "twilio_check.js", in, &res)
			if res.OK || len(res.Errors) == 0 {
				t.Errorf("twilio_check.js accepted it")
			}
		})
	}
}
