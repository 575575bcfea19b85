package caddyauth_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// goFieldName matches the Go field names of the modules and of the
// libraries behind them: an error of `caddy validate` must name the option
// as the operator wrote it instead.
var goFieldName = regexp.MustCompile(`\b(Leeway|Secrets?|Keys|SID|AccountSID|APIKeySID|APIKeySecret|TTL|MaxTTL|DefaultTTL|CacheTTL|NegativeTTL|Timeout|CacheSize|MaxInFlight|Size|Refresh|Expire|EnvID|GameID|Issuer|ClientID|ClientToken|Server|ServerSecret|CredentialsJSON|CredentialsFiles|PublicKeys)\b`)

// validateCaddyfile adapts a Caddyfile whose one site holds body, and
// validates the result as `caddy validate` does (provisioning every
// module, without serving).
func validateCaddyfile(t *testing.T, body string) error {
	t.Helper()
	caddyfile := "{\n\tadmin off\n\tpersist_config off\n}\nhttp://127.0.0.1:0 {\n" + body + "\n}\n"
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting Caddyfile: %v\n%s", err, caddyfile)
	}
	caddyMu.Lock()
	defer caddyMu.Unlock()
	return caddy.Validate(mustConfig(t, string(cfg)))
}

// verify is a route verified by the one verifier block v.
func verify(v string) string {
	return "\tgameauth {\n" + v + "\n\t}\n\trespond ok"
}

// issue is a route that verifies a Seayoo token and issues with the issuer
// block iss (kind and options).
func issue(iss string) string {
	return "\troute {\n\t\tgameauth {\n\t\t\tseayoo {\n\t\t\t\tsecret sk_secret\n\t\t\t\tgame_id xcom\n\t\t\t}\n\t\t}\n" +
		"\t\tgameauth_issuer " + iss + "\n\t}"
}

// handlerWith is a gameauth handler with a Seayoo verifier and the given
// lines of its own.
func handlerWith(lines string) string {
	return verify("seayoo {\nsecret sk_secret\ngame_id xcom\n}\n" + lines)
}

// repeatLines is n lines of format, each given its index.
func repeatLines(format string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, format+"\n", i)
	}
	return b.String()
}

func TestConfigBounds(t *testing.T) {
	cbFile, err := filepath.Abs("../demo/tcb_custom_login.DEMO-ONLY.json")
	if err != nil {
		t.Fatal(err)
	}
	const (
		zegoSecret   = "0123456789abcdef0123456789abcdef"
		zegoSecret2  = "fedcba9876543210fedcba9876543210"
		twAccount    = "AC0123456789abcdef0123456789abcdef"
		twKey        = "SKfedcba9876543210fedcba9876543210"
		twKey2       = "SK0123456789abcdef0123456789abcdef"
		twSecret     = "twilio-api-key-secret-for-tests"
		shortTwilio  = "SHORTSECRET1234" // 15 bytes
		shortSeayoo  = "sk_ABCDE"        // 5 bytes after sk_
		noPrefix     = "TOPSECRETVALUE"
		shortZego    = "0123456789abcdef0123456789abcde" // 31 bytes
		lowestSeayoo = "sk_123456"
	)
	seayoo := func(opts string) string {
		return verify("\t\tseayoo {\n\t\t\tsecret sk_secret\n\t\t\tgame_id xcom\n" + opts + "\n\t\t}")
	}
	zego := func(opts string) string {
		return verify("\t\tzego {\n\t\t\tapp_id 1234567890\n\t\t\tsecret " + zegoSecret + "\n" + opts + "\n\t\t}")
	}
	twilio := func(opts string) string {
		return verify("\t\ttwilio {\n\t\t\taccount_sid " + twAccount + "\n" + opts + "\n\t\t}")
	}
	twilioKey := "api_key_sid " + twKey + "\napi_key_secret " + twSecret + "\n"
	cloudbase := func(opts string) string {
		return verify("\t\tcloudbase {\n\t\t\tcredentials_file " + cbFile + "\n" + opts + "\n\t\t}")
	}
	taptap := func(opts string) string {
		return verify("\t\ttaptap {\n\t\t\tserver https://abcd1234.cloud.tds1.tapapis.cn\n\t\t\tclient_id tds-id\n\t\t\tclient_token tds-token\n" + opts + "\n\t\t}")
	}
	zegoIssuer := func(opts string) string {
		return issue("zego {\n\t\t\tapp_id 1234567890\n\t\t\tsecret " + zegoSecret + "\n" + opts + "\n\t\t}")
	}
	twilioIssuer := func(secret, opts string) string {
		return issue("twilio {\n\t\t\taccount_sid " + twAccount + "\n\t\t\tapi_key_sid " + twKey + "\n\t\t\tapi_key_secret " + secret + "\n" + opts + "\n\t\t}")
	}
	cloudbaseIssuer := func(opts string) string {
		return issue("cloudbase {\n\t\t\tcredentials_file " + cbFile + "\n\t\t\tenv_id demo-env-1a2b3c\n" + opts + "\n\t\t}")
	}
	manyCredentials := strings.Repeat("credentials_file "+cbFile+"\n", 8)

	tests := []struct {
		name   string
		config string
		want   []string // substrings of the error, in order; none: the config is valid
		hidden string   // a secret the error must not contain
	}{
		// Leeway: at most 5m on every verifier.
		{name: "zego leeway ten years", config: zego("leeway 87600h"),
			want: []string{"zego: leeway 87600h exceeds the maximum of 5m: a larger clock skew accepts expired tokens"}},
		{name: "seayoo leeway 6m", config: seayoo("leeway 6m"), want: []string{"seayoo: leeway 6m exceeds the maximum of 5m", "expired tokens"}},
		{name: "twilio leeway 1h", config: twilio(twilioKey + "leeway 1h"), want: []string{"twilio: leeway 1h exceeds the maximum of 5m", "expired tokens"}},
		{name: "cloudbase leeway 5m1s", config: cloudbase("leeway 5m1s"), want: []string{"cloudbase: leeway 5m1s exceeds the maximum of 5m", "expired tokens"}},
		{name: "leeways of 5m", config: zego("leeway 5m") + "\n" + seayoo("leeway 5m")},
		{name: "twilio and cloudbase leeways of 5m", config: twilio(twilioKey+"leeway 5m") + "\n" + cloudbase("leeway 5m")},

		// Lifetimes of issued tokens.
		{name: "zego issuer ttl ten years", config: zegoIssuer("ttl 87600h"),
			want: []string{"zego issuer: ttl 87600h exceeds the maximum of 24h: an issued token cannot be revoked before it expires"}},
		{name: "zego issuer max_ttl ten years", config: zegoIssuer("max_ttl 87600h"), want: []string{"zego issuer: max_ttl 87600h exceeds the maximum of 24h", "cannot be revoked"}},
		{name: "zego issuer ttl over max_ttl", config: zegoIssuer("ttl 2h\nmax_ttl 1h"), want: []string{"zego issuer: ttl 2h exceeds max_ttl 1h"}},
		{name: "zego issuer max_ttl under the default ttl", config: zegoIssuer("max_ttl 30m")},
		{name: "zego issuer sub-second ttl", config: zegoIssuer("ttl 500ms"), want: []string{"zego issuer: ttl 500ms is below the minimum of 1s", "whole seconds"}},
		{name: "zego issuer at the bounds", config: zegoIssuer("ttl 24h\nmax_ttl 24h")},
		{name: "twilio issuer ttl 25h", config: twilioIssuer(twSecret, "ttl 25h"), want: []string{"twilio issuer: ttl 25h exceeds the maximum of 24h: Twilio refuses"}},
		{name: "twilio issuer fractional ttl", config: twilioIssuer(twSecret, "ttl 1500ms"), want: []string{"twilio issuer: ttl 1.5s is not a whole number of seconds"}},
		{name: "twilio issuer ttl 24h", config: twilioIssuer(twSecret, "ttl 24h")},
		{name: "cloudbase issuer refresh 48h", config: cloudbaseIssuer("refresh 48h"), want: []string{"cloudbase issuer: refresh 48h exceeds the maximum of 24h"}},
		{name: "cloudbase issuer expire ten years", config: cloudbaseIssuer("expire 87600h"),
			want: []string{"cloudbase issuer: expire 87600h exceeds the maximum of 720h: a login cannot be revoked before it expires"}},
		{name: "cloudbase issuer refresh over expire", config: cloudbaseIssuer("refresh 2h\nexpire 1h"), want: []string{"cloudbase issuer: refresh 2h exceeds expire 1h"}},
		{name: "cloudbase issuer sub-second expire", config: cloudbaseIssuer("refresh 1s\nexpire 500ms"), want: []string{"cloudbase issuer: expire 500ms is below the minimum of 1s"}},
		{name: "cloudbase issuer at the bounds", config: cloudbaseIssuer("refresh 24h\nexpire 720h")},

		// TapTap.
		{name: "taptap cache_ttl a year", config: taptap("cache_ttl 8760h"),
			want: []string{"taptap: cache_ttl 8760h exceeds the maximum of 10m: a session revoked at LeanCloud stays accepted for up to cache_ttl"}},
		{name: "taptap negative_ttl over the default cache_ttl", config: taptap("negative_ttl 2m"), want: []string{"taptap: negative_ttl 2m exceeds cache_ttl 1m"}},
		{name: "taptap negative_ttl over cache_ttl", config: taptap("cache_ttl 10s\nnegative_ttl 11s"), want: []string{"taptap: negative_ttl 11s exceeds cache_ttl 10s"}},
		{name: "taptap timeout 1h", config: taptap("timeout 1h"), want: []string{"taptap: timeout 1h exceeds the maximum of 30s"}},
		{name: "taptap cache_size", config: taptap("cache_size 100000000"), want: []string{"taptap: cache_size 100000000 exceeds the maximum of 1000000 entries", "memory"}},
		{name: "taptap max_in_flight", config: taptap("max_in_flight 100000"), want: []string{"taptap: max_in_flight 100000 exceeds the maximum of 1024 calls"}},
		{name: "taptap at the bounds", config: taptap("cache_ttl 10m\nnegative_ttl 10m\ntimeout 30s\ncache_size 1000000\nmax_in_flight 1024")},
		{name: "taptap plain http to a remote server", config: verify("taptap {\nserver http://example.com\nclient_id id\nclient_token tok\n}"), want: []string{"taptap: server must use https"}},

		// cache_size of the signed-token verifiers.
		{name: "seayoo cache_size", config: seayoo("cache_size 100000000"), want: []string{"seayoo: cache_size 100000000 exceeds the maximum of 1000000 entries", "memory"}},
		{name: "zego cache_size one over", config: zego("cache_size 1000001"), want: []string{"zego: cache_size 1000001 exceeds the maximum of 1000000 entries"}},
		{name: "cache_size at the bound and off", config: zego("cache_size 1000000") + "\n" + seayoo("cache_size off")},

		// Secrets.
		{name: "twilio 1-byte api_key_secret", config: twilio("api_key_sid " + twKey + "\napi_key_secret x"), want: []string{"twilio: api_key_secret is too short: want at least 16 bytes"}},
		{name: "twilio 15-byte api_key_secret", config: twilio("api_key_sid " + twKey + "\napi_key_secret " + shortTwilio), want: []string{"twilio: api_key_secret is too short"}, hidden: shortTwilio},
		{name: "twilio short key line secret", config: twilio(twilioKey + "key " + twKey2 + " " + shortTwilio), want: []string{"twilio: key #1 secret is too short"}, hidden: shortTwilio},
		{name: "twilio issuer 1-byte api_key_secret", config: twilioIssuer("x", ""), want: []string{"twilio issuer: api_key_secret is too short"}},
		{name: "twilio issuer 15-byte api_key_secret", config: twilioIssuer(shortTwilio, ""), want: []string{"twilio issuer: api_key_secret is too short"}, hidden: shortTwilio},
		{name: "twilio 16-byte api_key_secret", config: twilio("api_key_sid " + twKey + "\napi_key_secret 0123456789abcdef")},
		{name: "twilio repeated key", config: twilio(twilioKey + "key " + twKey + " " + twSecret), want: []string{"twilio: key #1 sid repeats api_key_sid"}},
		{name: "twilio bad account_sid", config: verify("twilio {\naccount_sid AC123\n" + twilioKey + "}"), want: []string{`twilio: account_sid must be "AC" followed by 32 lower-case hex digits`}},
		{name: "twilio issuer bad api_key_sid", config: issue("twilio {\naccount_sid " + twAccount + "\napi_key_sid SK123\napi_key_secret " + twSecret + "\n}"), want: []string{"twilio issuer: api_key_sid must be"}},
		{name: "seayoo 1-byte secret", config: verify("seayoo {\nsecret x\ngame_id xcom\n}"), want: []string{`seayoo: secret must start with "sk_"`}},
		{name: "seayoo secret without sk_", config: verify("seayoo {\nsecret " + noPrefix + "\ngame_id xcom\n}"), want: []string{`seayoo: secret must start with "sk_"`}, hidden: noPrefix},
		{name: "seayoo sk_ and 5 bytes", config: verify("seayoo {\nsecret " + shortSeayoo + "\ngame_id xcom\n}"), want: []string{`seayoo: secret is too short: want "sk_" and at least 6 more bytes`}, hidden: shortSeayoo},
		{name: "seayoo short second secret", config: seayoo("secrets " + lowestSeayoo + " " + shortSeayoo), want: []string{"seayoo: secrets #2 is too short"}, hidden: shortSeayoo},
		{name: "seayoo sk_ and 6 bytes", config: verify("seayoo {\nsecret " + lowestSeayoo + "\ngame_id xcom\n}")},
		{name: "seayoo repeated secret", config: seayoo("secrets sk_secret"), want: []string{"seayoo: secrets #1 repeats secret"}},
		{name: "seayoo nine secrets", config: seayoo("secrets sk_secret1 sk_secret2 sk_secret3 sk_secret4 sk_secret5 sk_secret6 sk_secret7 sk_secret8"),
			want: []string{"seayoo: 9 secrets (secret and secrets together) exceed the maximum of 8"}},
		{name: "seayoo game_id with a space", config: verify("seayoo {\nsecret sk_secret\ngame_id \" xcom\"\n}"), want: []string{"seayoo: game_id must be"}},
		{name: "zego 31-byte secret", config: verify("zego {\napp_id 1\nsecret " + shortZego + "\n}"), want: []string{"zego: secret must be exactly 32 printable ASCII characters"}, hidden: shortZego},
		{name: "zego bad second secret", config: zego("secrets " + zegoSecret2 + " " + shortZego), want: []string{"zego: secrets #2 must be exactly 32"}, hidden: shortZego},
		{name: "zego repeated secret", config: zego("secrets " + zegoSecret2 + " " + zegoSecret), want: []string{"zego: secrets #2 repeats secret"}},
		{name: "zego issuer 31-byte secret", config: issue("zego {\napp_id 1\nsecret " + shortZego + "\n}"), want: []string{"zego issuer: secret must be exactly 32"}, hidden: shortZego},
		{name: "cloudbase nine keys", config: cloudbase(manyCredentials), want: []string{"cloudbase: 9 keys (credentials_file and public_key together) exceed the maximum of 8"}},
		{name: "cloudbase repeated key", config: cloudbase("credentials_file " + cbFile), want: []string{"cloudbase: the key id of credentials_file " + cbFile + " repeats"}},

		// The handler's own lists and strings.
		{name: "33 header lines", config: handlerWith(repeatLines("header X-H%d {http.auth.user.id}", 33)), want: []string{"gameauth: header: at most 32 lines, got 33"}},
		{name: "32 header lines", config: handlerWith(repeatLines("header X-H%d {http.auth.user.id}", 32))},
		{name: "65 require lines", config: handlerWith(repeatLines("require age >= %d", 65)), want: []string{"gameauth: require: at most 64 lines, got 65"}},
		{name: "17 token sources", config: handlerWith(repeatLines("from_query t%d", 17)), want: []string{"gameauth: from_*: at most 16 token sources, got 17"}},
		{name: "257-byte realm", config: handlerWith("realm " + strings.Repeat("r", 257)), want: []string{"gameauth: realm: at most 256 bytes, got 257"}},
		{name: "65-byte header_prefix", config: handlerWith("header_prefix X-" + strings.Repeat("a", 62) + "-"), want: []string{"gameauth: header_prefix: at most 64 bytes, got 65"}},

		// Issue 14: configs that let a request choose an identity or pass a requirement.
		{name: "optional with require", config: handlerWith("optional\nrequire age >= 18"), want: []string{"gameauth: optional cannot be combined with require"}},
		{name: "optional with a zego room", config: verify("zego {\napp_id 1\nsecret " + zegoSecret + "\nroom {http.request.uri.path.1}\n}\noptional"),
			want: []string{"gameauth: optional cannot be combined with the room", "requirement of zego"}},
		{name: "header line from a request header", config: handlerWith("header X-Player {http.request.header.X-User}"),
			want: []string{"gameauth: header X-Player: the value may only use {http.auth.user.*} and {env.*} placeholders, not {http.request.header.X-User}"}},
		{name: "issuer user from a request header", config: zegoIssuer("user {http.request.header.X-User}"),
			want: []string{"gameauth_issuer: user may only use {http.auth.user.*} placeholders, not {http.request.header.X-User}"}},
		{name: "allow_publish on an issuer without publish", config: twilioIssuer(twSecret, "allow_publish"),
			want: []string{"gameauth_issuer: allow_publish is set but this issuer has no publish privilege"}},
		{name: "allow_streams with a * inside", config: zegoIssuer("allow_streams a*b"),
			want: []string{`gameauth_issuer: allow_streams "a*b": want a template, optionally ending in *`}},
		{name: "65 rooms", config: zegoIssuer("rooms " + strings.Join(strings.Fields(repeatLines("r%d", 65)), " ")), want: []string{"gameauth_issuer: rooms and allow_streams take at most 64 entries each"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateCaddyfile(t, tt.config)
			checkBoundError(t, err, tt.want, tt.hidden)
		})
	}
}

// TestConfigBoundsJSON checks values only a JSON config can hold (the
// Caddyfile refuses them when parsing), named as the JSON spells them.
func TestConfigBoundsJSON(t *testing.T) {
	const zego = `"verifier":"zego","app_id":1,"secret":"0123456789abcdef0123456789abcdef"`
	tests := []struct {
		name    string
		handler string
		want    string
	}{
		{"negative leeway", `{"handler":"gameauth","verifiers":[{` + zego + `,"leeway":-5000000000}]}`, "zego: leeway must not be negative, got -5s"},
		{"negative cache_size", `{"handler":"gameauth","verifiers":[{` + zego + `,"cache_size":-2}]}`, "zego: cache_size must be a positive number of entries, or -1 (off)"},
		{"negative taptap max_in_flight", `{"handler":"gameauth","verifiers":[{"verifier":"taptap","server":"https://a.example","client_id":"i","client_token":"t","max_in_flight":-1}]}`,
			"taptap: max_in_flight must be a positive number of calls"},
		{"negative issuer ttl", `{"handler":"gameauth_issuer","issuer":{"issuer":"zego","app_id":1,"secret":"0123456789abcdef0123456789abcdef","ttl":-1000000000}}`,
			"zego issuer: ttl must not be negative, got -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := `{"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"routes":[{"handle":[` + tt.handler + `]}]}}}}}`
			caddyMu.Lock()
			err := validateConfig(t, cfg)
			caddyMu.Unlock()
			checkBoundError(t, err, []string{tt.want}, "")
		})
	}
}

// checkBoundError requires err to contain each of want (or to be nil when
// want is empty), never a Go field name, and never hidden.
func checkBoundError(t *testing.T, err error, want []string, hidden string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("valid config refused: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("config accepted; want an error with %q", want)
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not contain %q:\n%s", w, msg)
		}
	}
	if m := goFieldName.FindString(msg); m != "" {
		t.Errorf("error names the Go field %q instead of the option:\n%s", m, msg)
	}
	if hidden != "" && strings.Contains(msg, hidden) {
		t.Errorf("error contains the secret:\n%s", msg)
	}
	t.Log(msg)
}
