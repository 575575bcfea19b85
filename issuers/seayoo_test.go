package issuers_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/nodetest"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// The values of the example in Seayoo's documentation.
const (
	seayooSecret = "sk_secret"
	seayooGame   = "xcom"
	seayooIat    = 1703748437
	seayooExp    = 4103834837
	// seayooDocToken is the documentation's example re-signed with
	// sk_secret (the published signature is wrong; see
	// verifiers/testdata/seayoo/README.md).
	seayooDocToken = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2FwaS5zZWF5b28uY29tIiwiYXVkIjoieGNvbSIsInN1YiI6IjkxMjMxMjIzMzQ2MTMwMDAxIiwiaWF0IjoxNzAzNzQ4NDM3LCJleHAiOjQxMDM4MzQ4MzcsInNjb3BlIjoiYXV0aCIsImlkcCI6InNlYXlvbyIsImV4dGVybmFsX2lkIjoiMTk5OSIsImV4dGVybmFsX25hbWUiOiIqKuWzsCIsImRpc3RybyI6ImFuZHJvaWQiLCJ2YXJpYW50IjoiaHlrYiIsImFnZSI6MTYsImRldmljZV9pZCI6ImU0NmFlZjNjZmE1NzE5NTUifQ.OrqoGynXZ4D2SnqyxQ22Sr8pOBYoxIgZZXy2V_mxeKw"
)

// seayooDocClaims are the extra claims of the documentation's example, as
// the gameauth-token command reads them from JSON (numbers are float64).
func seayooDocClaims() map[string]any {
	return map[string]any{
		"device_id": "e46aef3cfa571955", "age": float64(16), "variant": "hykb", "distro": "android",
		"external_name": "**峰", "external_id": "1999", "idp": "seayoo",
	}
}

// seayooClock returns a fixed clock at unix second sec.
func seayooClock(sec int64) issuers.Clock {
	return func() time.Time { return time.Unix(sec, 0) }
}

// seayooNewIssuer builds an issuer of the documentation's game, changed by
// mod.
func seayooNewIssuer(t testing.TB, mod func(*issuers.SeayooConfig)) *issuers.Seayoo {
	t.Helper()
	cfg := issuers.SeayooConfig{Secret: seayooSecret, GameID: seayooGame, Claims: seayooDocClaims(), Clock: seayooClock(seayooIat)}
	if mod != nil {
		mod(&cfg)
	}
	s, err := issuers.NewSeayoo(cfg)
	if err != nil {
		t.Fatalf("NewSeayoo: %v", err)
	}
	return s
}

// seayooNewVerifier builds a verifier of the documentation's game at unix
// second now.
func seayooNewVerifier(t testing.TB, now int64, mod func(*verifiers.SeayooConfig)) *verifiers.Seayoo {
	t.Helper()
	cfg := verifiers.SeayooConfig{Secrets: []string{seayooSecret}, GameID: seayooGame, Clock: func() time.Time { return time.Unix(now, 0) }}
	if mod != nil {
		mod(&cfg)
	}
	v, err := verifiers.NewSeayoo(cfg)
	if err != nil {
		t.Fatalf("verifiers.NewSeayoo: %v", err)
	}
	return v
}

// seayooPayload returns the decoded payload JSON of a token.
func seayooPayload(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSeayooIssueReproducesDocExample mints the documentation's example:
// with its claims, clock and lifetime the token is byte for byte the
// example (with a correct signature), and it verifies.
func TestSeayooIssueReproducesDocExample(t *testing.T) {
	s := seayooNewIssuer(t, nil)
	tok, err := s.Issue(context.Background(), issuers.Request{UserID: "91231223346130001", TTL: (seayooExp - seayooIat) * time.Second})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if tok.Token != seayooDocToken {
		t.Fatalf("token\n got %s\nwant %s\npayload %s", tok.Token, seayooDocToken, seayooPayload(t, tok.Token))
	}
	if tok.UserID != "91231223346130001" || !tok.IssuedAt.Equal(time.Unix(seayooIat, 0)) || !tok.ExpiresAt.Equal(time.Unix(seayooExp, 0)) {
		t.Errorf("token metadata %+v", tok)
	}
	id, err := seayooNewVerifier(t, seayooIat+60, nil).Verify(context.Background(), tok.Token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := verifiers.Identity{
		Provider: "seayoo",
		Subject:  "91231223346130001",
		Claims: []verifiers.Claim{{Name: "idp", Value: "seayoo"}, {Name: "external_id", Value: "1999"}, {Name: "external_name", Value: "**峰"},
			{Name: "distro", Value: "android"}, {Name: "variant", Value: "hykb"}, {Name: "age", Value: "16"}, {Name: "device_id", Value: "e46aef3cfa571955"}},
		Expires:  time.Unix(seayooExp, 0).UTC(),
		IssuedAt: time.Unix(seayooIat, 0).UTC(),
	}
	if !reflect.DeepEqual(id, want) {
		t.Errorf("identity\n got %+v\nwant %+v", id, want)
	}
}

// TestSeayooIssueRoundTrip mints tokens with various settings; each
// verifies with verifiers.Seayoo until it expires, and golang-jwt (as the
// official SDK uses it) accepts it too.
func TestSeayooIssueRoundTrip(t *testing.T) {
	const now = 1772366400 // 2026-03-01T12:00:00Z
	tests := []struct {
		name    string
		cfg     func(*issuers.SeayooConfig)
		vcfg    func(*verifiers.SeayooConfig)
		req     issuers.Request
		ttl     int64
		claims  []verifiers.Claim
		payload string
	}{
		{name: "defaults, no claims", cfg: func(c *issuers.SeayooConfig) { c.Claims = nil }, req: issuers.Request{UserID: "u1"}, ttl: 168 * 3600,
			payload: `{"iss":"https://api.seayoo.com","aud":"xcom","sub":"u1","iat":1772366400,"exp":1772971200,"scope":"auth"}`},
		{name: "request ttl", cfg: func(c *issuers.SeayooConfig) { c.Claims = nil; c.TTL = time.Hour }, req: issuers.Request{UserID: "u1", TTL: 90 * time.Second}, ttl: 90,
			payload: `{"iss":"https://api.seayoo.com","aud":"xcom","sub":"u1","iat":1772366400,"exp":1772366490,"scope":"auth"}`},
		{name: "config ttl, sub-second request rounds down", cfg: func(c *issuers.SeayooConfig) { c.Claims = nil; c.TTL = time.Hour },
			req: issuers.Request{UserID: "u1", TTL: 1500 * time.Millisecond}, ttl: 1,
			payload: `{"iss":"https://api.seayoo.com","aud":"xcom","sub":"u1","iat":1772366400,"exp":1772366401,"scope":"auth"}`},
		{name: "global issuer with slash", cfg: func(c *issuers.SeayooConfig) { c.Claims = nil; c.Issuer = "https://api.seayoo.io/" },
			vcfg: func(c *verifiers.SeayooConfig) { c.Issuer = "https://api.seayoo.io" }, req: issuers.Request{UserID: "u1"}, ttl: 168 * 3600,
			payload: `{"iss":"https://api.seayoo.io","aud":"xcom","sub":"u1","iat":1772366400,"exp":1772971200,"scope":"auth"}`},
		{name: "every known claim and extras", cfg: func(c *issuers.SeayooConfig) {
			c.Claims = map[string]any{
				"reg_time": int64(1700000000), "weixin_unionid": "oU", "weixin_session_key": "c2s=", "age": json.Number("0"),
				"level": 30, "vip": true, "zone": "cn-1", "idp": "weixin", "ratio": 0.5,
			}
		}, req: issuers.Request{UserID: "玩家<1>&\"q\""}, ttl: 168 * 3600,
			claims: []verifiers.Claim{{Name: "idp", Value: "weixin"}, {Name: "weixin_unionid", Value: "oU"}, {Name: "age", Value: "0"},
				{Name: "reg_time", Value: "1700000000"}, {Name: "level", Value: "30"}, {Name: "ratio", Value: "0.5"}, {Name: "zone", Value: "cn-1"}},
			payload: `{"iss":"https://api.seayoo.com","aud":"xcom","sub":"玩家\u003c1\u003e\u0026\"q\"","iat":1772366400,"exp":1772971200,"scope":"auth",` +
				`"idp":"weixin","weixin_unionid":"oU","weixin_session_key":"c2s=","age":0,"reg_time":1700000000,"level":30,"ratio":0.5,"vip":true,"zone":"cn-1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := seayooNewIssuer(t, func(c *issuers.SeayooConfig) {
				c.Clock = seayooClock(now)
				if tt.cfg != nil {
					tt.cfg(c)
				}
			})
			tok, err := s.Issue(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if got := seayooPayload(t, tok.Token); got != tt.payload {
				t.Errorf("payload\n got %s\nwant %s", got, tt.payload)
			}
			if !tok.ExpiresAt.Equal(time.Unix(now+tt.ttl, 0)) || !tok.IssuedAt.Equal(time.Unix(now, 0)) || tok.UserID != tt.req.UserID {
				t.Errorf("token metadata %+v", tok)
			}
			// Valid from iat to one second before exp, then expired.
			for _, at := range []int64{now, now + tt.ttl - 1} {
				id, err := seayooNewVerifier(t, at, tt.vcfg).Verify(context.Background(), tok.Token)
				if err != nil {
					t.Fatalf("Verify at +%ds: %v", at-now, err)
				}
				want := verifiers.Identity{Provider: "seayoo", Subject: tt.req.UserID, Claims: tt.claims, Expires: tok.ExpiresAt.UTC(), IssuedAt: tok.IssuedAt.UTC()}
				if !reflect.DeepEqual(id, want) {
					t.Fatalf("identity\n got %+v\nwant %+v", id, want)
				}
			}
			if _, err := seayooNewVerifier(t, now+tt.ttl, tt.vcfg).Verify(context.Background(), tok.Token); verifiers.Reason(err) != "token expired" {
				t.Errorf("Verify at exp: %v, want token expired", err)
			}
			// Another game or secret refuses it.
			if _, err := seayooNewVerifier(t, now, func(c *verifiers.SeayooConfig) {
				if tt.vcfg != nil {
					tt.vcfg(c)
				}
				c.GameID = "ycom"
			}).Verify(context.Background(), tok.Token); verifiers.Reason(err) != "wrong audience" {
				t.Errorf("Verify for another game: %v", err)
			}
			if _, err := seayooNewVerifier(t, now, func(c *verifiers.SeayooConfig) {
				if tt.vcfg != nil {
					tt.vcfg(c)
				}
				c.Secrets = []string{"sk_other-key"}
			}).Verify(context.Background(), tok.Token); verifiers.Reason(err) != "bad signature" {
				t.Errorf("Verify with another secret: %v", err)
			}
			// golang-jwt, configured as the official Go SDK configures it.
			iss := "https://api.seayoo.com"
			if tt.vcfg != nil {
				iss = "https://api.seayoo.io"
			}
			p := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuer(iss),
				jwt.WithAudience(seayooGame), jwt.WithTimeFunc(func() time.Time { return time.Unix(now, 0) }))
			if _, err := p.Parse(tok.Token, func(*jwt.Token) (any, error) { return []byte(seayooSecret), nil }); err != nil {
				t.Errorf("golang-jwt: %v", err)
			}
		})
	}
}

// TestSeayooIssueBadRequest checks the requests Issue refuses.
func TestSeayooIssueBadRequest(t *testing.T) {
	s := seayooNewIssuer(t, nil)
	tests := []struct {
		name  string
		req   issuers.Request
		field string
	}{
		{name: "no user", req: issuers.Request{}, field: "user_id"},
		{name: "user not UTF-8", req: issuers.Request{UserID: "u\xff"}, field: "user_id"},
		{name: "user with a line break", req: issuers.Request{UserID: "u\n1"}, field: "user_id"},
		{name: "user with a C1 control", req: issuers.Request{UserID: "u\u00851"}, field: "user_id"},
		{name: "user too long", req: issuers.Request{UserID: strings.Repeat("峰", 257)}, field: "user_id"},
		{name: "room", req: issuers.Request{UserID: "u", RoomID: "r"}, field: "room_id"},
		{name: "streams", req: issuers.Request{UserID: "u", StreamIDs: []string{"s"}}, field: "stream_ids"},
		{name: "publish", req: issuers.Request{UserID: "u", Publish: true}, field: "publish"},
		{name: "negative ttl", req: issuers.Request{UserID: "u", TTL: -time.Second}, field: "ttl"},
		{name: "sub-second ttl", req: issuers.Request{UserID: "u", TTL: time.Millisecond}, field: "ttl"},
		{name: "ttl over 100 years", req: issuers.Request{UserID: "u", TTL: 100*365*24*time.Hour + time.Second}, field: "ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.Issue(context.Background(), tt.req)
			if !errors.Is(err, issuers.ErrBadRequest) {
				t.Fatalf("err = %v, want ErrBadRequest", err)
			}
			var re *issuers.RequestError
			if !errors.As(err, &re) || re.Field != tt.field {
				t.Errorf("err = %v, want field %q", err, tt.field)
			}
			if tok != (issuers.Token{}) {
				t.Errorf("token returned with an error: %+v", tok)
			}
		})
	}
	// The limits themselves are accepted.
	for _, req := range []issuers.Request{
		{UserID: strings.Repeat("峰", 256)},
		{UserID: "u", TTL: time.Second},
		{UserID: "u", TTL: 100 * 365 * 24 * time.Hour},
	} {
		if _, err := s.Issue(context.Background(), req); err != nil {
			t.Errorf("Issue(%.20q, ttl %v): %v", req.UserID, req.TTL, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Issue(ctx, issuers.Request{UserID: "u"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Issue with a cancelled context: %v", err)
	}
}

// TestNewSeayooIssuer checks configuration validation; errors never show
// the secret.
func TestNewSeayooIssuer(t *testing.T) {
	const secret = "sk_TOPSECRET"
	ok := func(mod func(*issuers.SeayooConfig)) issuers.SeayooConfig {
		c := issuers.SeayooConfig{Secret: secret, GameID: "xcom"}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	claims := func(k string, v any) func(*issuers.SeayooConfig) {
		return func(c *issuers.SeayooConfig) { c.Claims = map[string]any{k: v} }
	}
	tests := []struct {
		name    string
		cfg     issuers.SeayooConfig
		wantErr string // "" means success
	}{
		{name: "minimal", cfg: ok(nil)},
		{name: "all set", cfg: ok(func(c *issuers.SeayooConfig) {
			c.Issuer = "http://127.0.0.1:8080/"
			c.TTL = time.Hour
			c.Claims = map[string]any{"age": 18, "idp": "guest", "x_1": -1.5, "flag": false}
		})},
		{name: "no secret", cfg: ok(func(c *issuers.SeayooConfig) { c.Secret = "" }), wantErr: `Secret must start with "sk_"`},
		{name: "secret without prefix", cfg: ok(func(c *issuers.SeayooConfig) { c.Secret = "TOPSECRET" }), wantErr: `Secret must start with "sk_"`},
		{name: "secret prefix only", cfg: ok(func(c *issuers.SeayooConfig) { c.Secret = "sk_" }), wantErr: "Secret is too short"},
		{name: "secret 5 bytes after prefix", cfg: ok(func(c *issuers.SeayooConfig) { c.Secret = "sk_12345" }), wantErr: "Secret is too short"},
		{name: "secret with newline", cfg: ok(func(c *issuers.SeayooConfig) { c.Secret = secret + "\n" }), wantErr: "Secret must not contain spaces"},
		{name: "no game", cfg: ok(func(c *issuers.SeayooConfig) { c.GameID = "" }), wantErr: "GameID is required"},
		{name: "game with space", cfg: ok(func(c *issuers.SeayooConfig) { c.GameID = " xcom" }), wantErr: "GameID must be"},
		{name: "issuer without scheme", cfg: ok(func(c *issuers.SeayooConfig) { c.Issuer = "api.seayoo.com" }), wantErr: "Issuer must be"},
		{name: "issuer with space", cfg: ok(func(c *issuers.SeayooConfig) { c.Issuer = "https://api.seayoo.com /" }), wantErr: "Issuer must be"},
		{name: "negative ttl", cfg: ok(func(c *issuers.SeayooConfig) { c.TTL = -time.Hour }), wantErr: "TTL must be"},
		{name: "fractional ttl", cfg: ok(func(c *issuers.SeayooConfig) { c.TTL = 1500 * time.Millisecond }), wantErr: "TTL must be"},
		{name: "ttl over 100 years", cfg: ok(func(c *issuers.SeayooConfig) { c.TTL = 101 * 365 * 24 * time.Hour }), wantErr: "TTL must be"},
		{name: "reserved claim sub", cfg: ok(claims("sub", "x")), wantErr: `may not set "sub"`},
		{name: "reserved claim scope", cfg: ok(claims("scope", "ads")), wantErr: `may not set "scope"`},
		{name: "reserved claim exp", cfg: ok(claims("exp", 1)), wantErr: `may not set "exp"`},
		{name: "upper-case claim name", cfg: ok(claims("Sub", "x")), wantErr: "must match"},
		{name: "empty claim name", cfg: ok(claims("", "x")), wantErr: "must match"},
		{name: "long claim name", cfg: ok(claims(strings.Repeat("a", 65), "x")), wantErr: "must match"},
		{name: "object claim", cfg: ok(claims("obj", map[string]any{})), wantErr: "must be a string, a number or a boolean"},
		{name: "null claim", cfg: ok(claims("idp", nil)), wantErr: "must be a string, a number or a boolean"},
		{name: "NaN claim", cfg: ok(claims("x", math.NaN())), wantErr: `Claims["x"]`},
		{name: "invalid UTF-8 claim", cfg: ok(claims("x", "\xff")), wantErr: "valid UTF-8"},
		{name: "age not an integer", cfg: ok(claims("age", 16.5)), wantErr: "must be an integer"},
		{name: "age a string", cfg: ok(claims("age", "16")), wantErr: "must be an integer"},
		{name: "idp a number", cfg: ok(claims("idp", 1)), wantErr: "must be a string"},
		{name: "claims too large", cfg: ok(claims("x", strings.Repeat("a", 5000))), wantErr: "more than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := issuers.NewSeayoo(tt.cfg)
			if tt.wantErr == "" {
				if err != nil || s == nil {
					t.Fatalf("NewSeayoo: %v", err)
				}
				return
			}
			if err == nil || s != nil {
				t.Fatalf("NewSeayoo = %v, %v; want error %q", s, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "TOPSECRET") {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

// TestSeayooIssuerConfigCopied checks that the issuer keeps its own copy of
// the claims.
func TestSeayooIssuerConfigCopied(t *testing.T) {
	claims := map[string]any{"idp": "guest"}
	s := seayooNewIssuer(t, func(c *issuers.SeayooConfig) { c.Claims = claims })
	claims["idp"] = "changed"
	claims["extra"] = "x"
	tok, err := s.Issue(context.Background(), issuers.Request{UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if p := seayooPayload(t, tok.Token); !strings.HasSuffix(p, `"scope":"auth","idp":"guest"}`) {
		t.Errorf("payload %s", p)
	}
}

// TestSeayooIssueConcurrent issues from many goroutines (run with -race).
func TestSeayooIssueConcurrent(t *testing.T) {
	s := seayooNewIssuer(t, nil)
	v := seayooNewVerifier(t, seayooIat, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 100 {
				tok, err := s.Issue(context.Background(), issuers.Request{UserID: "u"})
				if err == nil {
					_, err = v.Verify(context.Background(), tok.Token)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// seayooNodeVerify runs interop/seayoo.js "verify" requests: the checks of
// combo-sdk-node's verifyIdentityToken, with npm jsonwebtoken.
func seayooNodeVerify(t *testing.T, reqs []map[string]any) []struct {
	OK      bool           `json:"ok"`
	Error   string         `json:"error"`
	Payload map[string]any `json:"payload"`
} {
	t.Helper()
	var out struct {
		Results []struct {
			OK      bool           `json:"ok"`
			Error   string         `json:"error"`
			Payload map[string]any `json:"payload"`
		} `json:"results"`
	}
	nodetest.Run(t, "seayoo.js", map[string]any{"requests": reqs}, &out, "jsonwebtoken")
	if len(out.Results) != len(reqs) {
		t.Fatalf("node returned %d results for %d requests", len(out.Results), len(reqs))
	}
	return out.Results
}

// TestSeayooIssueJSONWebTokenInterop checks issued tokens the way
// combo-sdk-node does (npm jsonwebtoken.verify with HS256, audience and
// issuer, then the claims it requires).
func TestSeayooIssueJSONWebTokenInterop(t *testing.T) {
	s := seayooNewIssuer(t, nil)
	tok, err := s.Issue(context.Background(), issuers.Request{UserID: "91231223346130001", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	noClaims := seayooNewIssuer(t, func(c *issuers.SeayooConfig) { c.Claims = nil })
	bare, err := noClaims.Issue(context.Background(), issuers.Request{UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	req := func(token, secret, game string, now int64) map[string]any {
		return map[string]any{"op": "verify", "token": token, "secret": secret, "game_id": game, "issuer": "https://api.seayoo.com", "now": now}
	}
	res := seayooNodeVerify(t, []map[string]any{
		req(tok.Token, seayooSecret, seayooGame, seayooIat+10),
		req(seayooDocToken, seayooSecret, seayooGame, seayooIat+10),
		req(tok.Token, seayooSecret, seayooGame, seayooIat+3600),
		req(tok.Token, "sk_other", seayooGame, seayooIat+10),
		req(tok.Token, seayooSecret, "ycom", seayooIat+10),
		req(bare.Token, seayooSecret, seayooGame, seayooIat+10),
	})
	for i, want := range []struct {
		ok    bool
		error string
	}{
		{ok: true},
		{ok: true},
		{error: "TokenExpiredError"},
		{error: "invalid signature"},
		{error: "jwt audience invalid"},
		{error: "missing idp"}, // combo-sdk-node requires idp, external_id and external_name
	} {
		r := res[i]
		if r.OK != want.ok || !strings.Contains(r.Error, want.error) {
			t.Errorf("request %d: ok=%v error=%q, want ok=%v error containing %q", i, r.OK, r.Error, want.ok, want.error)
		}
	}
	if res[0].OK && (res[0].Payload["sub"] != "91231223346130001" || res[0].Payload["age"] != float64(16) || res[0].Payload["external_name"] != "**峰") {
		t.Errorf("jsonwebtoken payload %v", res[0].Payload)
	}
}
