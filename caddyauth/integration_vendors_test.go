package caddyauth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	twilioAccount = "AC0123456789abcdef0123456789abcdef"
	twilioKeySID  = "SKfedcba9876543210fedcba9876543210"
	twilioSecret  = "twilio-api-key-secret-for-tests"
)

func TestIntegrationTwilio(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	t.Setenv("TWILIO_ACCOUNT_SID", twilioAccount)
	t.Setenv("TWILIO_API_KEY_SID", twilioKeySID)
	t.Setenv("TWILIO_API_KEY_SECRET", twilioSecret)
	up := newUpstream(t)
	base := runCaddyfile(t, `
{ADDR} {
	route /tokens/twilio {
		gameauth {
			claim_headers all
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
		}
		gameauth_issuer twilio {
			account_sid {env.TWILIO_ACCOUNT_SID}
			api_key_sid {env.TWILIO_API_KEY_SID}
			api_key_secret {env.TWILIO_API_KEY_SECRET}
			ttl 4h
		}
	}

	handle /video/* {
		gameauth {
			claim_headers all
			twilio {
				account_sid {env.TWILIO_ACCOUNT_SID}
				api_key_sid {env.TWILIO_API_KEY_SID}
				api_key_secret {env.TWILIO_API_KEY_SECRET}
				room {http.request.uri.path.1}
			}
		}
		reverse_proxy {UPSTREAM}
	}
}
`, up)
	login := bearer(seayooToken(t, "4001", nil))

	r := do(t, http.MethodPost, base+"/tokens/twilio", with(login, "Content-Type", "application/json"), `{"room":"squad-1"}`)
	if r.status != 200 {
		t.Fatalf("issue: %d %s", r.status, r.body)
	}
	m := mustJSON(t, r.body)
	if m["identity"] != "4001" || m["user_id"] != "4001" || m["expires_in"] != float64(4*3600) || m["room_id"] != "squad-1" {
		t.Fatalf("answer %v", m)
	}
	tok := m["token"].(string)

	if g := get(t, base+"/video/squad-1/join", bearer(tok)); g.status != 200 {
		t.Fatalf("own room: %d", g.status)
	}
	seen := up.take()
	if len(seen) != 1 || seen[0].Get("X-Auth-Provider") != "twilio" || seen[0].Get("X-Auth-User-Id") != "4001" || seen[0].Get("X-Auth-Room") != "squad-1" || seen[0].Get("X-Auth-Api-Key-Sid") != twilioKeySID {
		t.Fatalf("upstream saw %v", seen)
	}
	if g := get(t, base+"/video/squad-2/join", bearer(tok)); g.status != http.StatusForbidden {
		t.Fatalf("other room: %d", g.status)
	}
	// A Seayoo token is not a Twilio token.
	if g := get(t, base+"/video/squad-1/join", login); g.status != http.StatusUnauthorized {
		t.Fatalf("seayoo token on twilio route: %d", g.status)
	}
	if n := len(up.take()); n != 0 {
		t.Fatalf("upstream saw %d refused requests", n)
	}
	// The issuer takes no stream or publish fields.
	if r := do(t, http.MethodPost, base+"/tokens/twilio", with(login, "Content-Type", "application/json"), `{"publish":true}`); r.status != 400 {
		t.Fatalf("publish on twilio: %d", r.status)
	}
}

// writeCloudBaseKey writes a credentials file as the CloudBase console does,
// with a key made for the test.
func writeCloudBaseKey(t *testing.T, dir, keyID, env string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := json.Marshal(map[string]string{
		"private_key_id": keyID,
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"env_id":         env,
	})
	path := filepath.Join(dir, keyID+".json")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestIntegrationCloudBase(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	dir := t.TempDir()
	creds := writeCloudBaseKey(t, dir, "key-one", "my-env-1a2b3c")
	up := newUpstream(t)
	base := runCaddyfile(t, strings.ReplaceAll(`
{ADDR} {
	route /tokens/cloudbase {
		gameauth {
			claim_headers all
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
		}
		gameauth_issuer cloudbase {
			credentials_file CREDS
			env_id my-env-1a2b3c
		}
	}
	handle /cloud/* {
		gameauth {
			claim_headers all
			cloudbase {
				credentials_file CREDS
				env_id my-env-1a2b3c
			}
		}
		reverse_proxy {UPSTREAM}
	}
}
`, "CREDS", creds), up)

	r := do(t, http.MethodPost, base+"/tokens/cloudbase", bearer(seayooToken(t, "player-5001", nil)), "")
	if r.status != 200 {
		t.Fatalf("issue: %d %s", r.status, r.body)
	}
	m := mustJSON(t, r.body)
	ticket := m["token"].(string)
	if !strings.HasPrefix(ticket, "key-one/@@/") || m["user_id"] != "player-5001" || m["expires_in"] != float64(600) {
		t.Fatalf("answer %v", m)
	}
	if g := get(t, base+"/cloud/profile", bearer(ticket)); g.status != 200 {
		t.Fatalf("ticket: %d", g.status)
	}
	seen := up.take()
	if len(seen) != 1 || seen[0].Get("X-Auth-Provider") != "cloudbase" || seen[0].Get("X-Auth-User-Id") != "player-5001" {
		t.Fatalf("upstream saw %v", seen)
	}

	// A verified user id that breaks CloudBase's uid rule gets a 400, never a ticket.
	for _, sub := range []string{"abc", strings.Repeat("x", 33), "has space"} {
		r := do(t, http.MethodPost, base+"/tokens/cloudbase", bearer(seayooToken(t, sub, nil)), "")
		if r.status != http.StatusBadRequest || strings.Contains(r.body, "token\"") {
			t.Fatalf("uid %q: %d %s", sub, r.status, r.body)
		}
		if strings.Contains(r.body, sub) {
			t.Errorf("uid echoed in %s", r.body)
		}
	}
	// A ticket from another key is refused.
	if g := get(t, base+"/cloud/profile", bearer("key-two/@@/"+strings.SplitN(ticket, "/@@/", 2)[1])); g.status != http.StatusUnauthorized {
		t.Fatalf("unknown key id: %d", g.status)
	}
	if n := len(up.take()); n != 0 {
		t.Fatalf("upstream saw %d refused requests", n)
	}
}

func TestCloudBaseKeyFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "malformed.json")
	if err := os.WriteFile(bad, []byte(`{"private_key_id":"k","private_key":"not a pem","env_id":"e"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.json")
	for _, path := range []string{missing, bad} {
		for _, h := range []string{
			`{"handler":"gameauth_issuer","issuer":{"issuer":"cloudbase","credentials_file":%q,"env_id":"e"}}`,
			`{"handler":"gameauth","verifiers":[{"verifier":"cloudbase","credentials_files":[%q]}]}`,
		} {
			cfg := `{"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"routes":[{"handle":[` + fmt.Sprintf(h, path) + `]}]}}}}}`
			caddyMu.Lock()
			err := validateConfig(t, cfg)
			caddyMu.Unlock()
			if err == nil {
				t.Fatalf("%s accepted", path)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name %s: %v", path, err)
			}
			if strings.Contains(err.Error(), "not a pem") {
				t.Errorf("error leaks file content: %v", err)
			}
		}
	}
}

// fakeLeanCloud answers GET /1.1/users/me as LeanCloud documents it.
type fakeLeanCloud struct {
	srv   *httptest.Server
	calls atomic.Int64
	mode  atomic.Value // "ok", "down", "badkey"
}

func newFakeLeanCloud(t *testing.T) *fakeLeanCloud {
	f := &fakeLeanCloud{}
	f.mode.Store("ok")
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		switch f.mode.Load().(string) {
		case "down":
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case "badkey":
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":401,"error":"Unauthorized."}`)
			return
		case "slow":
			time.Sleep(50 * time.Millisecond)
		}
		if r.URL.Path != "/1.1/users/me" || r.Header.Get("X-LC-Id") != "tds-client-id" || r.Header.Get("X-LC-Key") != "tds-client-token" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":401,"error":"Unauthorized."}`)
			return
		}
		sess := r.Header.Get("X-LC-Session")
		if !strings.HasPrefix(sess, "good") {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"code":211,"error":"Could not find user."}`)
			return
		}
		fmt.Fprintf(w, `{"objectId":"obj-%s","username":"u","nickname":"Nick","shortId":"s1","sessionToken":%q,"authData":{"taptap":{"openid":"oid","unionid":"uid","access_token":"AT-secret","mac_key":"MK-secret"}}}`, sess, sess)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func TestIntegrationTapTap(t *testing.T) {
	lc := newFakeLeanCloud(t)
	t.Setenv("TDS_CLIENT_ID", "tds-client-id")
	t.Setenv("TDS_CLIENT_TOKEN", "tds-client-token")
	up := newUpstream(t)
	base := runCaddyfile(t, strings.ReplaceAll(`
{ADDR} {
	gameauth {
		claim_headers all
		taptap {
			server LEANCLOUD
			client_id {env.TDS_CLIENT_ID}
			client_token {env.TDS_CLIENT_TOKEN}
			timeout 2s
		}
	}
	reverse_proxy {UPSTREAM}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}
`, "LEANCLOUD", lc.srv.URL), up)

	sess := map[string][]string{"X-LC-Session": {"good-session-1"}, "X-Auth-User-Id": {"admin"}}
	r := get(t, base+"/me", sess)
	if r.status != 200 {
		t.Fatalf("valid: %d %s", r.status, r.body)
	}
	seen := up.take()
	if len(seen) != 1 || seen[0].Get("X-Auth-User-Id") != "obj-good-session-1" || seen[0].Get("X-Auth-Provider") != "taptap" || seen[0].Get("X-Auth-Openid") != "oid" {
		t.Fatalf("upstream saw %v", seen)
	}
	for k, v := range seen[0] {
		if strings.Contains(strings.Join(v, ","), "secret") || strings.Contains(strings.Join(v, ","), "-secret") {
			t.Errorf("vendor secret forwarded in %s", k)
		}
	}

	t.Run("concurrent requests with one token make one LeanCloud call", func(t *testing.T) {
		lc.mode.Store("slow")
		defer lc.mode.Store("ok")
		before := lc.calls.Load()
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range 1000 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := get(t, base+"/me", map[string][]string{"X-LC-Session": {"good-session-2"}}); r.status != 200 {
					failed.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := failed.Load(); n != 0 {
			t.Errorf("%d of 1000 requests failed", n)
		}
		if calls := lc.calls.Load() - before; calls != 1 {
			t.Errorf("LeanCloud calls = %d, want 1", calls)
		}
		up.take()
	})

	t.Run("invalid session is 401", func(t *testing.T) {
		r := get(t, base+"/me", map[string][]string{"X-LC-Session": {"revoked"}})
		if r.status != 401 {
			t.Fatalf("%d", r.status)
		}
	})

	t.Run("LeanCloud down is 503 with Retry-After and nothing forwarded", func(t *testing.T) {
		lc.mode.Store("down")
		defer lc.mode.Store("ok")
		r := get(t, base+"/me", map[string][]string{"X-LC-Session": {"good-but-unseen"}})
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("%d %v", r.status, r.header)
		}
		if n := len(up.take()); n != 0 {
			t.Fatalf("upstream saw %d", n)
		}
	})

	t.Run("LeanCloud refusing our credentials is 502", func(t *testing.T) {
		lc.mode.Store("badkey")
		defer lc.mode.Store("ok")
		r := get(t, base+"/me", map[string][]string{"X-LC-Session": {"good-other"}})
		if r.status != http.StatusBadGateway {
			t.Fatalf("%d", r.status)
		}
		if n := len(up.take()); n != 0 {
			t.Fatalf("upstream saw %d", n)
		}
	})
}
