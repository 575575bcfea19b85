package caddyauth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestGameauthTokenCommand mints each kind the command knows and checks the
// token with the matching verifier.
func TestGameauthTokenCommand(t *testing.T) {
	ctx := t.Context()

	t.Run("zego", func(t *testing.T) {
		secret := "0123456789abcdef0123456789abcdef"
		tok, err := mintToken(ctx, tokenOptions{kind: "zego", user: "alice", appID: "1234567890",
			secretFile: writeFile(t, "zego", secret+"\n"), room: "r1", publish: true, streams: "s1,s2", mode: "cbc", ttl: 2 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := verifiers.NewZego(verifiers.ZegoConfig{AppID: 1234567890, Secrets: []string{secret}})
		id, err := v.Verify(ctx, tok.Token)
		if err != nil || id.Subject != "alice" {
			t.Fatalf("%v %v", id, err)
		}
		if err := v.Require(&id, verifiers.ZegoRequirement{Room: "r1", Stream: "s2"}); err != nil {
			t.Fatal(err)
		}
		if d := tok.ExpiresAt.Sub(tok.IssuedAt); d != 2*time.Hour {
			t.Errorf("ttl %v", d)
		}
	})

	t.Run("seayoo", func(t *testing.T) {
		t.Setenv("GAMEAUTH_TEST_SK", "sk_secret")
		tok, err := mintToken(ctx, tokenOptions{kind: "seayoo", user: "1001", secretEnv: "GAMEAUTH_TEST_SK", gameID: "xcom", claims: `{"idp":"seayoo","age":18}`})
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
		tok, err := mintToken(ctx, tokenOptions{kind: "twilio", user: "bob", accountSID: acct, apiKeySID: sid, secretFile: writeFile(t, "tw", secret), room: "squad"})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := verifiers.NewTwilio(verifiers.TwilioConfig{AccountSID: acct, Keys: []verifiers.TwilioKey{{SID: sid, Secret: secret}}})
		id, err := v.Verify(ctx, tok.Token)
		if err != nil || id.Subject != "bob" || v.Require(&id, "squad") != nil {
			t.Fatalf("%v %v", id, err)
		}
	})

	t.Run("cloudbase", func(t *testing.T) {
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		creds, _ := json.Marshal(map[string]string{"private_key_id": "k1", "env_id": "env-1",
			"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))})
		path := writeFile(t, "tcb.json", string(creds))
		tok, err := mintToken(ctx, tokenOptions{kind: "cloudbase", user: "player-1", credentialsFile: path, envID: "env-1"})
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
			o    tokenOptions
			want string
		}{
			{tokenOptions{kind: "zego", appID: "1"}, "--user is required"},
			{tokenOptions{kind: "agora", user: "a"}, `unknown kind "agora"`},
			{tokenOptions{user: "a"}, "name the kind"},
			{tokenOptions{kind: "zego", user: "a", appID: "x", secretEnv: "GAMEAUTH_TEST_ZEGO"}, "--app-id"},
			{tokenOptions{kind: "zego", user: "a", appID: "1"}, "--secret-file or --secret-env is required"},
			{tokenOptions{kind: "zego", user: "a", appID: "1", secretEnv: "GAMEAUTH_TEST_UNSET_VAR"}, "GAMEAUTH_TEST_UNSET_VAR is not set"},
			{tokenOptions{kind: "zego", user: "a", appID: "1", secretEnv: "GAMEAUTH_TEST_ZEGO", mode: "ecb"}, "--mode"},
			{tokenOptions{kind: "cloudbase", user: "a"}, "--credentials-file is required"},
		} {
			_, err := mintToken(ctx, c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%+v: error %v, want %q", c.o, err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "0123456789abcdef") {
				t.Errorf("error leaks the secret: %v", err)
			}
		}
	})
}
