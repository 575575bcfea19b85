package caddyauth_test

import (
	"encoding/base64"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"
)

// The Caddyfile of the README, with only the site address and the
// upstream replaced for loopback.
const seayooCaddyfile = `
{ADDR} {
	gameauth {
		claim_headers all
		seayoo {
			secret {env.SEAYOO_SECRET_KEY}
			game_id xcom
		}
	}
	reverse_proxy {UPSTREAM}
}
`

func TestIntegrationSeayoo(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	up := newUpstream(t)
	base := runCaddyfile(t, seayooCaddyfile, up)

	forged := map[string][]string{
		"X-Auth-User-Id":  {"admin"},
		"X_Auth_User_Id":  {"admin"},
		"x.auth.provider": {"seayoo"},
		"X-AUTH-ADMIN":    {"1"},
		"X-Auth-Age":      {"99"},
	}

	t.Run("valid token reaches upstream with its identity", func(t *testing.T) {
		r := get(t, base+"/v1/me", bearer(seayooDocToken))
		if r.status != http.StatusOK || r.body != "upstream ok" {
			t.Fatalf("status %d body %q", r.status, r.body)
		}
		seen := up.take()
		if len(seen) != 1 {
			t.Fatalf("upstream saw %d requests", len(seen))
		}
		want := map[string]string{
			"X-Auth-Provider":      "seayoo",
			"X-Auth-User-Id":       "91231223346130001",
			"X-Auth-Idp":           "seayoo",
			"X-Auth-External-Id":   "1999",
			"X-Auth-External-Name": "**峰",
			"X-Auth-Distro":        "android",
			"X-Auth-Variant":       "hykb",
			"X-Auth-Age":           "16",
			"X-Auth-Device-Id":     "e46aef3cfa571955",
		}
		for k, v := range want {
			if got := seen[0].Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("upstream %s = %q, want %q", k, got, v)
			}
		}
	})

	t.Run("no token is 401 with a bare Bearer challenge", func(t *testing.T) {
		r := get(t, base+"/v1/me", nil)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("status %d", r.status)
		}
		if got := r.header.Get("WWW-Authenticate"); got != "Bearer" {
			t.Errorf("WWW-Authenticate = %q", got)
		}
		if n := len(up.take()); n != 0 {
			t.Errorf("upstream saw %d requests", n)
		}
	})

	t.Run("expired token is 401 invalid_token", func(t *testing.T) {
		tok := seayooToken(t, "1001", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Second).Unix() })
		r := get(t, base+"/v1/me", bearer(tok))
		if r.status != http.StatusUnauthorized {
			t.Fatalf("status %d", r.status)
		}
		if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer error="invalid_token", error_description="`) {
			t.Errorf("WWW-Authenticate = %q", got)
		}
		if n := len(up.take()); n != 0 {
			t.Errorf("upstream saw %d requests", n)
		}
	})

	t.Run("forged identity headers are stripped before the verified ones are set", func(t *testing.T) {
		tok := seayooToken(t, "1002", nil)
		hdr := bearer(tok)
		for k, v := range forged {
			hdr[k] = v
		}
		r := get(t, base+"/v1/me", hdr)
		if r.status != http.StatusOK {
			t.Fatalf("status %d", r.status)
		}
		seen := up.take()
		if len(seen) != 1 {
			t.Fatalf("upstream saw %d requests", len(seen))
		}
		for k, v := range seen[0] {
			n := strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(k))
			if !strings.HasPrefix(n, "x-auth-") {
				continue
			}
			switch http.CanonicalHeaderKey(k) {
			case "X-Auth-User-Id":
				if len(v) != 1 || v[0] != "1002" {
					t.Errorf("upstream %s = %q, want the verified 1002 only", k, v)
				}
			case "X-Auth-Provider":
				if len(v) != 1 || v[0] != "seayoo" {
					t.Errorf("upstream %s = %q", k, v)
				}
			case "X-Auth-Age":
				if len(v) != 1 || v[0] != "18" {
					t.Errorf("upstream %s = %q, want the token's 18", k, v)
				}
			case "X-Auth-Idp":
			default:
				t.Errorf("forged header %s: %q reached the upstream", k, v)
			}
		}
	})

	t.Run("forged identity headers without a token are refused", func(t *testing.T) {
		r := get(t, base+"/v1/me", forged)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("status %d", r.status)
		}
		if n := len(up.take()); n != 0 {
			t.Errorf("upstream saw %d requests", n)
		}
	})

	bad := map[string]string{
		"wrong secret": func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "https://api.seayoo.com", "aud": "xcom", "sub": "1", "exp": time.Now().Add(time.Hour).Unix(), "scope": "auth"}).SignedString([]byte("sk_other"))
			return s
		}(),
		"alg none": func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": "https://api.seayoo.com", "aud": "xcom", "sub": "1", "exp": time.Now().Add(time.Hour).Unix(), "scope": "auth"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}(),
		"wrong audience": seayooToken(t, "1", func(c jwt.MapClaims) { c["aud"] = "other" }),
		"wrong scope":    seayooToken(t, "1", func(c jwt.MapClaims) { c["scope"] = "ads" }),
		"garbage":        "not-a-jwt",
		"doc token as published (signature is not sk_secret's)": seayooDocTokenAsPublished,
		"too long":  "eyJhbGciOiJIUzI1NiJ9." + strings.Repeat("A", 9<<10) + ".x",
		"truncated": seayooDocToken[:len(seayooDocToken)-5],
		"padded":    seayooDocToken + "==",
		"non-utf8":  "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte{0xff, 0xfe, 0xfd}) + ".x",
	}
	t.Run("100 KB token is refused before the handler", func(t *testing.T) {
		r := get(t, base+"/v1/me", bearer(strings.Repeat("A", 100<<10)))
		if r.status != http.StatusUnauthorized && r.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d", r.status)
		}
		if n := len(up.take()); n != 0 {
			t.Errorf("upstream saw %d requests", n)
		}
	})
	for name, tok := range bad {
		t.Run("bad token: "+name, func(t *testing.T) {
			r := get(t, base+"/v1/me", bearer(tok))
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d", r.status)
			}
			if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
			if n := len(up.take()); n != 0 {
				t.Errorf("upstream saw %d requests", n)
			}
		})
	}
}

func TestIntegrationErrorPlaceholderAndSources(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	up := newUpstream(t)
	base := runCaddyfile(t, `
{ADDR} {
	gameauth {
		claim_headers all
		seayoo {
			secret {env.SEAYOO_SECRET_KEY}
			game_id xcom
		}
		from_header X-Game-Token
		from_query token
		from_cookie game_session
		header X-Player "{http.auth.user.provider}:{http.auth.user.id}:{http.auth.user.idp}"
	}
	request_header X-Seen-User {http.auth.user.id}
	reverse_proxy {UPSTREAM}
	handle_errors {
		respond "refused: {http.auth.gameauth.error}" {http.error.status_code}
	}
}
`, up)

	tok := seayooToken(t, "2001", nil)

	t.Run("header source", func(t *testing.T) {
		r := get(t, base+"/", map[string][]string{"X-Game-Token": {tok}, "X-Player": {"forged"}})
		if r.status != 200 {
			t.Fatalf("status %d %q", r.status, r.body)
		}
		seen := up.take()
		if got := seen[0].Get("X-Player"); got != "seayoo:2001:taptap" {
			t.Errorf("X-Player = %q", got)
		}
		if got := seen[0].Get("X-Seen-User"); got != "2001" {
			t.Errorf("request_header placeholder = %q", got)
		}
	})
	t.Run("query source", func(t *testing.T) {
		if r := get(t, base+"/?token="+tok, nil); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		up.take()
	})
	t.Run("cookie source", func(t *testing.T) {
		if r := get(t, base+"/", map[string][]string{"Cookie": {"game_session=" + tok}}); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		up.take()
	})
	t.Run("bearer is not a source once sources are configured", func(t *testing.T) {
		if r := get(t, base+"/", bearer(tok)); r.status != 401 {
			t.Fatalf("status %d", r.status)
		}
	})
	t.Run("first source present is the one checked", func(t *testing.T) {
		r := get(t, base+"/?token="+tok, map[string][]string{"X-Game-Token": {"garbage"}})
		if r.status != 401 {
			t.Fatalf("status %d", r.status)
		}
		if r.body != "refused: malformed token" && !strings.HasPrefix(r.body, "refused: ") {
			t.Errorf("body %q", r.body)
		}
		if n := len(up.take()); n != 0 {
			t.Errorf("upstream saw %d", n)
		}
	})
	t.Run("reason placeholder in handle_errors", func(t *testing.T) {
		expired := seayooToken(t, "1", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })
		r := get(t, base+"/", map[string][]string{"X-Game-Token": {expired}})
		if r.status != 401 || r.body != "refused: token expired" {
			t.Fatalf("status %d body %q", r.status, r.body)
		}
		r = get(t, base+"/", nil)
		if r.status != 401 || r.body != "refused: missing token" {
			t.Fatalf("status %d body %q", r.status, r.body)
		}
		if n := len(up.take()); n != 0 {
			t.Errorf("upstream saw %d", n)
		}
	})
	t.Run("two query tokens are refused", func(t *testing.T) {
		if r := get(t, base+"/?token="+tok+"&token="+tok, nil); r.status != 401 {
			t.Fatalf("status %d", r.status)
		}
	})
}

func TestProvisionErrorsNameTheVariable(t *testing.T) {
	cfg := `{"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"routes":[{"handle":[{"handler":"gameauth","verifiers":[{"verifier":"seayoo","secret":"{env.GAMEAUTH_TEST_UNSET_SECRET}","game_id":"xcom"}]}]}]}}}}}`
	caddyMu.Lock()
	defer caddyMu.Unlock()
	err := caddy.Validate(mustConfig(t, cfg))
	if err == nil {
		t.Fatal("validate accepted an unset secret")
	}
	if !strings.Contains(err.Error(), "GAMEAUTH_TEST_UNSET_SECRET") {
		t.Errorf("error does not name the variable: %v", err)
	}
	t.Setenv("GAMEAUTH_TEST_SET_SECRET", "sk_super_secret_value")
	cfg = strings.Replace(cfg, "GAMEAUTH_TEST_UNSET_SECRET", "GAMEAUTH_TEST_SET_SECRET", 1)
	cfg = strings.Replace(cfg, `"game_id":"xcom"`, `"game_id":""`, 1)
	err = caddy.Validate(mustConfig(t, cfg))
	if err == nil {
		t.Fatal("validate accepted an empty game_id")
	}
	if strings.Contains(err.Error(), "sk_super_secret_value") {
		t.Errorf("error leaks the secret: %v", err)
	}
}

// claim_headers adds the named claims to the provider and user id; the
// other claims stay usable as placeholders and in require rules, and
// forged headers are stripped all the same.
const claimHeadersCaddyfile = `
{ADDR} {
	gameauth {
		seayoo {
			secret {env.SEAYOO_SECRET_KEY}
			game_id xcom
		}
		claim_headers id idp
		require distro android
		header X-Player-Age {http.auth.user.age}
	}
	reverse_proxy {UPSTREAM}
}
`

func TestIntegrationClaimHeaders(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	up := newUpstream(t)
	base := runCaddyfile(t, claimHeadersCaddyfile, up)

	hdr := with(bearer(seayooDocToken), "X-Auth-Provider", "forged")
	hdr = with(hdr, "X_Auth_Device_Id", "forged")
	r := get(t, base+"/v1/me", hdr)
	if r.status != http.StatusOK {
		t.Fatalf("status %d body %q", r.status, r.body)
	}
	seen := up.take()
	if len(seen) != 1 {
		t.Fatalf("upstream saw %d requests", len(seen))
	}
	got := map[string]string{}
	for k, v := range seen[0] {
		if strings.HasPrefix(k, "X-Auth-") || strings.HasPrefix(k, "X_auth_") || strings.HasPrefix(k, "X-Player-") {
			got[k] = strings.Join(v, ",")
		}
	}
	want := map[string]string{"X-Auth-Provider": "seayoo", "X-Auth-User-Id": "91231223346130001", "X-Auth-Idp": "seayoo", "X-Player-Age": "16"}
	if len(got) != len(want) {
		t.Fatalf("upstream identity headers %v, want exactly %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("upstream %s = %q, want %q", k, got[k], v)
		}
	}

	// The rule on a claim that is not sent still applies.
	ios := seayooToken(t, "42", func(c jwt.MapClaims) { c["distro"] = "ios" })
	if r := get(t, base+"/v1/me", bearer(ios)); r.status != http.StatusForbidden {
		t.Fatalf("distro ios: status %d, want 403", r.status)
	}
	if n := len(up.take()); n != 0 {
		t.Fatalf("upstream saw %d refused requests", n)
	}
}

func TestClaimHeadersValidation(t *testing.T) {
	for _, tc := range []struct{ list, err string }{
		{`["id", "Age"]`, `claim_headers: "Age" is not all, id, provider or a claim name`},
		{`["user_id"]`, `claim_headers: "user_id" is not all, id, provider or a claim name`},
		{`["idp", "idp"]`, `claim_headers: "idp" is named twice`},
		{`["all", "Idp"]`, `claim_headers: "Idp" is not all`},
	} {
		cfg := `{"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"routes":[{"handle":[{"handler":"gameauth",
			"verifiers":[{"verifier":"seayoo","secret":"sk_secret","game_id":"xcom"}],"claim_headers":` + tc.list + `}]}]}}}}}`
		err := caddy.Validate(mustConfig(t, cfg))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("claim_headers %s: err = %v, want %q", tc.list, err, tc.err)
		}
	}
}

// TestIntegrationPrivateByDefault: with no claim_headers the upstream gets
// the provider and the user id, nothing else; claim_headers all sends
// every claim.
func TestIntegrationPrivateByDefault(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	up := newUpstream(t)
	base := runCaddyfile(t, `
{ADDR} {
	route /default/* {
		gameauth {
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
		}
		reverse_proxy {UPSTREAM}
	}
	route /all/* {
		gameauth {
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
			claim_headers all
		}
		reverse_proxy {UPSTREAM}
	}
}
`, up)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/default/me", []string{"X-Auth-Provider", "X-Auth-User-Id"}},
		{"/all/me", []string{"X-Auth-Age", "X-Auth-Device-Id", "X-Auth-Distro", "X-Auth-External-Id", "X-Auth-External-Name",
			"X-Auth-Idp", "X-Auth-Provider", "X-Auth-User-Id", "X-Auth-Variant"}},
	} {
		if r := get(t, base+tc.path, bearer(seayooDocToken)); r.status != http.StatusOK {
			t.Fatalf("%s: status %d", tc.path, r.status)
		}
		seen := up.take()
		if len(seen) != 1 {
			t.Fatalf("%s: upstream saw %d requests", tc.path, len(seen))
		}
		got := identityHeaders(seen[0])
		sort.Strings(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: identity headers %v, want %v", tc.path, got, tc.want)
		}
	}
}
