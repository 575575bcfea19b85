package caddyauth_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/golang-jwt/jwt/v5"
)

func TestIntegrationClaimRules(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	up := newUpstream(t)
	base := runCaddyfile(t, `
{ADDR} {
	handle /adult/* {
		gameauth {
			claim_headers all
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
			require age >= 18
			require idp seayoo taptap weixin
			require distro android ios
		}
		reverse_proxy {UPSTREAM}
	}
	handle /lenient/* {
		gameauth {
			claim_headers all
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
			require age >= 18 allow_unknown
		}
		reverse_proxy {UPSTREAM}
	}
	handle /own/* {
		gameauth {
			claim_headers all
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
			require id {http.request.uri.path.1}
		}
		reverse_proxy {UPSTREAM}
	}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}
`, up)
	tok := func(age any, idp, distro string) string {
		return seayooToken(t, "7001", func(c jwt.MapClaims) {
			c["age"], c["idp"], c["distro"] = age, idp, distro
			if age == nil {
				delete(c, "age")
			}
		})
	}
	cases := []struct {
		name, path, token string
		status            int
		reason            string
	}{
		{"adult passes", "/adult/x", tok(18, "taptap", "ios"), 200, ""},
		{"minor refused", "/adult/x", tok(16, "taptap", "ios"), 403, "claim rule failed: age >= 18"},
		{"unknown age refused", "/adult/x", tok(0, "taptap", "ios"), 403, "claim rule failed: age >= 18"},
		{"idp not allowed", "/adult/x", tok(30, "guest", "ios"), 403, "claim rule failed: idp one of seayoo taptap weixin"},
		{"distro not allowed", "/adult/x", tok(30, "seayoo", "pc"), 403, "claim rule failed: distro one of android ios"},
		{"unknown age allowed where the route says so", "/lenient/x", tok(0, "guest", "pc"), 200, ""},
		{"absent age allowed where the route says so", "/lenient/x", tok(nil, "guest", "pc"), 200, ""},
		{"minor still refused on lenient route", "/lenient/x", tok(12, "guest", "pc"), 403, "claim rule failed: age >= 18"},
		{"template rule: own path", "/own/7001", tok(20, "guest", "pc"), 200, ""},
		{"template rule: other's path", "/own/7002", tok(20, "guest", "pc"), 403, "claim rule failed: id one of {http.request.uri.path.1}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := get(t, base+c.path, bearer(c.token))
			if r.status != c.status {
				t.Fatalf("status %d, want %d (%s)", r.status, c.status, r.body)
			}
			if c.reason != "" && r.body != c.reason {
				t.Errorf("reason %q, want %q", r.body, c.reason)
			}
			want := 0
			if c.status == 200 {
				want = 1
			}
			if n := len(up.take()); n != want {
				t.Errorf("upstream saw %d", n)
			}
		})
	}
}

func TestIntegrationOptionalPreflightForwardToken(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	up := newUpstream(t)
	base := runCaddyfile(t, `
{ADDR} {
	handle /optional/* {
		gameauth {
			claim_headers all
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
			optional
		}
		reverse_proxy {UPSTREAM}
	}
	handle /cors/* {
		gameauth {
			claim_headers all
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
			skip_preflight
		}
		reverse_proxy {UPSTREAM}
	}
	handle /ws/* {
		gameauth {
			claim_headers all
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
			from_websocket_protocol
			forward_token off
		}
		reverse_proxy {UPSTREAM}
	}
	handle /strip/* {
		gameauth {
			claim_headers all
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
			from_bearer
			from_query access_token
			from_cookie game_session
			forward_token off
		}
		reverse_proxy {UPSTREAM}
	}
}
`, up)
	tok := seayooToken(t, "8001", nil)
	forged := map[string][]string{"X-Auth-User-Id": {"admin"}, "X_Auth_Provider": {"seayoo"}}

	t.Run("optional: no token passes stripped", func(t *testing.T) {
		if r := get(t, base+"/optional/x", forged); r.status != 200 {
			t.Fatalf("%d", r.status)
		}
		seen := up.take()
		if ih := identityHeaders(seen[0]); len(ih) != 0 {
			t.Errorf("identity headers reached upstream: %v", ih)
		}
	})
	t.Run("optional: bad token is still 401", func(t *testing.T) {
		if r := get(t, base+"/optional/x", bearer("garbage.token.here")); r.status != 401 {
			t.Fatalf("%d", r.status)
		}
		if n := len(up.take()); n != 0 {
			t.Fatalf("upstream saw %d", n)
		}
	})
	t.Run("optional: good token sets identity", func(t *testing.T) {
		get(t, base+"/optional/x", bearer(tok))
		if seen := up.take(); seen[0].Get("X-Auth-User-Id") != "8001" {
			t.Fatalf("%v", seen[0])
		}
	})
	t.Run("skip_preflight: CORS preflight passes stripped", func(t *testing.T) {
		hdr := with(forged, "Origin", "https://game.example")
		hdr = with(hdr, "Access-Control-Request-Method", "POST")
		if r := do(t, http.MethodOptions, base+"/cors/x", hdr, ""); r.status != 200 {
			t.Fatalf("%d", r.status)
		}
		seen := up.take()
		if len(seen) != 1 || len(identityHeaders(seen[0])) != 0 {
			t.Fatalf("%v", seen)
		}
		// A plain OPTIONS is not a preflight.
		if r := do(t, http.MethodOptions, base+"/cors/x", nil, ""); r.status != 401 {
			t.Fatalf("plain OPTIONS: %d", r.status)
		}
		if r := get(t, base+"/cors/x", hdr); r.status != 401 {
			t.Fatalf("GET with Origin: %d", r.status)
		}
		up.take()
	})
	t.Run("websocket protocol token, not forwarded", func(t *testing.T) {
		hdr := map[string][]string{
			"Connection":             {"Upgrade"},
			"Upgrade":                {"websocket"},
			"Sec-WebSocket-Version":  {"13"},
			"Sec-WebSocket-Key":      {"dGhlIHNhbXBsZSBub25jZQ=="},
			"Sec-WebSocket-Protocol": {"access_token." + tok + ", game.v1"},
		}
		r := get(t, base+"/ws/chat", hdr)
		seen := up.take()
		if len(seen) != 1 {
			t.Fatalf("status %d, upstream saw %d", r.status, len(seen))
		}
		if seen[0].Get("X-Auth-User-Id") != "8001" {
			t.Errorf("identity %v", seen[0])
		}
		if got := seen[0].Get("Sec-Websocket-Protocol"); got != "game.v1" {
			t.Errorf("Sec-WebSocket-Protocol upstream = %q", got)
		}
		// Without the upgrade the subprotocol is not a token source.
		delete(hdr, "Upgrade")
		delete(hdr, "Connection")
		if r := get(t, base+"/ws/chat", hdr); r.status != 401 {
			t.Errorf("no upgrade: %d", r.status)
		}
		up.take()
	})
	t.Run("forward_token off removes the token from where it came", func(t *testing.T) {
		get(t, base+"/strip/x", bearer(tok))
		if seen := up.take(); seen[0].Get("Authorization") != "" || seen[0].Get("X-Auth-User-Id") != "8001" {
			t.Errorf("bearer: %v", seen[0])
		}
		get(t, base+"/strip/x", map[string][]string{"Cookie": {"theme=dark; game_session=" + tok + "; lang=en"}})
		if seen := up.take(); strings.Contains(seen[0].Get("Cookie"), tok) || !strings.Contains(seen[0].Get("Cookie"), "theme=dark") || !strings.Contains(seen[0].Get("Cookie"), "lang=en") {
			t.Errorf("cookie: %q", seen[0].Get("Cookie"))
		}
	})
}

// TestForwardTokenOffQuery checks what URL the upstream sees.
func TestForwardTokenOffQuery(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	var gotURI atomic.Value
	up := newUpstream(t)
	up.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotURI.Store(r.RequestURI)
	})
	base := runCaddyfile(t, `
{ADDR} {
	gameauth {
		claim_headers all
		seayoo {
			secret {env.SEAYOO_SECRET_KEY}
			game_id xcom
		}
		from_query access_token
		forward_token off
	}
	reverse_proxy {UPSTREAM}
}
`, up)
	tok := seayooToken(t, "8002", nil)
	if r := get(t, base+"/q?a=1&access_token="+tok+"&b=2", nil); r.status != 200 {
		t.Fatalf("%d", r.status)
	}
	if got := gotURI.Load().(string); got != "/q?a=1&b=2" {
		t.Fatalf("upstream URI %q", got)
	}
}

func TestIntegrationMetrics(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	t.Setenv("ZEGO_SERVER_SECRET", zegoSecret)
	up := newUpstream(t)
	base := runCaddyfile(t, `
{ADDR} {
	handle /metrics {
		metrics
	}
	handle /tokens/zego {
		gameauth {
			claim_headers all
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
		}
		gameauth_issuer zego {
			app_id 1234567890
			secret {env.ZEGO_SERVER_SECRET}
		}
	}
	handle {
		gameauth {
			claim_headers all
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
		}
		reverse_proxy {UPSTREAM}
	}
}
`, up)
	// A user id no number in the page can contain (a digits-only id once
	// matched a timing sum).
	tok := seayooToken(t, "player-qzx", nil)
	get(t, base+"/x", bearer(tok))
	get(t, base+"/x", bearer("bad"))
	get(t, base+"/x", nil)
	do(t, http.MethodPost, base+"/tokens/zego", bearer(tok), "")
	up.take()
	r := get(t, base+"/metrics", nil)
	for _, want := range []string{
		`caddy_gameauth_verifications_total{outcome="ok",provider="seayoo",reason=""} `,
		`caddy_gameauth_verifications_total{outcome="invalid",provider="seayoo",reason="malformed token"} 1`,
		`caddy_gameauth_verifications_total{outcome="invalid",provider="none",reason="missing token"} 1`,
		`caddy_gameauth_verification_duration_seconds_count{provider="seayoo"}`,
		`caddy_gameauth_tokens_issued_total{issuer="zego",outcome="ok"} 1`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(r.body, "player-qzx") || strings.Contains(r.body, tok[:20]) {
		t.Errorf("metrics carry a user id or token")
	}
}

// TestReloadUnderLoad rotates the Seayoo key with config reloads while a
// loopback load generator runs: no request may fail.
func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	up := newUpstream(t)
	port := freePort(t)
	config := func(secrets ...string) []byte {
		cf := fmt.Sprintf(`{
	admin off
	persist_config off
	log {
		level ERROR
	}
}
http://127.0.0.1:%d {
	gameauth {
		claim_headers all
		seayoo {
			secrets %s
			game_id xcom
		}
	}
	reverse_proxy %s
}
`, port, strings.Join(secrets, " "), up.addr())
		cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	startCaddy(t, config(seayooSecret))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	// Tokens signed with the old key stay valid while both keys are configured.
	newKey := "sk_rotated_key"
	oldTok := seayooToken(t, "1", nil)
	newTok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://api.seayoo.com", "aud": "xcom", "sub": "2", "scope": "auth", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(newKey))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var sent, failed, retried atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A connection queued on a listener that a reload closes is
			// reset by the kernel (Caddy reopens listeners with SO_REUSEPORT),
			// and a keep-alive connection idle at that instant is closed:
			// such a request never reached a handler, so, like any HTTP
			// client (RFC 9112 §9.3.1), the generator retries it (up to 3 times). What
			// must never happen is a request that gets an answer other than
			// 200, or that fails at every attempt.
			c := &http.Client{Timeout: 5 * time.Second}
			for i := 0; i < 2000 && ctx.Err() == nil; i++ {
				var resp *http.Response
				var err error
				for attempt := 0; attempt < 4; attempt++ {
					req, _ := http.NewRequest(http.MethodGet, base+"/x", nil)
					req.Header.Set("Authorization", "Bearer "+oldTok)
					resp, err = c.Do(req)
					if err == nil {
						break
					}
					retried.Add(1)
				}
				sent.Add(1)
				if err != nil || resp.StatusCode != 200 {
					if failed.Add(1) < 3 {
						t.Logf("failed: %v %v", err, resp)
					}
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	// Add the new key, then keep both, reloading under load.
	for i := range 6 {
		time.Sleep(50 * time.Millisecond)
		var err error
		if i%2 == 0 {
			err = caddy.Load(config(seayooSecret, newKey), true)
		} else {
			err = caddy.Load(config(newKey, seayooSecret), true)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if sent.Load() == 0 || failed.Load() != 0 {
		t.Fatalf("sent %d, failed %d", sent.Load(), failed.Load())
	}
	if r := get(t, base+"/x", bearer(newTok)); r.status != 200 {
		t.Fatalf("new key: %d", r.status)
	}
	// Removing the old key: its tokens are refused from then on.
	if err := caddy.Load(config(newKey), true); err != nil {
		t.Fatal(err)
	}
	if r := get(t, base+"/x", bearer(oldTok)); r.status != 401 {
		t.Fatalf("old key after removal: %d", r.status)
	}
	up.take()
	t.Logf("sent %d requests across 7 reloads: %d failed, %d connection-level retries", sent.Load(), failed.Load(), retried.Load())
}
