package caddyauth_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

const (
	zegoAppID  = 1234567890
	zegoSecret = "0123456789abcdef0123456789abcdef"
)

// The Caddyfile of the README's ZEGO section, plus an issuer that is not
// behind gameauth and a stream-checking route.
const zegoCaddyfile = `
{ADDR} {
	route /tokens/zego {
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
			ttl 2h
			allow_publish
			allow_streams s*
		}
	}
	route /tokens/lobby/* {
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
			mode cbc
			rooms {http.request.uri.path.2}
		}
	}
	route /unguarded/zego {
		gameauth_issuer zego {
			app_id 1234567890
			secret {env.ZEGO_SERVER_SECRET}
		}
	}

	handle /rooms/* {
		gameauth {
			claim_headers all
			zego {
				app_id 1234567890
				secret {env.ZEGO_SERVER_SECRET}
				room {http.request.uri.path.1}
			}
		}
		reverse_proxy {UPSTREAM}
	}
	handle /streams/* {
		gameauth {
			claim_headers all
			zego {
				app_id 1234567890
				secret {env.ZEGO_SERVER_SECRET}
				room {http.request.uri.path.1}
				stream {http.request.uri.path.2}
			}
		}
		reverse_proxy {UPSTREAM}
	}
}
`

func TestIntegrationZego(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	t.Setenv("ZEGO_SERVER_SECRET", zegoSecret)
	up := newUpstream(t)
	base := runCaddyfile(t, zegoCaddyfile, up)
	login := bearer(seayooToken(t, "3001", nil))

	zv, err := verifiers.NewZego(verifiers.ZegoConfig{AppID: zegoAppID, Secrets: []string{zegoSecret}})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(t *testing.T, path, body string, hdr map[string][]string) response {
		t.Helper()
		h := with(hdr, "Content-Type", "application/json")
		return do(t, http.MethodPost, base+path, h, body)
	}

	t.Run("identity token for the verified player", func(t *testing.T) {
		before := time.Now()
		r := issue(t, "/tokens/zego", "", login)
		if r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", r.header)
		}
		m := mustJSON(t, r.body)
		if m["user_id"] != "3001" {
			t.Errorf("user_id %v", m["user_id"])
		}
		if m["expires_in"] != float64(7200) {
			t.Errorf("expires_in %v", m["expires_in"])
		}
		exp := int64(m["expires_at"].(float64))
		if exp < before.Add(2*time.Hour).Unix()-1 || exp > time.Now().Add(2*time.Hour).Unix()+1 {
			t.Errorf("expires_at %d", exp)
		}
		id, err := zv.Verify(t.Context(), m["token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if id.Subject != "3001" {
			t.Errorf("token subject %q", id.Subject)
		}
		if v, _ := id.Claim("room_id"); v != "" {
			t.Errorf("identity token has room %q", v)
		}
	})

	t.Run("privilege token used on its room, refused on another", func(t *testing.T) {
		r := issue(t, "/tokens/zego", `{"room_id":"arena-7","publish":true,"stream_ids":["s1"]}`, login)
		if r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		tok := mustJSON(t, r.body)["token"].(string)

		ok := get(t, base+"/rooms/arena-7/state", bearer(tok))
		if ok.status != 200 {
			t.Fatalf("own room: status %d", ok.status)
		}
		seen := up.take()
		if len(seen) != 1 || seen[0].Get("X-Auth-User-Id") != "3001" || seen[0].Get("X-Auth-Provider") != "zego" || seen[0].Get("X-Auth-Room-Id") != "arena-7" {
			t.Fatalf("upstream saw %v", seen)
		}

		other := get(t, base+"/rooms/arena-8/state", bearer(tok))
		if other.status != http.StatusForbidden {
			t.Fatalf("other room: status %d", other.status)
		}
		if !strings.Contains(other.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Errorf("WWW-Authenticate %q", other.header.Get("WWW-Authenticate"))
		}
		// From the second use on, the token is answered from the verified
		// token cache; the room is still checked on every request.
		for range 3 {
			if g := get(t, base+"/rooms/arena-8/state", bearer(tok)); g.status != http.StatusForbidden {
				t.Fatalf("other room, cached token: status %d", g.status)
			}
			if g := get(t, base+"/rooms/arena-7/state", bearer(tok)); g.status != 200 {
				t.Fatalf("own room, cached token: status %d", g.status)
			}
		}
		if n := len(up.take()); n != 3 {
			t.Fatalf("upstream saw %d requests, want the 3 to the own room", n)
		}
		if s := get(t, base+"/streams/arena-7/s1", bearer(tok)); s.status != 200 {
			t.Errorf("allowed stream: status %d", s.status)
		}
		if s := get(t, base+"/streams/arena-7/s2", bearer(tok)); s.status != http.StatusForbidden {
			t.Errorf("other stream: status %d", s.status)
		}
		if n := len(up.take()); n != 1 {
			t.Errorf("upstream saw %d requests, want only the allowed stream", n)
		}
	})

	t.Run("login-only token cannot publish", func(t *testing.T) {
		r := issue(t, "/tokens/zego", `{"room_id":"arena-7"}`, login)
		tok := mustJSON(t, r.body)["token"].(string)
		if s := get(t, base+"/streams/arena-7/s1", bearer(tok)); s.status != http.StatusForbidden {
			t.Errorf("status %d", s.status)
		}
		up.take()
	})

	t.Run("GET with query fields", func(t *testing.T) {
		r := get(t, base+"/tokens/zego?room_id=lobby&publish=true&stream_ids=s1", login)
		if r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		id, err := zv.Verify(t.Context(), mustJSON(t, r.body)["token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := id.Claim("room_id"); v != "lobby" {
			t.Errorf("room %q", v)
		}
		if v, _ := id.Claim("publish"); v != "1" {
			t.Errorf("publish %q", v)
		}
	})

	t.Run("a request naming another user is refused", func(t *testing.T) {
		for _, body := range []string{`{"user_id":"admin"}`, `{"room_id":"x","uid":"admin"}`} {
			r := issue(t, "/tokens/zego", body, login)
			if r.status != http.StatusBadRequest {
				t.Fatalf("%s: status %d %s", body, r.status, r.body)
			}
			if m := mustJSON(t, r.body); m["error"] != "invalid_request" {
				t.Errorf("%s: %v", body, m)
			}
		}
		r := get(t, base+"/tokens/zego?user_id=admin", login)
		if r.status != http.StatusBadRequest {
			t.Fatalf("query user_id: status %d", r.status)
		}
		// A forged identity header does not choose the user either.
		r = issue(t, "/tokens/zego", "", with(login, "X-Auth-User-Id", "admin"))
		if m := mustJSON(t, r.body); m["user_id"] != "3001" {
			t.Fatalf("forged header chose the user: %v", m)
		}
	})

	t.Run("bad request fields are 400 with a JSON error", func(t *testing.T) {
		for _, body := range []string{
			`{"room_id":"` + strings.Repeat("r", 200) + `"}`,
			`{"room_id":"bad room"}`,
			`{"stream_ids":["s1"]}`,
			`{"publish":"yes please"}`,
			`not json`,
			`{"ttl":99999999}`,
		} {
			r := issue(t, "/tokens/zego", body, login)
			if r.status != http.StatusBadRequest {
				t.Errorf("%s: status %d %s", body, r.status, r.body)
				continue
			}
			if m := mustJSON(t, r.body); m["error"] != "invalid_request" || m["error_description"] == "" {
				t.Errorf("%s: %v", body, m)
			}
		}
	})

	t.Run("issuer requires the login token", func(t *testing.T) {
		if r := issue(t, "/tokens/zego", "", nil); r.status != http.StatusUnauthorized {
			t.Errorf("status %d", r.status)
		}
	})

	t.Run("issuer not behind gameauth issues nothing", func(t *testing.T) {
		r := issue(t, "/unguarded/zego", "", with(login, "X-Auth-User-Id", "admin"))
		if r.status != http.StatusUnauthorized {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		if strings.Contains(r.body, "token") {
			t.Errorf("body %q", r.body)
		}
	})

	t.Run("rooms restriction", func(t *testing.T) {
		r := issue(t, "/tokens/lobby/room-9", "", login)
		if r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		m := mustJSON(t, r.body)
		if m["room_id"] != "room-9" {
			t.Errorf("room_id %v", m["room_id"])
		}
		if r := issue(t, "/tokens/lobby/room-9", `{"room_id":"room-10"}`, login); r.status != http.StatusForbidden {
			t.Errorf("other room: status %d", r.status)
		}
		// The CBC token is accepted by the verifier too.
		if g := get(t, base+"/rooms/room-9/x", bearer(m["token"].(string))); g.status != 200 {
			t.Errorf("cbc token on its room: %d", g.status)
		}
		up.take()
	})

	t.Run("method not allowed", func(t *testing.T) {
		if r := do(t, http.MethodDelete, base+"/tokens/zego", login, ""); r.status != http.StatusMethodNotAllowed {
			t.Errorf("status %d", r.status)
		}
	})
}
