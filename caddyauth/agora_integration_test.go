package caddyauth_test

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/nodetest"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

const (
	agoraAppID     = "970ca35de60c44645bbae8a215061b33"
	agoraCert      = "5cfd2fd1755d40ecb72977518be15d3b"
	agoraOtherApp  = "fedcba9876543210fedcba9876543210"
	agoraOtherCert = "0123456789abcdef0123456789abcdef"
)

// The Caddyfile of the README's Agora section: issuers behind Seayoo
// logins, and rooms and stages that check AccessToken2.
const agoraCaddyfile = `
{ADDR} {
	route /tokens/agora {
		gameauth {
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
		}
		gameauth_issuer agora {
			app_id {env.AGORA_APP_ID}
			app_certificate {env.AGORA_APP_CERTIFICATE}
			ttl 1h
			allow_publish
		}
	}
	route /tokens/agora-numeric {
		gameauth {
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
		}
		gameauth_issuer agora {
			app_id {env.AGORA_APP_ID}
			app_certificate {env.AGORA_APP_CERTIFICATE}
			uid numeric
		}
	}
	handle /rooms/* {
		gameauth {
			claim_headers all
			agora {
				app_id {env.AGORA_APP_ID}
				app_certificate {env.AGORA_APP_CERTIFICATE}
				channel {http.request.uri.path.1}
			}
		}
		reverse_proxy {UPSTREAM}
	}
	handle /stage/* {
		gameauth {
			agora {
				app_id {env.AGORA_APP_ID}
				app_certificate {env.AGORA_APP_CERTIFICATE}
				channel {http.request.uri.path.1}
				publish
			}
		}
		reverse_proxy {UPSTREAM}
	}
}
`

// agoraMint has npm agora-token's RtcTokenBuilder make tokens.
func agoraMint(t *testing.T, app, cert string, specs ...map[string]any) map[string]string {
	t.Helper()
	var out struct {
		Tokens map[string]string `json:"tokens"`
	}
	nodetest.Run(t, "agora_mint.js", map[string]any{"appId": app, "appCertificate": cert, "tokens": specs}, &out, "agora-token")
	return out.Tokens
}

func TestIntegrationAgora(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	t.Setenv("AGORA_APP_ID", agoraAppID)
	t.Setenv("AGORA_APP_CERTIFICATE", agoraCert)
	up := newUpstream(t)
	base := runCaddyfile(t, agoraCaddyfile, up)

	ours := agoraMint(t, agoraAppID, agoraCert,
		map[string]any{"name": "uid", "uid": 2882341273, "channel": "arena-7", "publisher": true, "tokenExpire": 600},
		map[string]any{"name": "account", "account": "12345678901234567", "channel": "arena-7", "publisher": false, "tokenExpire": 600},
		map[string]any{"name": "short", "account": "p", "channel": "arena-7", "publisher": true, "tokenExpire": 1},
	)
	short := time.Now().Add(1100 * time.Millisecond)
	other := agoraMint(t, agoraOtherApp, agoraOtherCert,
		map[string]any{"name": "app", "uid": 7, "channel": "arena-7", "publisher": true, "tokenExpire": 600})

	t.Run("npm tokens pass with their subject and channel", func(t *testing.T) {
		for name, want := range map[string]string{"uid": "2882341273", "account": "12345678901234567"} {
			r := get(t, base+"/rooms/arena-7/state", bearer(ours[name]))
			if r.status != 200 {
				t.Fatalf("%s: status %d %s", name, r.status, r.body)
			}
			seen := up.take()
			if len(seen) != 1 || seen[0].Get("X-Auth-User-Id") != want || seen[0].Get("X-Auth-Provider") != "agora" || seen[0].Get("X-Auth-Channel") != "arena-7" {
				t.Fatalf("%s: upstream saw %v", name, seen)
			}
		}
	})

	t.Run("publish required", func(t *testing.T) {
		if r := get(t, base+"/stage/arena-7", bearer(ours["uid"])); r.status != 200 {
			t.Errorf("publisher: status %d %s", r.status, r.body)
		}
		r := get(t, base+"/stage/arena-7", bearer(ours["account"]))
		if r.status != 403 || !strings.Contains(r.header.Get("WWW-Authenticate"), verifiers.ReasonPublishNotAllowed) {
			t.Errorf("subscriber: status %d %v", r.status, r.header)
		}
		up.take()
	})

	bomb := func() string {
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(make([]byte, 4<<20))
		w.Close()
		return "007" + base64.StdEncoding.EncodeToString(z.Bytes())
	}()
	tampered := []byte(ours["uid"])
	tampered[40] ^= 1
	refused := []struct {
		name, path, token string
		status            int
		reason            string
	}{
		{"other channel", "/rooms/arena-8/state", ours["uid"], 403, verifiers.ReasonWrongRoom},
		{"other app", "/rooms/arena-7/state", other["app"], 401, verifiers.ReasonWrongAudience},
		{"tampered", "/rooms/arena-7/state", string(tampered), 401, ""},
		{"truncated", "/rooms/arena-7/state", ours["uid"][:len(ours["uid"])-8], 401, verifiers.ReasonMalformedToken},
		{"zlib bomb", "/rooms/arena-7/state", bomb, 401, verifiers.ReasonMalformedToken},
		{"not base64", "/rooms/arena-7/state", "007***", 401, verifiers.ReasonMalformedToken},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			r := get(t, base+c.path, bearer(c.token))
			if r.status != c.status || !strings.Contains(r.header.Get("WWW-Authenticate"), c.reason) {
				t.Errorf("status %d, WWW-Authenticate %q; want %d %s", r.status, r.header.Get("WWW-Authenticate"), c.status, c.reason)
			}
			if seen := up.take(); len(seen) != 0 {
				t.Errorf("reached upstream")
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		time.Sleep(time.Until(short))
		r := get(t, base+"/rooms/arena-7/state", bearer(ours["short"]))
		if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), verifiers.ReasonTokenExpired) {
			t.Errorf("status %d %v", r.status, r.header)
		}
	})

	login := bearer(seayooToken(t, "12345678901234567", nil))
	issue := func(t *testing.T, path, body string) response {
		t.Helper()
		return do(t, http.MethodPost, base+path, with(login, "Content-Type", "application/json"), body)
	}

	t.Run("issued for the verified player, accepted on its channel", func(t *testing.T) {
		r := issue(t, "/tokens/agora", `{"channel":"arena-7","publish":true}`)
		if r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		m := mustJSON(t, r.body)
		if m["user_id"] != "12345678901234567" || m["expires_in"] != float64(3600) {
			t.Errorf("answer %v", m)
		}
		tok := m["token"].(string)
		if r := get(t, base+"/stage/arena-7", bearer(tok)); r.status != 200 {
			t.Errorf("stage: status %d", r.status)
		}
		if r := get(t, base+"/rooms/arena-8/x", bearer(tok)); r.status != 403 {
			t.Errorf("other channel: status %d", r.status)
		}
		up.take()
	})

	t.Run("room_id alias, subscriber", func(t *testing.T) {
		r := issue(t, "/tokens/agora", `{"room_id":"arena-7"}`)
		if r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		tok := mustJSON(t, r.body)["token"].(string)
		if r := get(t, base+"/stage/arena-7", bearer(tok)); r.status != 403 {
			t.Errorf("stage: status %d", r.status)
		}
	})

	for _, c := range []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"no channel", "/tokens/agora", ``, 400, "channel"},
		{"channel and room_id differ", "/tokens/agora", `{"channel":"a","room_id":"b"}`, 400, "differ"},
		{"bad channel", "/tokens/agora", `{"channel":"a/b"}`, 400, "channel"},
		{"streams", "/tokens/agora", `{"channel":"a","stream_ids":["s"]}`, 400, "stream_ids"},
		{"publish not allowed", "/tokens/agora-numeric", `{"channel":"a","publish":true}`, 403, "publish"},
		{"17-digit id as a numeric uid", "/tokens/agora-numeric", `{"channel":"a"}`, 400, "does not fit an Agora uid"},
		{"user named", "/tokens/agora", `{"channel":"a","uid":"1"}`, 400, "verified identity"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := issue(t, c.path, c.body)
			if r.status != c.status || !strings.Contains(r.body, c.msg) {
				t.Errorf("status %d %s; want %d with %q", r.status, r.body, c.status, c.msg)
			}
		})
	}
}
