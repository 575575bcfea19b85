package issuers_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// Test credentials, the same as the verifier's fixtures (not real accounts).
const (
	twilioTestAccount = "AC0123456789abcdef0123456789abcdef"
	twilioTestKey1    = "SKfedcba9876543210fedcba9876543210"
	twilioTestSecret1 = "twilio-test-secret-1-0123456789ab"
	twilioTestKey2    = "SK00112233445566778899aabbccddeeff"
	twilioTestSecret2 = "twilio-test-secret-2-fedcba987654"
	twilioTestNow     = int64(1795457949)
	// twilioNodeFixtures holds tokens minted by the npm twilio library
	// (see verifiers/twilio_test.go, which proves they are its output).
	twilioNodeFixtures = "../verifiers/testdata/twilio/node_tokens.json"
)

func twilioClock(offset int64) issuers.Clock {
	t := time.Unix(twilioTestNow+offset, 0)
	return func() time.Time { return t }
}

func newTwilioIssuer(t testing.TB, mutate func(*issuers.TwilioConfig)) *issuers.Twilio {
	t.Helper()
	cfg := issuers.TwilioConfig{
		AccountSID:   twilioTestAccount,
		APIKeySID:    twilioTestKey1,
		APIKeySecret: twilioTestSecret1,
		Clock:        twilioClock(0),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	is, err := issuers.NewTwilio(cfg)
	if err != nil {
		t.Fatalf("NewTwilio: %v", err)
	}
	return is
}

func newTwilioVerifier(t testing.TB, clock verifiers.Clock) *verifiers.Twilio {
	t.Helper()
	v, err := verifiers.NewTwilio(verifiers.TwilioConfig{
		AccountSID: twilioTestAccount,
		Keys:       []verifiers.TwilioKey{{SID: twilioTestKey1, Secret: twilioTestSecret1}, {SID: twilioTestKey2, Secret: twilioTestSecret2}},
		Clock:      clock,
	})
	if err != nil {
		t.Fatalf("verifiers.NewTwilio: %v", err)
	}
	return v
}

// TestTwilioIssueMatchesNodeFixtures issues, for every npm-made fixture our
// issuer can express, the same request at the same second, and requires
// the very same token bytes as the npm twilio library.
func TestTwilioIssueMatchesNodeFixtures(t *testing.T) {
	b, err := os.ReadFile(twilioNodeFixtures)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Fixtures []struct {
			Name    string `json:"name"`
			Token   string `json:"token"`
			Request struct {
				AccountSid string `json:"accountSid"`
				KeySid     string `json:"keySid"`
				Secret     string `json:"secret"`
				Identity   any    `json:"identity"`
				Room       string `json:"room"`
				Video      *bool  `json:"video"`
				Region     string `json:"region"`
				TTL        int64  `json:"ttl"`
				NBF        *int64 `json:"nbf"`
				Algorithm  string `json:"algorithm"`
				Now        int64  `json:"now"`
			} `json:"request"`
		} `json:"fixtures"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	// The fixtures we cannot express: no video grant, nbf, other algorithms,
	// TTL above 24h, an API key secret under 16 bytes. All others must
	// match byte for byte.
	skip := map[string]bool{"no_video_grant": true, "nbf_future": true, "nbf_past": true,
		"ttl_60_years": true, "hs384": true, "hs512": true, "unknown_key": true}
	matched := 0
	for _, fx := range file.Fixtures {
		r := fx.Request
		if r.Video != nil || r.NBF != nil || r.Algorithm != "" || r.TTL > 86400 || len(r.Secret) < 16 {
			if !skip[fx.Name] {
				t.Errorf("%s: unexpectedly inexpressible", fx.Name)
			}
			continue
		}
		if skip[fx.Name] {
			t.Errorf("%s: expected to be inexpressible", fx.Name)
		}
		var identity string
		switch id := r.Identity.(type) {
		case string:
			identity = id
		case float64: // the npm library stringifies integer identities
			identity = strconv.FormatFloat(id, 'f', -1, 64)
		}
		is, err := issuers.NewTwilio(issuers.TwilioConfig{
			AccountSID:   r.AccountSid,
			APIKeySID:    r.KeySid,
			APIKeySecret: r.Secret,
			Region:       r.Region,
			Clock:        func() time.Time { return time.Unix(r.Now, 0) },
		})
		if err != nil {
			t.Errorf("%s: NewTwilio: %v", fx.Name, err)
			continue
		}
		tok, err := is.Issue(context.Background(), issuers.Request{
			UserID: identity,
			RoomID: r.Room,
			TTL:    time.Duration(r.TTL) * time.Second,
		})
		if err != nil {
			t.Errorf("%s: Issue: %v", fx.Name, err)
			continue
		}
		if tok.Token != fx.Token {
			t.Errorf("%s: token differs from the npm library's\n got %s\nwant %s", fx.Name, twilioDecode(tok.Token), twilioDecode(fx.Token))
		}
		matched++
	}
	if matched < 10 {
		t.Errorf("only %d fixtures compared", matched)
	}
}

// twilioDecode shows the header and payload of a token, for failure messages.
func twilioDecode(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return token
	}
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	return string(h) + " " + string(p)
}

// TestTwilioIssueRoundTrip verifies issued tokens with verifiers.Twilio.
func TestTwilioIssueRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		region string
		req    issuers.Request
		ttl    time.Duration
	}{
		{"room and region", "ie1", issuers.Request{UserID: "alice", RoomID: "DailyStandup"}, time.Hour},
		{"no room", "", issuers.Request{UserID: "bob"}, time.Hour},
		{"explicit ttl", "", issuers.Request{UserID: "carol", RoomID: "r", TTL: 90 * time.Second}, 90 * time.Second},
		{"ttl truncated to seconds", "", issuers.Request{UserID: "carol", TTL: 90*time.Second + 999*time.Millisecond}, 90 * time.Second},
		{"max ttl", "", issuers.Request{UserID: "dave", TTL: 24 * time.Hour}, 24 * time.Hour},
		{"json specials", "", issuers.Request{UserID: `o"brien\<script>&`, RoomID: `r"\/`}, time.Hour},
		{"unicode", "au1", issuers.Request{UserID: "ユーザー🎮", RoomID: "Sala ñ/β"}, time.Hour},
		{"256 characters", "", issuers.Request{UserID: strings.Repeat("é", 256), RoomID: strings.Repeat("房", 128)}, time.Hour},
	}
	v := newTwilioVerifier(t, func() time.Time { return time.Unix(twilioTestNow, 0) })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := newTwilioIssuer(t, func(c *issuers.TwilioConfig) { c.Region = tt.region })
			tok, err := is.Issue(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			iat := time.Unix(twilioTestNow, 0)
			if tok.UserID != tt.req.UserID || !tok.IssuedAt.Equal(iat) || !tok.ExpiresAt.Equal(iat.Add(tt.ttl)) {
				t.Errorf("token fields %+v", tok)
			}
			id, err := v.Verify(context.Background(), tok.Token)
			if err != nil {
				t.Fatalf("Verify: %v (%s)", err, twilioDecode(tok.Token))
			}
			if id.Subject != tt.req.UserID || !id.Expires.Equal(tok.ExpiresAt) {
				t.Errorf("identity %+v", id)
			}
			if room, _ := id.Claim("room"); room != tt.req.RoomID {
				t.Errorf("room claim %q", room)
			}
			if region, _ := id.Claim("region"); region != tt.region {
				t.Errorf("region claim %q", region)
			}
			if sid, _ := id.Claim("api_key_sid"); sid != twilioTestKey1 {
				t.Errorf("api_key_sid claim %q", sid)
			}
			// And it expires when it says.
			late := newTwilioVerifier(t, func() time.Time { return tok.ExpiresAt })
			if _, err := late.Verify(context.Background(), tok.Token); !errors.Is(err, verifiers.ErrInvalidToken) {
				t.Errorf("Verify at expiry: %v", err)
			}
		})
	}
}

// TestTwilioIssuePayloadShape pins the payload, member order included.
func TestTwilioIssuePayloadShape(t *testing.T) {
	is := newTwilioIssuer(t, func(c *issuers.TwilioConfig) { c.Region = "ie1" })
	tok, err := is.Issue(context.Background(), issuers.Request{UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"alg":"HS256","typ":"JWT","cty":"twilio-fpa;v=1","twr":"ie1"} ` +
		`{"jti":"SKfedcba9876543210fedcba9876543210-1795457949","grants":{"identity":"alice","video":{}},` +
		`"iat":1795457949,"exp":1795461549,"iss":"SKfedcba9876543210fedcba9876543210","sub":"AC0123456789abcdef0123456789abcdef"}`
	if got := twilioDecode(tok.Token); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestNewTwilioIssuerConfig(t *testing.T) {
	const secretMark = "SECRETMARK"
	tests := []struct {
		name   string
		mutate func(*issuers.TwilioConfig)
		field  string // "" means valid
	}{
		{"defaults", func(*issuers.TwilioConfig) {}, ""},
		{"region", func(c *issuers.TwilioConfig) { c.Region = "ie1" }, ""},
		{"short max ttl, default follows", func(c *issuers.TwilioConfig) { c.MaxTTL = time.Minute }, ""},
		{"explicit ttls", func(c *issuers.TwilioConfig) { c.DefaultTTL, c.MaxTTL = 4*time.Hour, 24*time.Hour }, ""},
		{"account missing", func(c *issuers.TwilioConfig) { c.AccountSID = "" }, "AccountSID"},
		{"account upper-case", func(c *issuers.TwilioConfig) { c.AccountSID = strings.ToUpper(twilioTestAccount) }, "AccountSID"},
		{"account is a key", func(c *issuers.TwilioConfig) { c.AccountSID = twilioTestKey1 }, "AccountSID"},
		{"key missing", func(c *issuers.TwilioConfig) { c.APIKeySID = "" }, "APIKeySID"},
		{"key is an account", func(c *issuers.TwilioConfig) { c.APIKeySID = twilioTestAccount }, "APIKeySID"},
		{"key too long", func(c *issuers.TwilioConfig) { c.APIKeySID += "0" }, "APIKeySID"},
		{"secret missing", func(c *issuers.TwilioConfig) { c.APIKeySecret = "" }, "APIKeySecret"},
		{"one-byte secret", func(c *issuers.TwilioConfig) { c.APIKeySecret = "x" }, "APIKeySecret is too short"},
		{"15-byte secret", func(c *issuers.TwilioConfig) { c.APIKeySecret = "0123456789abcde" }, "APIKeySecret is too short"},
		{"secret trailing newline", func(c *issuers.TwilioConfig) { c.APIKeySecret = secretMark + "\n" }, "APIKeySecret"},
		{"region upper-case", func(c *issuers.TwilioConfig) { c.Region = "IE1" }, "Region"},
		{"region with quote", func(c *issuers.TwilioConfig) { c.Region = `ie1"` }, "Region"},
		{"region too long", func(c *issuers.TwilioConfig) { c.Region = strings.Repeat("a", 17) }, "Region"},
		{"max ttl over 24h", func(c *issuers.TwilioConfig) { c.MaxTTL = 24*time.Hour + time.Second }, "MaxTTL"},
		{"max ttl negative", func(c *issuers.TwilioConfig) { c.MaxTTL = -time.Hour }, "MaxTTL"},
		{"max ttl fractional", func(c *issuers.TwilioConfig) { c.MaxTTL = 1500 * time.Millisecond }, "MaxTTL"},
		{"default ttl over max", func(c *issuers.TwilioConfig) { c.DefaultTTL, c.MaxTTL = 2*time.Hour, time.Hour }, "DefaultTTL"},
		{"default ttl over 24h", func(c *issuers.TwilioConfig) { c.DefaultTTL = 25 * time.Hour }, "DefaultTTL"},
		{"default ttl negative", func(c *issuers.TwilioConfig) { c.DefaultTTL = -time.Second }, "DefaultTTL"},
		{"default ttl sub-second", func(c *issuers.TwilioConfig) { c.DefaultTTL = time.Millisecond }, "DefaultTTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := issuers.TwilioConfig{AccountSID: twilioTestAccount, APIKeySID: twilioTestKey1, APIKeySecret: twilioTestSecret1}
			tt.mutate(&cfg)
			is, err := issuers.NewTwilio(cfg)
			if tt.field == "" {
				if err != nil || is == nil {
					t.Fatalf("NewTwilio: %v", err)
				}
				return
			}
			if err == nil || is != nil {
				t.Fatal("NewTwilio accepted a bad config")
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
			if strings.Contains(err.Error(), secretMark) || strings.Contains(err.Error(), twilioTestSecret1) {
				t.Errorf("error %q leaks the secret", err)
			}
		})
	}
}

// TestTwilioIssueTTLDefaults checks the default and cap of the lifetime.
func TestTwilioIssueTTLDefaults(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*issuers.TwilioConfig)
		reqTTL time.Duration
		want   time.Duration
	}{
		{"library default 1h", nil, 0, time.Hour},
		{"configured default", func(c *issuers.TwilioConfig) { c.DefaultTTL = 10 * time.Minute }, 0, 10 * time.Minute},
		{"default follows a short cap", func(c *issuers.TwilioConfig) { c.MaxTTL = 5 * time.Minute }, 0, 5 * time.Minute},
		{"request within cap", func(c *issuers.TwilioConfig) { c.MaxTTL = 5 * time.Minute }, 5 * time.Minute, 5 * time.Minute},
		{"request of one second", nil, time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := newTwilioIssuer(t, tt.mutate).Issue(context.Background(), issuers.Request{UserID: "u", TTL: tt.reqTTL})
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.ExpiresAt.Sub(tok.IssuedAt); got != tt.want {
				t.Errorf("lifetime %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTwilioIssueBadRequest(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		mutate func(*issuers.TwilioConfig)
		req    issuers.Request
		field  string
	}{
		{"user missing", nil, issuers.Request{}, "user_id"},
		{"user newline", nil, issuers.Request{UserID: "al\nice"}, "user_id"},
		{"user NUL", nil, issuers.Request{UserID: "al\x00ice"}, "user_id"},
		{"user DEL", nil, issuers.Request{UserID: "al\x7fice"}, "user_id"},
		{"user C1", nil, issuers.Request{UserID: "al\u0085ice"}, "user_id"},
		{"user line separator", nil, issuers.Request{UserID: "al\u2028ice"}, "user_id"},
		{"user invalid UTF-8", nil, issuers.Request{UserID: "al\xffice"}, "user_id"},
		{"user 257 characters", nil, issuers.Request{UserID: strings.Repeat("é", 257)}, "user_id"},
		{"room 129 characters", nil, issuers.Request{UserID: "u", RoomID: strings.Repeat("a", 129)}, "room_id"},
		{"room tab", nil, issuers.Request{UserID: "u", RoomID: "a\tb"}, "room_id"},
		{"room invalid UTF-8", nil, issuers.Request{UserID: "u", RoomID: "\xc3"}, "room_id"},
		{"ttl negative", nil, issuers.Request{UserID: "u", TTL: -time.Second}, "ttl"},
		{"ttl under a second", nil, issuers.Request{UserID: "u", TTL: 999 * time.Millisecond}, "ttl"},
		{"ttl over default cap", nil, issuers.Request{UserID: "u", TTL: 24*time.Hour + time.Second}, "ttl"},
		{"ttl over configured cap", func(c *issuers.TwilioConfig) { c.MaxTTL = time.Hour }, issuers.Request{UserID: "u", TTL: time.Hour + time.Second}, "ttl"},
		{"stream ids", nil, issuers.Request{UserID: "u", StreamIDs: []string{"s"}}, "stream_ids"},
		{"publish", nil, issuers.Request{UserID: "u", Publish: true}, "publish"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := newTwilioIssuer(t, tt.mutate).Issue(context.Background(), tt.req)
			var re *issuers.RequestError
			if !errors.As(err, &re) || !errors.Is(err, issuers.ErrBadRequest) {
				t.Fatalf("err = %v, want a RequestError", err)
			}
			if re.Field != tt.field {
				t.Errorf("field %q, want %q", re.Field, tt.field)
			}
			if tok != (issuers.Token{}) {
				t.Errorf("token %+v returned with an error", tok)
			}
			if strings.Contains(err.Error(), twilioTestSecret1) {
				t.Errorf("error leaks the secret")
			}
		})
	}
	t.Run("canceled context", func(t *testing.T) {
		_, err := newTwilioIssuer(t, nil).Issue(canceled, issuers.Request{UserID: "u"})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestValidateTwilioRoom(t *testing.T) {
	tests := []struct {
		room string
		ok   bool
	}{
		{"DailyStandup", true},
		{"RM0123456789abcdef0123456789abcdef", true},
		{"Sala ñ/β #1 <&>", true},
		{strings.Repeat("房", 128), true},
		{"", false},
		{strings.Repeat("房", 129), false},
		{"a\nb", false},
		{"a\x00b", false},
		{"a\u2029b", false},
		{"\xff", false},
	}
	for _, tt := range tests {
		if got := issuers.ValidateTwilioRoom(tt.room); got != tt.ok {
			t.Errorf("ValidateTwilioRoom(%q) = %v, want %v", tt.room, got, tt.ok)
		}
	}
}

// TestTwilioIssueConcurrent issues and verifies from many goroutines (-race).
func TestTwilioIssueConcurrent(t *testing.T) {
	is := newTwilioIssuer(t, nil)
	v := newTwilioVerifier(t, func() time.Time { return time.Unix(twilioTestNow, 0) })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				user := strings.Repeat("u", 1+(g*50+i)%64)
				tok, err := is.Issue(context.Background(), issuers.Request{UserID: user, RoomID: "r"})
				if err != nil {
					t.Error(err)
					return
				}
				if id, err := v.Verify(context.Background(), tok.Token); err != nil || id.Subject != user {
					t.Errorf("%+v, %v", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzTwilioIssueRoundTrip: whatever user and room are asked for, Issue
// either refuses with ErrBadRequest or makes a token that verifies to
// exactly that user and room.
func FuzzTwilioIssueRoundTrip(f *testing.F) {
	f.Add("alice", "DailyStandup")
	f.Add(`o"brien\`, "")
	f.Add("ユーザー", "Sala ñ/β")
	f.Add("a\nb", "r")
	f.Add("\xff", "\u2028")
	is := newTwilioIssuer(f, nil)
	v := newTwilioVerifier(f, func() time.Time { return time.Unix(twilioTestNow, 0) })
	f.Fuzz(func(t *testing.T, user, room string) {
		tok, err := is.Issue(context.Background(), issuers.Request{UserID: user, RoomID: room})
		if err != nil {
			if !errors.Is(err, issuers.ErrBadRequest) {
				t.Fatalf("error %v is not ErrBadRequest", err)
			}
			return
		}
		id, err := v.Verify(context.Background(), tok.Token)
		if err != nil {
			t.Fatalf("issued token does not verify: %v", err)
		}
		if got, _ := id.Claim("room"); id.Subject != user || got != room {
			t.Fatalf("round trip: subject %q room %q", id.Subject, got)
		}
	})
}

// BenchmarkTwilioIssue issues a token with a room.
func BenchmarkTwilioIssue(b *testing.B) {
	is := newTwilioIssuer(b, func(c *issuers.TwilioConfig) { c.Region = "ie1" })
	req := issuers.Request{UserID: "alice", RoomID: "DailyStandup"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := is.Issue(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
