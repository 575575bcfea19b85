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
)

const (
	trtcAppID  = 1400000001
	trtcSecret = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
	trtcOther  = "0000000000000000000000000000000000000000000000000000000000000001"
)

// The Caddyfile of the README's TRTC section: issuers behind a Seayoo
// login, and room APIs that check TRTC tokens.
const trtcCaddyfile = `
{ADDR} {
	route /tokens/trtc {
		gameauth {
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
		}
		gameauth_issuer trtc {
			sdk_app_id 1400000001
			secret {env.TRTC_SECRET_KEY}
			ttl 2h
			allow_publish
		}
	}
	route /tokens/trtc-rooms/* {
		gameauth {
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
		}
		gameauth_issuer trtc {
			sdk_app_id 1400000001
			secret {env.TRTC_SECRET_KEY}
			room_type string
			rooms {http.request.uri.path.2}
		}
	}
	handle /im/* {
		gameauth {
			claim_headers all
			trtc {
				sdk_app_id 1400000001
				secret {env.TRTC_SECRET_KEY}
			}
		}
		reverse_proxy {UPSTREAM}
	}
	handle /rooms/* {
		gameauth {
			claim_headers all
			trtc {
				sdk_app_id 1400000001
				secrets {env.TRTC_OLD_KEY} {env.TRTC_SECRET_KEY}
				room {http.request.uri.path.1}
			}
		}
		reverse_proxy {UPSTREAM}
	}
	handle /stage/* {
		gameauth {
			trtc {
				sdk_app_id 1400000001
				secret {env.TRTC_SECRET_KEY}
				room {http.request.uri.path.1}
				publish
			}
		}
		reverse_proxy {UPSTREAM}
	}
}
`

// trtcNodeToken is what interop/trtc_mint.js prints.
type trtcNodeToken struct {
	Token string `json:"token"`
}

// trtcCheck is what interop/trtc_check.js prints.
type trtcCheck struct {
	OK        bool     `json:"ok"`
	Errors    []string `json:"errors"`
	Identical bool     `json:"identical"`
}

func TestIntegrationTRTC(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	t.Setenv("TRTC_SECRET_KEY", trtcSecret)
	t.Setenv("TRTC_OLD_KEY", trtcOther)
	up := newUpstream(t)
	base := runCaddyfile(t, trtcCaddyfile, up)
	login := bearer(seayooToken(t, "3001", nil))

	// Tokens made by Tencent's npm tls-sig-api-v2.
	now := time.Now().Unix()
	mint := []map[string]any{
		{"kind": "usersig", "userid": "3001", "expire": 600},
		{"kind": "map", "userid": "3001", "expire": 600, "room": 10000, "privilege": 255},
		{"kind": "map", "userid": "3002", "expire": 600, "room": 10000, "privilege": 42},
		{"kind": "strmap", "userid": "3003", "expire": 600, "room": "arena-7", "privilege": 255},
		{"kind": "usersig", "userid": "3001", "expire": 60, "now": now - 3600},
		{"kind": "usersig", "userid": "3001", "expire": 600, "sdkappid": trtcAppID + 1},
		{"kind": "usersig", "userid": "3001", "expire": 600, "key": "1111111111111111111111111111111111111111111111111111111111111111"},
		{"kind": "map", "userid": "3004", "expire": 600, "room": 10000, "privilege": 1},
	}
	for _, m := range mint {
		if m["sdkappid"] == nil {
			m["sdkappid"] = trtcAppID
		}
		if m["key"] == nil {
			m["key"] = trtcSecret
		}
	}
	var tok []trtcNodeToken
	nodetest.Run(t, "trtc_mint.js", mint, &tok, "tls-sig-api-v2")
	if len(tok) != len(mint) {
		t.Fatalf("%d tokens", len(tok))
	}

	want := func(t *testing.T, path, token string, status int, reason string) response {
		t.Helper()
		r := get(t, base+path, bearer(token))
		if r.status != status {
			t.Fatalf("%s: status %d, want %d (%s)", path, r.status, status, r.header.Get("WWW-Authenticate"))
		}
		if reason != "" && !strings.Contains(r.header.Get("WWW-Authenticate"), `error_description="`+reason+`"`) {
			t.Errorf("%s: challenge %q, want reason %q", path, r.header.Get("WWW-Authenticate"), reason)
		}
		return r
	}

	t.Run("npm UserSig", func(t *testing.T) {
		want(t, "/im/inbox", tok[0].Token, 200, "")
		seen := up.take()
		if len(seen) != 1 || seen[0].Get("X-Auth-User-Id") != "3001" || seen[0].Get("X-Auth-Provider") != "trtc" || seen[0].Get("X-Auth-Sdk-App-Id") != "1400000001" {
			t.Fatalf("upstream saw %v", seen)
		}
		// A UserSig names no room.
		want(t, "/rooms/10000/state", tok[0].Token, http.StatusForbidden, "wrong room")
	})

	t.Run("npm PrivateMapKey on its room, refused on another", func(t *testing.T) {
		want(t, "/rooms/10000/state", tok[1].Token, 200, "")
		seen := up.take()
		if len(seen) != 1 || seen[0].Get("X-Auth-User-Id") != "3001" || seen[0].Get("X-Auth-Room-Id") != "10000" || seen[0].Get("X-Auth-Privilege-Map") != "255" {
			t.Fatalf("upstream saw %v", seen)
		}
		for range 3 { // and from the verified token cache
			want(t, "/rooms/10001/state", tok[1].Token, http.StatusForbidden, "wrong room")
			want(t, "/rooms/10000/state", tok[1].Token, 200, "")
		}
		want(t, "/stage/10000/mic", tok[1].Token, 200, "")
		want(t, "/stage/10000/mic", tok[2].Token, http.StatusForbidden, "publish not allowed")
		// A map without the enter-room bit is no key to the room.
		want(t, "/rooms/10000/state", tok[7].Token, http.StatusForbidden, "wrong room")
		up.take()
	})

	t.Run("npm PrivateMapKey with a string room", func(t *testing.T) {
		want(t, "/rooms/arena-7/state", tok[3].Token, 200, "")
		if seen := up.take(); len(seen) != 1 || seen[0].Get("X-Auth-Room-Id") != "arena-7" || seen[0].Get("X-Auth-Room-Type") != "string" {
			t.Fatalf("upstream saw %v", seen)
		}
		want(t, "/rooms/arena-8/state", tok[3].Token, http.StatusForbidden, "wrong room")
	})

	t.Run("refused tokens", func(t *testing.T) {
		good := tok[1].Token
		blob, err := base64.StdEncoding.DecodeString(strings.NewReplacer("*", "+", "-", "/", "_", "=").Replace(good))
		if err != nil {
			t.Fatal(err)
		}
		tampered := bytes.Clone(blob)
		tampered[len(tampered)/2] ^= 0x10
		var bomb bytes.Buffer
		w, _ := zlib.NewWriterLevel(&bomb, zlib.BestCompression)
		w.Write([]byte(`{"TLS.ver":"2.0","TLS.identifier":"`))
		w.Write(bytes.Repeat([]byte("a"), 5<<20))
		w.Close()
		esc := func(b []byte) string {
			return strings.NewReplacer("+", "*", "/", "-", "=", "_").Replace(base64.StdEncoding.EncodeToString(b))
		}
		for _, c := range []struct{ name, token, reason string }{
			{"expired", tok[4].Token, "token expired"},
			{"other app", tok[5].Token, "wrong audience"},
			{"other key", tok[6].Token, "bad signature"},
			{"tampered", esc(tampered), "malformed token"},
			{"truncated", good[:len(good)-12], "malformed token"},
			{"zlib bomb", esc(bomb.Bytes()), "malformed token"},
		} {
			t.Run(c.name, func(t *testing.T) {
				want(t, "/rooms/10000/state", c.token, http.StatusUnauthorized, c.reason)
				want(t, "/im/x", c.token, http.StatusUnauthorized, c.reason)
			})
		}
		if n := len(up.take()); n != 0 {
			t.Errorf("upstream saw %d requests", n)
		}
	})

	t.Run("our tokens", func(t *testing.T) {
		issue := func(t *testing.T, path, body string) map[string]any {
			t.Helper()
			r := do(t, http.MethodPost, base+path, with(login, "Content-Type", "application/json"), body)
			if r.status != 200 {
				t.Fatalf("%s %s: status %d %s", path, body, r.status, r.body)
			}
			m := mustJSON(t, r.body)
			if m["user_id"] != "3001" || m["expires_in"] != float64(7200) && !strings.HasPrefix(path, "/tokens/trtc-rooms/") {
				t.Errorf("answer %v", m)
			}
			return m
		}
		sig := issue(t, "/tokens/trtc", "")
		want(t, "/im/x", sig["token"].(string), 200, "")
		want(t, "/rooms/10000/x", sig["token"].(string), http.StatusForbidden, "wrong room")
		key := issue(t, "/tokens/trtc", `{"room_id":"10000","publish":true}`)
		want(t, "/stage/10000/x", key["token"].(string), 200, "")
		want(t, "/stage/10001/x", key["token"].(string), http.StatusForbidden, "wrong room")
		listen := issue(t, "/tokens/trtc", `{"room_id":"10000"}`)
		want(t, "/rooms/10000/x", listen["token"].(string), 200, "")
		want(t, "/stage/10000/x", listen["token"].(string), http.StatusForbidden, "publish not allowed")
		str := issue(t, "/tokens/trtc-rooms/arena-7", "")
		if str["room_id"] != "arena-7" || str["expires_in"] != float64(3600) {
			t.Errorf("answer %v", str)
		}
		want(t, "/rooms/arena-7/x", str["token"].(string), 200, "")
		up.take()

		// Tencent's own code accepts them and would write the same JSON.
		var res []trtcCheck
		in := []map[string]any{
			{"token": sig["token"], "kind": "usersig", "expire": 7200},
			{"token": key["token"], "kind": "map", "expire": 7200, "room": 10000, "privilege": 255},
			{"token": listen["token"], "kind": "map", "expire": 7200, "room": 10000, "privilege": 171},
			{"token": str["token"], "kind": "strmap", "expire": 3600, "room": "arena-7", "privilege": 171},
		}
		for _, m := range in {
			m["sdkappid"], m["key"], m["userid"] = trtcAppID, trtcSecret, "3001"
		}
		nodetest.Run(t, "trtc_check.js", in, &res, "tls-sig-api-v2")
		for i, r := range res {
			if !r.OK || !r.Identical {
				t.Errorf("token %d: tls-sig-api-v2 says %q, identical %v", i, r.Errors, r.Identical)
			}
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		for _, c := range []struct {
			path, body string
			status     int
		}{
			{"/tokens/trtc", `{"room_id":"arena"}`, http.StatusBadRequest},
			{"/tokens/trtc", `{"publish":true}`, http.StatusBadRequest},
			{"/tokens/trtc", `{"room_id":"1","stream_ids":["s"]}`, http.StatusBadRequest},
			{"/tokens/trtc", `{"user_id":"admin"}`, http.StatusBadRequest},
			{"/tokens/trtc-rooms/arena-7", `{"room_id":"arena-8"}`, http.StatusForbidden},
			{"/tokens/trtc-rooms/arena-7", `{"room_id":"arena-7","publish":true}`, http.StatusForbidden},
		} {
			r := do(t, http.MethodPost, base+c.path, with(login, "Content-Type", "application/json"), c.body)
			if r.status != c.status {
				t.Errorf("%s %s: status %d %s", c.path, c.body, r.status, r.body)
			}
		}
	})
}
