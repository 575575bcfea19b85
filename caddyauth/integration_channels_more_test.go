package caddyauth_test

// The rows of the side-channel suite (integration_channels_test.go has the
// raw recording upstream, the clients and the checks): request trailers,
// Connection, ambiguous paths behind requirements, the ZEGO issuer's
// privileges, two gameauth handlers in one route, forward_token off with
// two sources, and optional with credentials it cannot parse.

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// --- trailers ---------------------------------------------------------------

// TestChannelsTrailers: no identity field reaches the upstream as a request
// trailer, declared or not, in any spelling, on success, optional,
// skip_preflight and TapTap routes, over HTTP/1.1 and h2c; the request
// itself is forwarded with the verified identity intact.
func TestChannelsTrailers(t *testing.T) {
	up, addr := channelsEnv(t)
	h2c := newH2CClient(t)
	tok := seayooToken(t, "p-1001", nil)
	auth := "Authorization: Bearer " + tok
	seayoo := chWithIdent(ident("seayoo", "p-1001", "idp", "taptap", "age", "18"), "x-player", "p-1001")
	tap := chWithIdent(tapIdent("good-trailer"), "x-player", "obj-good-trailer")
	const body = "game state"
	post := func(path string, lines []string, trailers ...string) string {
		return h1Request("POST", path, lines, body, trailers)
	}
	names := []string{"x-player"}
	pre := []string{"Origin: https://game.example", "Access-Control-Request-Method: POST"}

	h1Rows := []chRow{
		{name: "declared X-Auth-User-Id trailer", raw: post("/t/seayoo/x", []string{auth, "Trailer: X-Auth-User-Id"}, "X-Auth-User-Id: admin"), status: 200, ident: seayoo},
		{name: "declared x_auth_user_id trailer", raw: post("/t/seayoo/x", []string{auth, "Trailer: x_auth_user_id"}, "x_auth_user_id: admin"), status: 200, ident: seayoo},
		{name: "declared X.Auth.User.Id trailer", raw: post("/t/seayoo/x", []string{auth, "Trailer: X.Auth.User.Id"}, "X.Auth.User.Id: admin"), status: 200, ident: seayoo},
		{name: "declared X-Player trailer (a header line name)", raw: post("/t/seayoo/x", []string{auth, "Trailer: X-Player"}, "X-Player: admin"), status: 200, ident: seayoo},
		{name: "declared x_player trailer", raw: post("/t/seayoo/x", []string{auth, "Trailer: x_player"}, "x_player: admin"), status: 200, ident: seayoo},
		{name: "undeclared X-Auth-User-Id trailer", raw: post("/t/seayoo/x", []string{auth}, "X-Auth-User-Id: admin"), status: 200, ident: seayoo},
		{name: "declared X-Checksum, sent X-Checksum and X-Auth-User-Id", raw: post("/t/seayoo/x", []string{auth, "Trailer: X-Checksum"}, "X-Checksum: 1234", "X-Auth-User-Id: admin"), status: 200, ident: seayoo},
		{name: "three identity trailers declared on two Trailer lines", raw: post("/t/seayoo/x", []string{auth, "Trailer: X-Auth-User-Id, X-Auth-Provider", "Trailer: X-Auth-Age"}, "X-Auth-User-Id: admin", "X-Auth-Provider: root", "X-Auth-Age: 99"), status: 200, ident: seayoo},
		{name: "forged identity header and trailer together", raw: post("/t/seayoo/x", []string{auth, "X-Auth-User-Id: admin", "Trailer: X-Auth-User-Id"}, "X-Auth-User-Id: admin"), status: 200, ident: seayoo},
		{name: "declared trailer, empty body", raw: h1Request("POST", "/t/seayoo/x", []string{auth, "Trailer: X-Auth-User-Id"}, "", []string{"X-Auth-User-Id: admin"}), status: 200, ident: seayoo, noBody: true},
		{name: "no token: refused, nothing forwarded", raw: post("/t/seayoo/x", []string{"Trailer: X-Auth-User-Id"}, "X-Auth-User-Id: admin"), status: 401, reason: "missing token"},
		{name: "optional, no token, declared X-Auth-User-Id trailer", raw: post("/t/optional/x", []string{"Trailer: X-Auth-User-Id"}, "X-Auth-User-Id: admin"), status: 200},
		{name: "optional, no token, undeclared X_Auth_User_Id trailer", raw: post("/t/optional/x", nil, "X_Auth_User_Id: admin"), status: 200},
		{name: "optional, no token, declared X-Player trailer", raw: post("/t/optional/x", []string{"Trailer: X-Player"}, "X-Player: admin"), status: 200},
		{name: "optional with a valid token, declared X-Auth-User-Id trailer", raw: post("/t/optional/x", []string{auth, "Trailer: X-Auth-User-Id"}, "X-Auth-User-Id: admin"), status: 200, ident: seayoo},
		{name: "skip_preflight, OPTIONS preflight, declared X-Auth-User-Id trailer", raw: h1Request("OPTIONS", "/t/preflight/x", append(pre, "Trailer: X-Auth-User-Id"), body, []string{"X-Auth-User-Id: admin"}), status: 200},
		{name: "skip_preflight, OPTIONS preflight, undeclared X-Player trailer", raw: h1Request("OPTIONS", "/t/preflight/x", pre, body, []string{"X-Player: admin"}), status: 200},
		{name: "skip_preflight route with a valid token, declared trailer", raw: post("/t/preflight/x", []string{auth, "Trailer: X-Auth-User-Id"}, "X-Auth-User-Id: admin"), status: 200, ident: seayoo},
		{name: "TapTap session, declared X-Auth-User-Id trailer", raw: post("/t/taptap/x", []string{"X-LC-Session: good-trailer", "Trailer: X-Auth-User-Id"}, "X-Auth-User-Id: admin"), status: 200, ident: tap},
		{name: "TapTap session, undeclared X.Auth.Provider trailer", raw: post("/t/taptap/x", []string{"X-LC-Session: good-trailer"}, "X.Auth.Provider: root"), status: 200, ident: tap},
		{name: "keep-alive: forged trailer, then a clean request on the same connection",
			raw:  post("/t/seayoo/x", []string{auth, "Trailer: X-Auth-User-Id"}, "X-Auth-User-Id: admin"),
			raw2: post("/t/seayoo/x", []string{auth}), status: 200, ident: seayoo},
	}
	for i := range h1Rows {
		h1Rows[i].names = names
		if h1Rows[i].status == 200 && !h1Rows[i].noBody {
			h1Rows[i].body = body
		}
	}
	hdr := map[string][]string{"Authorization": {"Bearer " + tok}}
	h2 := func(path string, h map[string][]string, declare []string, atEOF map[string]string) *h2Req {
		return &h2Req{method: "POST", path: path, hdr: h, body: body, declare: declare, atEOF: atEOF}
	}
	admin := func(k string) map[string]string { return map[string]string{k: "admin"} }
	h2Rows := []chRow{
		{name: "no trailer (the h2c path itself)", h2: h2("/t/seayoo/x", hdr, nil, nil), status: 200, ident: seayoo},
		{name: "declared X-Auth-User-Id trailer", h2: h2("/t/seayoo/x", hdr, []string{"X-Auth-User-Id"}, admin("X-Auth-User-Id")), status: 200, ident: seayoo},
		{name: "declared x_auth_user_id trailer", h2: h2("/t/seayoo/x", hdr, []string{"x_auth_user_id"}, admin("x_auth_user_id")), status: 200, ident: seayoo},
		{name: "declared X.Auth.User.Id trailer", h2: h2("/t/seayoo/x", hdr, []string{"X.Auth.User.Id"}, admin("X.Auth.User.Id")), status: 200, ident: seayoo},
		{name: "declared X-Player trailer (a header line name)", h2: h2("/t/seayoo/x", hdr, []string{"X-Player"}, admin("X-Player")), status: 200, ident: seayoo},
		{name: "undeclared X-Auth-User-Id trailer", h2: h2("/t/seayoo/x", hdr, nil, admin("X-Auth-User-Id")), status: 200, ident: seayoo},
		{name: "declared X-Checksum, sent X-Checksum and X-Auth-User-Id", h2: h2("/t/seayoo/x", hdr, []string{"X-Checksum"}, map[string]string{"X-Checksum": "1234", "X-Auth-User-Id": "admin"}), status: 200, ident: seayoo},
		{name: "optional, no token, declared X-Auth-User-Id trailer", h2: h2("/t/optional/x", nil, []string{"X-Auth-User-Id"}, admin("X-Auth-User-Id")), status: 200},
		{name: "optional, no token, declared X-Player trailer", h2: h2("/t/optional/x", nil, []string{"X-Player"}, admin("X-Player")), status: 200},
		{name: "skip_preflight, OPTIONS preflight, declared X-Auth-User-Id trailer",
			h2:     &h2Req{method: "OPTIONS", path: "/t/preflight/x", hdr: map[string][]string{"Origin": {"https://game.example"}, "Access-Control-Request-Method": {"POST"}}, body: body, declare: []string{"X-Auth-User-Id"}, atEOF: admin("X-Auth-User-Id")},
			status: 200},
		{name: "TapTap session, declared X-Auth-User-Id trailer", h2: h2("/t/taptap/x", map[string][]string{"X-Lc-Session": {"good-trailer"}}, []string{"X-Auth-User-Id"}, admin("X-Auth-User-Id")), status: 200, ident: tap},
		{name: "no token: refused, nothing forwarded", h2: h2("/t/seayoo/x", nil, []string{"X-Auth-User-Id"}, admin("X-Auth-User-Id")), status: 401, reason: "missing token"},
	}
	for i := range h2Rows {
		h2Rows[i].names = names
		if h2Rows[i].status == 200 {
			h2Rows[i].body = body
		}
	}
	t.Run("h1", func(t *testing.T) { runChRows(t, addr, up, h2c, h1Rows) })
	t.Run("h2c", func(t *testing.T) { runChRows(t, addr, up, h2c, h2Rows) })
}

// --- Connection -------------------------------------------------------------

// TestChannelsConnection: a Connection header that names identity headers
// does not make the proxy drop the ones gameauth set; close, keep-alive
// and WebSocket upgrades still work. HTTP/1.1 only: HTTP/2 has no
// Connection header (net/http refuses to send one).
func TestChannelsConnection(t *testing.T) {
	up, addr := channelsEnv(t)
	tok := seayooToken(t, "p-1001", nil)
	auth := "Authorization: Bearer " + tok
	want := ident("seayoo", "p-1001", "age", "18") // claim_headers id provider age
	get := func(lines ...string) string {
		return h1Request("GET", "/conn/x", append([]string{auth}, lines...), "", nil)
	}
	rows := []chRow{
		{name: "Connection: X-Auth-User-Id, X-Auth-Age", raw: get("Connection: X-Auth-User-Id, X-Auth-Age"), status: 200, ident: want},
		{name: "Connection: keep-alive, x-auth-provider", raw: get("Connection: keep-alive, x-auth-provider"), status: 200, ident: want},
		{name: "Connection: close, X_Auth_User_Id (closes)", raw: get("Connection: close, X_Auth_User_Id"), status: 200, ident: want, closed: true},
		{name: "Connection: X-AUTH-USER-ID, X-AUTH-PROVIDER, X-AUTH-AGE", raw: get("Connection: X-AUTH-USER-ID, X-AUTH-PROVIDER, X-AUTH-AGE"), status: 200, ident: want},
		{name: "two Connection lines: keep-alive, then X-Auth-Age", raw: get("Connection: keep-alive", "Connection: X-Auth-Age"), status: 200, ident: want},
		{name: "Connection names an identity header the client also forged", raw: get("X-Auth-Age: 99", "Connection: X-Auth-Age"), status: 200, ident: want},
		{name: "Connection: x.auth.user.id,x-auth-age (no spaces)", raw: get("Connection: x.auth.user.id,x-auth-age"), status: 200, ident: want},
		{name: "Connection: close still closes", raw: get("Connection: close"), status: 200, ident: want, closed: true},
		{name: "keep-alive: two requests naming identity headers on one connection",
			raw: get("Connection: keep-alive, X-Auth-User-Id"), raw2: get("Connection: X-Auth-Provider, X-Auth-Age"), status: 200, ident: want},
		{name: "bad token with Connection: X-Auth-User-Id: refused, nothing forwarded", raw: h1Request("GET", "/conn/x", []string{"Authorization: Bearer x" + tok, "Connection: X-Auth-User-Id"}, "", nil), status: 401},
	}
	runChRows(t, addr, up, nil, rows)

	ws := func(name, connection string) {
		t.Run(name, func(t *testing.T) {
			up.take()
			c, err := dialRaw(addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.conn.Close()
			r, err := c.send(get("Connection: "+connection, "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="))
			seen, perrs := up.take()
			dump := rawDump(seen)
			if err != nil || len(perrs) > 0 {
				t.Fatalf("client: %v; upstream parse errors %q\n%s", err, perrs, dump)
			}
			if r.status != http.StatusSwitchingProtocols {
				t.Fatalf("status %d (body %q), want 101\n%s", r.status, r.body, dump)
			}
			if len(seen) != 1 {
				t.Fatalf("want one upgrade request upstream\n%s", dump)
			}
			s := seen[0]
			if u := rawValues(s.headers, "Upgrade"); len(u) != 1 || !strings.EqualFold(u[0], "websocket") || !s.hasToken("Connection", "upgrade") {
				t.Errorf("upstream did not get a WebSocket upgrade\n%s", dump)
			}
			checkChSeen(t, chRow{ident: want}, s, dump)
			c.conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c.conn, "ping through the tunnel"); err != nil {
				t.Fatal(err)
			}
			echo := make([]byte, len("ping through the tunnel"))
			if _, err := io.ReadFull(c.br, echo); err != nil || string(echo) != "ping through the tunnel" {
				t.Errorf("tunnel echo %q, %v", echo, err)
			}
		})
	}
	ws("WebSocket upgrade: Connection: Upgrade", "Upgrade")
	ws("WebSocket upgrade: Connection: Upgrade, X-Auth-User-Id", "Upgrade, X-Auth-User-Id")
	ws("WebSocket upgrade: Connection: keep-alive, Upgrade, X-Auth-Age, X-Auth-Provider", "keep-alive, Upgrade, X-Auth-Age, X-Auth-Provider")
}

// --- paths ------------------------------------------------------------------

// TestChannelsPaths: when a requirement reads the path (a ZEGO room, a
// require rule, the original URI, a path_regexp capture), a path that
// another server may read differently is refused with 403 and nothing is
// forwarded; plain paths pass.
func TestChannelsPaths(t *testing.T) {
	up, addr := channelsEnv(t)
	room7 := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-7", RoomID: "arena-7"})
	room8 := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-8", RoomID: "arena-8"})
	zw := func(sub, room string) map[string]string {
		return ident("zego", sub, "app_id", i64(atkZegoAppID), "room_id", room, "login", "1", "publish", "0")
	}
	p7 := seayooToken(t, "p-7", nil)
	p7Want := ident("seayoo", "p-7", "idp", "taptap", "age", "18")
	row := func(name, path, tok string, status int, want map[string]string) chRow {
		r := chRow{name: name + " " + path, raw: h1Request("GET", path, []string{"Authorization: Bearer " + tok}, "", nil), status: status}
		if status == 200 {
			r.ident, r.uri = want, path
		} else {
			r.reason = "ambiguous request path"
		}
		return r
	}
	const amb = 403
	rows := []chRow{
		// room {http.request.uri.path.1}
		row("plain path passes:", "/rooms/arena-7/state", room7, 200, zw("z-7", "arena-7")),
		row("path parameter on a dot-dot segment (servlet containers read arena-8):", "/rooms/arena-7/..;/arena-8/state", room7, amb, nil),
		row("encoded ; (upper case):", "/rooms/arena-7/..%3B/arena-8/state", room7, amb, nil),
		row("encoded ; (lower case):", "/rooms/arena-7/..%3b/arena-8/state", room7, amb, nil),
		row("path parameter on the room segment:", "/rooms/arena-7;jsessionid=x/state", room7, amb, nil),
		row("path parameter on a later segment:", "/rooms/arena-7/state;jsessionid=x", room7, amb, nil),
		row("double-encoded slash %252F:", "/rooms/arena-7%252F..%252Farena-8/state", room7, amb, nil),
		row("double-encoded dots %252e%252e:", "/rooms/arena-7/%252e%252e/arena-8/state", room7, amb, nil),
		row("arena-8 token, path parameter toward arena-7:", "/rooms/arena-8/..;/arena-7/state", room8, amb, nil),
		// require id {http.request.uri.path.1}
		row("require rule, plain path passes:", "/players/p-7/state", p7, 200, p7Want),
		row("require rule, path parameter on a dot-dot segment:", "/players/p-7/..;/p-8/state", p7, amb, nil),
		row("require rule, encoded ;:", "/players/p-7/..%3B/p-8/state", p7, amb, nil),
		row("require rule, path parameter on the id segment:", "/players/p-7;jsessionid=x/state", p7, amb, nil),
		row("require rule, double-encoded slash:", "/players/p-7%252F..%252Fp-8/state", p7, amb, nil),
		// room {http.request.orig_uri.path.1}
		row("orig_uri placeholder, plain path passes:", "/orig/arena-7/state", room7, 200, zw("z-7", "arena-7")),
		row("orig_uri placeholder, encoded slashes:", "/orig/arena-7%2F..%2Farena-8/state", room7, amb, nil),
		row("orig_uri placeholder, path parameter:", "/orig/arena-7/..;/arena-8/state", room7, amb, nil),
		row("orig_uri placeholder, dot-dot segment:", "/orig/arena-7/../arena-8/state", room7, amb, nil),
		// @r path_regexp room ^/re/([^/]+)/ with room {re.room.1}: matched on
		// the cleaned path, forwarded raw.
		row("path_regexp capture, plain path passes:", "/re/arena-7/state", room7, 200, zw("z-7", "arena-7")),
		row("path_regexp capture, encoded slashes (the capture reads arena-8, the raw path arena-7):", "/re/arena-7%2F..%2Farena-8/state", room8, amb, nil),
		row("path_regexp capture, dot-dot segment:", "/re/arena-7/../arena-8/state", room8, amb, nil),
		row("path_regexp capture, path parameter:", "/re/arena-7/..;/arena-8/state", room7, amb, nil),
	}
	runChRows(t, addr, up, nil, rows)
}

// --- ZEGO issuer privileges -------------------------------------------------

const zegoIssuerSite = `
{ADDR} {
	route /tok/zego {
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			claim_headers id
		}
		gameauth_issuer zego {
			app_id ZEGO_APP
			secret ZEGO_SECRET
			ISSUER_POLICY
		}
	}
	route /tok/rooms {
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			claim_headers id
		}
		gameauth_issuer zego {
			app_id ZEGO_APP
			secret ZEGO_SECRET
			rooms arena-7 arena-8
		}
	}
	handle /pub/* {
		gameauth {
			claim_headers all
			zego {
				app_id ZEGO_APP
				secret ZEGO_SECRET
				room {http.request.uri.path.1}
				publish
			}
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}
`

// issRow is one token request to a gameauth_issuer zego route.
type issRow struct {
	name   string
	path   string // /tok/zego or /tok/rooms; a query string makes it a GET
	sub    string // the Seayoo subject of the caller; default p-1001
	body   string // the JSON body of a POST
	status int
	// On 200: the claims the issued token must carry ("" = absent).
	claims map[string]string
	// On 200, for a room token: the status the token gets on the route
	// that requires the publish privilege (0: not tried). A room token
	// issued where the row wants a refusal is always tried and must get 403.
	pub int
}

// TestChannelsZegoIssuer: the ZEGO issuer grants publish and stream ids
// only when its configuration allows them, and rooms only from its list;
// a token it issued without publish fails a route that requires it. Each
// configuration runs in a Caddy of its own.
func TestChannelsZegoIssuer(t *testing.T) {
	zv, err := verifiers.NewZego(verifiers.ZegoConfig{AppID: zegoAppID, Secrets: []string{zegoSecret}})
	if err != nil {
		t.Fatal(err)
	}
	noPub := map[string]string{"room_id": "arena-7", "publish": "0", "stream_ids": ""}
	configs := []struct {
		name, policy string
		rows         []issRow
	}{
		{"default (no allow_ lines)", "", []issRow{
			{name: "identity token, nothing asked", path: "/tok/zego", status: 200, claims: map[string]string{"room_id": "", "publish": ""}},
			{name: "room arena-7 without publish", path: "/tok/zego", body: `{"room_id":"arena-7"}`, status: 200, claims: noPub, pub: 403},
			{name: "room arena-7 with publish: refused", path: "/tok/zego", body: `{"room_id":"arena-7","publish":true}`, status: 403},
			{name: "GET room_id=arena-7&publish=true: refused", path: "/tok/zego?room_id=arena-7&publish=true", status: 403},
			{name: "stream_ids [x]: refused", path: "/tok/zego", body: `{"stream_ids":["x"]}`, status: 403},
			{name: "stream_ids [p-1001_main]: refused", path: "/tok/zego", body: `{"room_id":"arena-7","stream_ids":["p-1001_main"]}`, status: 403},
			{name: "rooms list: arena-7", path: "/tok/rooms", body: `{"room_id":"arena-7"}`, status: 200, claims: noPub, pub: 403},
			{name: "rooms list: arena-8", path: "/tok/rooms", body: `{"room_id":"arena-8"}`, status: 200, claims: map[string]string{"room_id": "arena-8", "publish": "0"}},
			{name: "rooms list: arena-9 refused", path: "/tok/rooms", body: `{"room_id":"arena-9"}`, status: 403},
			{name: "rooms list: arena-7 with publish refused", path: "/tok/rooms", body: `{"room_id":"arena-7","publish":true}`, status: 403},
		}},
		{"allow_publish", "allow_publish", []issRow{
			{name: "room arena-7 with publish: granted", path: "/tok/zego", body: `{"room_id":"arena-7","publish":true}`, status: 200, claims: map[string]string{"room_id": "arena-7", "publish": "1"}, pub: 200},
			{name: "room arena-7 without publish: not granted unasked", path: "/tok/zego", body: `{"room_id":"arena-7"}`, status: 200, claims: noPub, pub: 403},
			{name: "stream_ids [x] with publish: refused (no allow_streams)", path: "/tok/zego", body: `{"room_id":"arena-7","publish":true,"stream_ids":["x"]}`, status: 403},
		}},
		{"allow_streams {http.auth.user.id}_*", "allow_streams {http.auth.user.id}_*", []issRow{
			{name: "own stream p-1001_main: granted", path: "/tok/zego", body: `{"room_id":"arena-7","stream_ids":["p-1001_main"]}`, status: 200, claims: map[string]string{"room_id": "arena-7", "stream_ids": "p-1001_main"}},
			{name: "other_main: refused", path: "/tok/zego", body: `{"room_id":"arena-7","stream_ids":["other_main"]}`, status: 403},
			{name: "own and other stream together: refused", path: "/tok/zego", body: `{"room_id":"arena-7","stream_ids":["p-1001_main","other_main"]}`, status: 403},
			{name: "p-10011_main (a longer id with the same prefix): refused", path: "/tok/zego", body: `{"room_id":"arena-7","stream_ids":["p-10011_main"]}`, status: 403},
			{name: "player p-2002 asks for p-1001_main: refused", path: "/tok/zego", sub: "p-2002", body: `{"room_id":"arena-7","stream_ids":["p-1001_main"]}`, status: 403},
			{name: "publish without allow_publish: refused", path: "/tok/zego", body: `{"room_id":"arena-7","publish":true,"stream_ids":["p-1001_main"]}`, status: 403},
		}},
	}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			up := newRawUpstream(t)
			addr := runChannels(t, zegoIssuerSite,
				"RAW_UPSTREAM", up.addr(), "ISSUER_POLICY", cfg.policy,
				"SEAYOO_SECRET", seayooSecret, "SEAYOO_GAME", seayooGame,
				"ZEGO_APP", i64(zegoAppID), "ZEGO_SECRET", zegoSecret,
			)
			for _, r := range cfg.rows {
				t.Run(r.name, func(t *testing.T) { runIssRow(t, addr, up, zv, r) })
			}
		})
	}
}

func runIssRow(t *testing.T, addr string, up *rawUpstream, zv *verifiers.Zego, r issRow) {
	if r.sub == "" {
		r.sub = "p-1001"
	}
	hdr := bearer(seayooToken(t, r.sub, nil))
	var res response
	if strings.Contains(r.path, "?") {
		res = do(t, http.MethodGet, "http://"+addr+r.path, hdr, "")
	} else {
		res = do(t, http.MethodPost, "http://"+addr+r.path, with(hdr, "Content-Type", "application/json"), r.body)
	}
	var ans struct {
		Token  string `json:"token"`
		UserID string `json:"user_id"`
	}
	_ = json.Unmarshal([]byte(res.body), &ans)
	var id verifiers.Identity
	if ans.Token != "" {
		var err error
		if id, err = zv.Verify(t.Context(), ans.Token); err != nil {
			t.Fatalf("issued token does not verify: %v", err)
		}
	}
	if res.status != r.status {
		t.Errorf("status %d, want %d; answer %s; the issued token is for %q with claims %v", res.status, r.status, res.body, id.Subject, id.Claims)
	}
	if ans.Token == "" {
		return
	}
	if res.status != http.StatusOK {
		t.Errorf("refused (%d) but a token was issued: %s", res.status, res.body)
	}
	if ans.UserID != r.sub || id.Subject != r.sub {
		t.Errorf("token issued for %q (answer user_id %q), want the caller %q", id.Subject, ans.UserID, r.sub)
	}
	if r.status == http.StatusOK {
		for k, w := range r.claims {
			if got, _ := id.Claim(k); got != w {
				t.Errorf("issued token's %s is %q, want %q (claims %v)", k, got, w, id.Claims)
			}
		}
	}
	room, _ := id.Claim("room_id")
	if room == "" || (r.status == http.StatusOK && r.pub == 0) {
		return
	}
	// Present the issued token where the publish privilege is required: a
	// token that should not have been issued must not open that route.
	pub := r.pub
	if r.status != http.StatusOK {
		pub = http.StatusForbidden
	}
	want := ident("zego", id.Subject)
	for _, c := range id.Claims {
		want["x-auth-"+strings.ReplaceAll(c.Name, "_", "-")] = c.Value
	}
	t.Run("the issued token on the route that requires publish", func(t *testing.T) {
		runChRow(t, addr, up, nil, chRow{
			raw:    h1Request("GET", "/pub/"+room+"/state", []string{"Authorization: Bearer " + ans.Token}, "", nil),
			status: pub, ident: want,
		})
	})
}

// --- two gameauth handlers --------------------------------------------------

const twoHandlersSite = `
{ADDR} {
	route /two/* {
		gameauth {
			claim_headers all
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
		}
		gameauth {
			claim_headers all
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
			}
			from_header X-Zego-Token
			header X-Who {http.auth.user.id}
		}
		request_header X-Who-After {http.auth.user.id}
		reverse_proxy RAW_UPSTREAM
	}
	route /two-issue {
		gameauth {
			claim_headers all
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
		}
		gameauth {
			claim_headers all
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
			}
			from_header X-Zego-Token
		}
		gameauth_issuer zego {
			app_id ZEGO_APP
			secret ZEGO_SECRET
		}
	}
	route /two-respond {
		gameauth {
			claim_headers all
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
		}
		gameauth {
			claim_headers all
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
			}
			from_header X-Zego-Token
		}
		respond "{http.auth.user.id} {http.auth.user.provider}" 200
	}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}
`

// TestChannelsTwoHandlers: with a Seayoo then a ZEGO gameauth in one
// route, the last verification is the identity everywhere: the upstream's
// headers, a header line, placeholders after both, and the issuer.
func TestChannelsTwoHandlers(t *testing.T) {
	up := newRawUpstream(t)
	addr := runChannels(t, twoHandlersSite,
		"RAW_UPSTREAM", up.addr(),
		"SEAYOO_SECRET", seayooSecret, "SEAYOO_GAME", seayooGame,
		"ATK_ZEGO_APP", i64(atkZegoAppID), "ATK_ZEGO_SECRET", atkZegoSecret,
		"ZEGO_APP", i64(zegoAppID), "ZEGO_SECRET", zegoSecret,
	)
	first := "Authorization: Bearer " + seayooToken(t, "s-first", nil)
	last := "X-Zego-Token: " + zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-last"})
	want := chWithIdent(ident("zego", "z-last", "app_id", i64(atkZegoAppID)), "x-who", "z-last")
	get := func(path string, lines ...string) string { return h1Request("GET", path, lines, "", nil) }
	rows := []chRow{
		{name: "both tokens: the upstream sees the ZEGO (last) identity", raw: get("/two/x", first, last), status: 200, ident: want,
			present: map[string]string{"x-who-after": "z-last"}},
		{name: "both tokens and forged identity headers", raw: get("/two/x", first, last, "X-Auth-User-Id: admin", "X_Who: admin", "X-Who-After: admin"), status: 200, ident: want,
			present: map[string]string{"x-who-after": "z-last"}},
		{name: "Seayoo token only: the second handler refuses", raw: get("/two/x", first), status: 401, reason: "missing token"},
		{name: "ZEGO token only: the first handler refuses", raw: get("/two/x", last), status: 401, reason: "missing token"},
	}
	for i := range rows {
		rows[i].names = []string{"x-who"}
	}
	runChRows(t, addr, up, nil, rows)

	t.Run("the issuer issues for the ZEGO (last) identity", func(t *testing.T) {
		c, err := dialRaw(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.conn.Close()
		r, err := c.send(h1Request("POST", "/two-issue", []string{first, last, "Content-Type: application/json"}, `{}`, nil))
		if err != nil {
			t.Fatal(err)
		}
		var ans struct {
			Token  string `json:"token"`
			UserID string `json:"user_id"`
		}
		if r.status != 200 || json.Unmarshal([]byte(r.body), &ans) != nil {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		zv, err := verifiers.NewZego(verifiers.ZegoConfig{AppID: zegoAppID, Secrets: []string{zegoSecret}})
		if err != nil {
			t.Fatal(err)
		}
		id, err := zv.Verify(t.Context(), ans.Token)
		if err != nil {
			t.Fatal(err)
		}
		if ans.UserID != "z-last" || id.Subject != "z-last" {
			t.Errorf("token issued for %q (answer user_id %q), want the last identity z-last", id.Subject, ans.UserID)
		}
	})
	t.Run("placeholders after both handlers name the ZEGO (last) identity", func(t *testing.T) {
		c, err := dialRaw(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.conn.Close()
		r, err := c.send(get("/two-respond", first, last))
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 200 || r.body != "z-last zego" {
			t.Errorf("status %d, {http.auth.user.id} {http.auth.user.provider} = %q, want \"z-last zego\"", r.status, r.body)
		}
	})
}

// --- forward_token off and optional ----------------------------------------

// TestChannelsForwardToken: with forward_token off and two sources
// (from_bearer, from_query access_token), neither token reaches the
// upstream, the unused one included.
func TestChannelsForwardToken(t *testing.T) {
	up, addr := channelsEnv(t)
	a, b := seayooToken(t, "p-a", nil), seayooToken(t, "p-b", nil)
	aWant := ident("seayoo", "p-a", "idp", "taptap", "age", "18")
	row := func(name, target string, lines []string, uri string) chRow {
		return chRow{name: name, raw: h1Request("GET", target, lines, "", nil), status: 200, ident: aWant, uri: uri, absent: []string{"authorization"}}
	}
	rows := []chRow{
		row("bearer used, a second valid token in the query", "/fwd/me?access_token="+b, []string{"Authorization: Bearer " + a}, "/fwd/me"),
		row("bearer used, garbage in the query among other parameters", "/fwd/me?x=1&access_token=garbage&y=2", []string{"Authorization: Bearer " + a}, "/fwd/me?x=1&y=2"),
		row("bearer used, the query key percent-encoded (access%5Ftoken)", "/fwd/me?access%5Ftoken="+b+"&x=1", []string{"Authorization: Bearer " + a}, "/fwd/me?x=1"),
		row("query token used, no Authorization", "/fwd/me?access_token="+a, nil, "/fwd/me"),
	}
	runChRows(t, addr, up, nil, rows)
}

// TestChannelsOptional: an optional route refuses a Bearer credential it
// cannot parse and passes other schemes untouched.
func TestChannelsOptional(t *testing.T) {
	up, addr := channelsEnv(t)
	tok := seayooToken(t, "p-1001", nil)
	get := func(lines ...string) string { return h1Request("GET", "/opt/me", lines, "", nil) }
	rows := []chRow{
		{name: "Bearer<TAB>x: malformed", raw: get("Authorization: Bearer\tx"), status: 401, reason: "malformed token"},
		{name: "Bearer<TAB><valid token>: malformed", raw: get("Authorization: Bearer\t" + tok), status: 401, reason: "malformed token"},
		{name: "Basic credentials pass untouched, no identity", raw: get("Authorization: Basic dXNlcjpwYXNz"), status: 200,
			present: map[string]string{"authorization": "Basic dXNlcjpwYXNz"}},
		{name: "no credentials pass, no identity", raw: get(), status: 200},
		{name: "no credentials, forged identity headers stripped", raw: get("X-Auth-User-Id: admin", "x_auth_provider: root"), status: 200},
		{name: "valid token: the identity", raw: get("Authorization: Bearer " + tok), status: 200, ident: ident("seayoo", "p-1001", "idp", "taptap", "age", "18")},
	}
	runChRows(t, addr, up, nil, rows)
}
