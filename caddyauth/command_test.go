package caddyauth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mint runs the command's flag parsing and minting: args are the kind, then
// the flags.
func mint(t *testing.T, args ...string) (issuers.Token, error) {
	t.Helper()
	fs := tokenFlagSet(tokenKinds())
	fs.Init("gameauth-token", flag.ContinueOnError)
	if err := fs.Parse(args[1:]); err != nil {
		t.Fatal(err)
	}
	return mintToken(t.Context(), args[0], goFlags{fs})
}

// goFlags reads a parsed flag.FlagSet as the command reads caddycmd.Flags.
type goFlags struct{ fs *flag.FlagSet }

func (f goFlags) String(name string) string { return f.fs.Lookup(name).Value.String() }

func (f goFlags) Bool(name string) bool {
	v, _ := strconv.ParseBool(f.fs.Lookup(name).Value.String())
	return v
}

func (f goFlags) Duration(name string) time.Duration {
	d, _ := time.ParseDuration(f.fs.Lookup(name).Value.String())
	return d
}

// TestGameauthTokenCommand mints each kind the command knows and checks the
// token with the matching verifier.
func TestGameauthTokenCommand(t *testing.T) {
	ctx := t.Context()

	t.Run("zego", func(t *testing.T) {
		secret := "0123456789abcdef0123456789abcdef"
		tok, err := mint(t, "zego", "--user", "alice", "--app-id", "1234567890", "--secret-file", writeFile(t, "zego", secret+"\n"),
			"--room", "r1", "--publish", "--streams", "s1,s2", "--mode", "cbc", "--ttl", "2h")
		if err != nil {
			t.Fatal(err)
		}
		v, _ := verifiers.NewZego(verifiers.ZegoConfig{AppID: 1234567890, Secrets: []string{secret}})
		id, err := v.Verify(ctx, tok.Token)
		if err != nil || id.Subject != "alice" {
			t.Fatalf("%v %v", id, err)
		}
		for name, want := range map[string]string{"room_id": "r1", "publish": "1", "stream_ids": "s1,s2"} {
			if got, _ := id.Claim(name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if d := tok.ExpiresAt.Sub(tok.IssuedAt); d != 2*time.Hour {
			t.Errorf("ttl %v", d)
		}
	})

	t.Run("seayoo", func(t *testing.T) {
		t.Setenv("GAMEAUTH_TEST_SK", "sk_secret")
		tok, err := mint(t, "seayoo", "--user", "1001", "--secret-env", "GAMEAUTH_TEST_SK", "--game-id", "xcom", "--claims", `{"idp":"seayoo","age":18}`)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := verifiers.NewSeayoo(verifiers.SeayooConfig{Secrets: []string{"sk_secret"}, GameID: "xcom"})
		id, err := v.Verify(ctx, tok.Token)
		if err != nil || id.Subject != "1001" {
			t.Fatalf("%v %v", id, err)
		}
		if age, _ := id.Claim("age"); age != "18" {
			t.Errorf("age %q", age)
		}
	})

	t.Run("twilio", func(t *testing.T) {
		acct, sid, secret := "AC0123456789abcdef0123456789abcdef", "SKfedcba9876543210fedcba9876543210", "s3cret-api-key-secret"
		tok, err := mint(t, "twilio", "--user", "bob", "--account-sid", acct, "--api-key-sid", sid, "--secret-file", writeFile(t, "tw", secret), "--room", "squad")
		if err != nil {
			t.Fatal(err)
		}
		v, _ := verifiers.NewTwilio(verifiers.TwilioConfig{AccountSID: acct, Keys: []verifiers.TwilioKey{{SID: sid, Secret: secret}}})
		id, err := v.Verify(ctx, tok.Token)
		if room, _ := id.Claim("room"); err != nil || id.Subject != "bob" || room != "squad" {
			t.Fatalf("%v %v", id, err)
		}
	})

	t.Run("cloudbase", func(t *testing.T) {
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		creds, _ := json.Marshal(map[string]string{"private_key_id": "k1", "env_id": "env-1",
			"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))})
		path := writeFile(t, "tcb.json", string(creds))
		tok, err := mint(t, "cloudbase", "--user", "player-1", "--credentials-file", path, "--env-id", "env-1")
		if err != nil {
			t.Fatal(err)
		}
		k, env, err := verifiers.ParseCloudBaseKey(creds, "")
		if err != nil {
			t.Fatal(err)
		}
		v, _ := verifiers.NewCloudBase(verifiers.CloudBaseConfig{EnvID: env, Keys: []verifiers.CloudBaseKey{k}})
		if id, err := v.Verify(ctx, tok.Token); err != nil || id.Subject != "player-1" {
			t.Fatalf("%v %v", id, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		t.Setenv("GAMEAUTH_TEST_ZEGO", "0123456789abcdef0123456789abcdef")
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"zego", "--app-id", "1"}, "--user is required"},
			{[]string{"livekit", "--user", "a"}, `unknown kind "livekit": want agora, cloudbase, seayoo, trtc, twilio or zego`},
			{[]string{"", "--user", "a"}, "name the kind of token: agora, cloudbase, seayoo, trtc, twilio or zego"},
			{[]string{"zego", "--user", "a", "--app-id", "x", "--secret-env", "GAMEAUTH_TEST_ZEGO"}, "--app-id"},
			{[]string{"zego", "--user", "a", "--app-id", "1"}, "--secret-file or --secret-env is required"},
			{[]string{"zego", "--user", "a", "--app-id", "1", "--secret-env", "GAMEAUTH_TEST_UNSET_VAR"}, "GAMEAUTH_TEST_UNSET_VAR is not set"},
			{[]string{"zego", "--user", "a", "--app-id", "1", "--secret-env", "GAMEAUTH_TEST_ZEGO", "--mode", "ecb"}, "--mode"},
			{[]string{"cloudbase", "--user", "a"}, "--credentials-file is required"},
		} {
			_, err := mint(t, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%q: error %v, want %q", c.args, err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "0123456789abcdef") {
				t.Errorf("error leaks the secret: %v", err)
			}
		}
	})
}
