package caddyauth_test

// One table-driven attack suite, through a real in-process Caddy, for every
// verifier: seayoo, zego, twilio, cloudbase and taptap (against a fake
// LeanCloud on 127.0.0.1). Each row says what a client sends, the statuses
// it may get, the refusal reason when it matters, and what the recording
// upstream may see: nothing, or exactly the identity the token proves.

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gameauth/caddy-gameauth/issuers"
)

// Configuration of the attacked Caddy. The Seayoo values are the shared
// seayooSecret and seayooGame.
const (
	atkZegoAppID    = 987654321
	atkZegoSecret   = "fedcba9876543210fedcba9876543210"
	atkZegoOther    = "00112233445566778899aabbccddeeff"
	atkTwAccount    = "AC00112233445566778899aabbccddeeff"
	atkTwOtherAcct  = "ACffeeddccbbaa99887766554433221100"
	atkTwKeySID     = "SK00112233445566778899aabbccddeeff"
	atkTwOtherKey   = "SKffeeddccbbaa99887766554433221100"
	atkTwSecret     = "attack-twilio-api-key-secret"
	atkCBEnv        = "attack-env-7f3a"
	atkCBKeyID      = "attack-key-1"
	atkTapClientID  = "attack-client-id"
	atkTapClientKey = "attack-client-token"
)

const attackCaddyfile = `
{ADDR} {
	handle /seayoo/* {
		gameauth {
			claim_headers all
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			from_bearer
			from_query access_token
		}
		reverse_proxy {UPSTREAM}
	}
	handle /zego/* {
		gameauth {
			claim_headers all
			zego {
				app_id ZEGO_APP
				secret ZEGO_SECRET
			}
		}
		reverse_proxy {UPSTREAM}
	}
	handle /rooms/* {
		gameauth {
			claim_headers all
			zego {
				app_id ZEGO_APP
				secret ZEGO_SECRET
				room {http.request.uri.path.1}
			}
		}
		reverse_proxy {UPSTREAM}
	}
	handle /twilio/* {
		gameauth {
			claim_headers all
			twilio {
				account_sid TW_ACCOUNT
				api_key_sid TW_KEY
				api_key_secret TW_SECRET
			}
		}
		reverse_proxy {UPSTREAM}
	}
	handle /video/* {
		gameauth {
			claim_headers all
			twilio {
				account_sid TW_ACCOUNT
				api_key_sid TW_KEY
				api_key_secret TW_SECRET
				room {http.request.uri.path.1}
			}
		}
		reverse_proxy {UPSTREAM}
	}
	handle /cloud/* {
		gameauth {
			claim_headers all
			cloudbase {
				credentials_file CB_CREDS
			}
		}
		reverse_proxy {UPSTREAM}
	}
	handle /taptap/* {
		gameauth {
			claim_headers all
			taptap {
				server LEANCLOUD
				client_id TAP_ID
				client_token TAP_KEY
				timeout 2s
			}
		}
		reverse_proxy {UPSTREAM}
	}
	handle {
		respond "no route" 404
	}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}
`

// attackRow is one attack.
type attackRow struct {
	verifier string // seayoo, zego, twilio, cloudbase, taptap
	name     string
	path     string              // path and query, sent with net/http
	hdr      map[string][]string // header keys are sent as spelled
	raw      string              // when set, written as is on a TCP connection instead ({HOST} is replaced)
	status   []int               // acceptable statuses
	errOK    bool                // a transport error (reset connection) is acceptable too
	reason   string              // expected {http.auth.gameauth.error}, when set
	// want is what the upstream must see on a 200: exactly these identity
	// headers (normalized names) with exactly these values. On any other
	// status the upstream must see nothing.
	want    map[string]string
	wantURI string // when set, the request-URI the upstream must see
	noLC    bool   // the fake LeanCloud must not be called
	bug     string // a known bug: the row is skipped with this text
}

func sts(s ...int) []int { return s }

// attackNorm is the normal form of a header name: lower case, with _ and .
// read as -.
func attackNorm(k string) string {
	return strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(k))
}

// ident builds a want map from provider, subject and claim pairs.
func ident(provider, sub string, claims ...string) map[string]string {
	m := map[string]string{"x-auth-provider": provider, "x-auth-user-id": sub}
	for i := 0; i+1 < len(claims); i += 2 {
		m["x-auth-"+strings.ReplaceAll(claims[i], "_", "-")] = claims[i+1]
	}
	return m
}

// --- fixtures ---------------------------------------------------------------

var (
	atkKeyOnce sync.Once
	atkKeys    [2]*rsa.PrivateKey
	atkKeyErr  error
)

// attackKeys returns the CloudBase key pair and another one, made once per
// test binary.
func attackKeys(t *testing.T) (cloudbase, other *rsa.PrivateKey) {
	t.Helper()
	atkKeyOnce.Do(func() {
		for i := range atkKeys {
			if atkKeys[i], atkKeyErr = rsa.GenerateKey(rand.Reader, 2048); atkKeyErr != nil {
				return
			}
		}
	})
	if atkKeyErr != nil {
		t.Fatal(atkKeyErr)
	}
	return atkKeys[0], atkKeys[1]
}

func attackKey(t *testing.T) *rsa.PrivateKey {
	k, _ := attackKeys(t)
	return k
}

func attackCredentials(t *testing.T) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(attackKey(t))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{
		"private_key_id": atkCBKeyID,
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"env_id":         atkCBEnv,
	})
	return b
}

// attackUpstream records the request-URI and headers of what reaches it.
type attackUpstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []attackSeen
}

type attackSeen struct {
	uri string
	hdr http.Header
}

func newAttackUpstream(t *testing.T) *attackUpstream {
	u := &attackUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, attackSeen{uri: r.RequestURI, hdr: r.Header.Clone()})
		u.mu.Unlock()
		fmt.Fprint(w, "upstream ok")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *attackUpstream) take() []attackSeen {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.seen
	u.seen = nil
	return s
}

// attackLeanCloud answers GET /1.1/users/me: sessions starting with "good"
// are users "obj-<session>", anything else is code 211.
type attackLeanCloud struct {
	srv   *httptest.Server
	calls atomic.Int64
}

func newAttackLeanCloud(t *testing.T) *attackLeanCloud {
	f := &attackLeanCloud{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/1.1/users/me" || r.Header.Get("X-LC-Id") != atkTapClientID || r.Header.Get("X-LC-Key") != atkTapClientKey {
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
		b, _ := json.Marshal(map[string]any{
			"objectId": "obj-" + sess, "username": "user", "nickname": "Nick", "shortId": 7,
			"sessionToken": sess,
			"authData":     map[string]any{"taptap": map[string]any{"openid": "oid", "unionid": "uid", "access_token": "AT-secret", "mac_key": "MK-secret"}},
		})
		w.Write(b)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func tapIdent(sess string) map[string]string {
	return ident("taptap", "obj-"+sess, "username", "user", "nickname", "Nick", "short_id", "7", "openid", "oid", "unionid", "uid")
}

// --- token crafting ---------------------------------------------------------

func b64u(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// jq is the JSON text of a string.
func jq(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// jobj is a JSON object as ordered raw members, so tests control every byte.
type jobj [][2]string

// set returns a copy with member k set to the raw JSON v (appended if new);
// v == "" removes it.
func (o jobj) set(k, v string) jobj {
	out := make(jobj, 0, len(o)+1)
	found := false
	for _, kv := range o {
		if kv[0] == k {
			found = true
			if v != "" {
				out = append(out, [2]string{k, v})
			}
			continue
		}
		out = append(out, kv)
	}
	if !found && v != "" {
		out = append(out, [2]string{k, v})
	}
	return out
}

func (o jobj) String() string { return o.plus("") }

// plus returns the object's text with raw members appended at the end.
func (o jobj) plus(raw string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jq(kv[0]) + ":" + kv[1])
	}
	b.WriteString(raw)
	b.WriteByte('}')
	return b.String()
}

// hs256 signs header.payload with HMAC-SHA256 by hand (the key may be empty).
func hs256(key []byte, header, payload string) string {
	in := b64u(header) + "." + b64u(payload)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// jws signs header.payload with a golang-jwt method.
func jws(t *testing.T, m jwt.SigningMethod, key any, header, payload string) string {
	t.Helper()
	in := b64u(header) + "." + b64u(payload)
	sig, err := m.Sign(in, key)
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// unsigned is an alg-none style token: an empty signature.
func unsigned(header, payload string) string { return b64u(header) + "." + b64u(payload) + "." }

// padJWS adds "=" padding to every segment of a compact JWS.
func padJWS(tok string) string {
	parts := strings.Split(tok, ".")
	for i, p := range parts {
		parts[i] = p + strings.Repeat("=", (4-len(p)%4)%4)
	}
	return strings.Join(parts, ".")
}

// stdJWS re-encodes every segment of a compact JWS in standard base64 with
// padding.
func stdJWS(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = base64.StdEncoding.EncodeToString(b)
	}
	return strings.Join(parts, ".")
}

func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// zegoBlob builds a Token04 by hand: "04" + base64(expire|ivlen|iv|ctlen|ct|tail).
func zegoBlob(expire int64, ivLen int, iv []byte, ctLen int, ct, tail []byte) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(expire))
	b = binary.BigEndian.AppendUint16(b, uint16(ivLen))
	b = append(b, iv...)
	b = binary.BigEndian.AppendUint16(b, uint16(ctLen))
	b = append(b, ct...)
	b = append(b, tail...)
	return "04" + base64.StdEncoding.EncodeToString(b)
}

// zegoSeal encrypts a hand-written plaintext as an AES-GCM Token04 whose
// clear prefix is prefixExpire.
func zegoSeal(t *testing.T, secret string, prefixExpire int64, plain string) string {
	t.Helper()
	block, err := aes.NewCipher([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, 12)
	rand.Read(nonce)
	ct := gcm.Seal(nil, nonce, []byte(plain), nil)
	return zegoBlob(prefixExpire, 12, nonce, len(ct), ct, []byte{1})
}

// zegoBytes decodes a Token04 into its blob.
func zegoBytes(t *testing.T, tok string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(tok[2:])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func zegoIssue(t *testing.T, cfg issuers.ZegoConfig, req issuers.Request) string {
	t.Helper()
	if cfg.AppID == 0 {
		cfg.AppID = atkZegoAppID
	}
	if cfg.Secret == "" {
		cfg.Secret = atkZegoSecret
	}
	z, err := issuers.NewZego(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := z.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// rawGET is a raw HTTP/1.1 request; extra header lines are given whole.
func rawGET(path string, lines ...string) string {
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: {HOST}\r\n")
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.String()
}

// deep10k is a token with 10000 nested arrays: over 16 KiB, Caddy's
// default header limit, so net/http answers 431 before the handler; at
// most it is refused as longer than 8 KiB.
func deep10k(path, tok string) attackRow {
	return attackRow{name: "10000 nested arrays in a claim", path: path, hdr: authz("Bearer " + tok), status: sts(401, 431), reason: "token too long"}
}

// --- the rows ---------------------------------------------------------------

// forgeries are identity headers a client may send, in every spelling.
var forgeries = []struct {
	name string
	hdr  map[string][]string
}{
	{"X-Auth-User-Id", map[string][]string{"X-Auth-User-Id": {"admin"}}},
	{"x-auth-user-id", map[string][]string{"x-auth-user-id": {"admin"}}},
	{"X_Auth_User_Id", map[string][]string{"X_Auth_User_Id": {"admin"}}},
	{"x.auth.user.id", map[string][]string{"x.auth.user.id": {"admin"}}},
	{"X-AUTH-USER-ID", map[string][]string{"X-AUTH-USER-ID": {"admin"}}},
	{"mixed spellings", map[string][]string{"x-AUTH_user.Id": {"admin"}, "X_auth-PROVIDER": {"root"}, "X.Auth.Room-Id": {"arena-9"}, "X-Auth-Admin": {"1"}}},
	{"repeated twice", map[string][]string{"X-Auth-User-Id": {"admin", "root"}, "X-Auth-Provider": {"seayoo", "zego"}}},
}

func merge(hs ...map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, h := range hs {
		for k, v := range h {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

func authz(v ...string) map[string][]string { return map[string][]string{"Authorization": v} }

// genericRows are the transport-level attacks every verifier gets: tok is
// a valid token for path, want what it proves.
func genericRows(v, path, tok string, want map[string]string, noLC bool) []attackRow {
	r := []attackRow{
		{name: "missing token", status: sts(401), reason: "missing token"},
		{name: `empty bearer "Bearer"`, hdr: authz("Bearer"), status: sts(401), reason: "malformed token"},
		{name: `empty bearer "Bearer "`, hdr: authz("Bearer "), status: sts(401), reason: "malformed token"},
		{name: `"bearer x" lower-case scheme`, hdr: authz("bearer " + tok), status: sts(200), want: want},
		{name: `"BEARER x" upper-case scheme`, hdr: authz("BEARER " + tok), status: sts(200), want: want},
		{name: `"Bearer  x" double space`, hdr: authz("Bearer  " + tok), status: sts(200), want: want},
		{name: `"Bearer<TAB>x" is malformed, never read as another scheme`, hdr: authz("Bearer\t" + tok), status: sts(401), reason: "malformed token"},
		{name: `"Bearerx" glued`, hdr: authz("Bearer" + tok), status: sts(401), reason: "missing token"},
		{name: `trailing junk "Bearer a b"`, hdr: authz("Bearer " + tok + " b"), status: sts(401), reason: "malformed token"},
		{name: `"Basic x"`, hdr: authz("Basic " + tok), status: sts(401), reason: "missing token"},
		{name: "two Authorization headers, both valid", hdr: authz("Bearer "+tok, "Bearer "+tok), status: sts(401), reason: "malformed token"},
		{name: "Authorization and authorization lines (raw)", raw: rawGET(path, "Authorization: Bearer "+tok, "authorization: Bearer "+tok), status: sts(401), reason: "malformed token"},
		{name: "64 KB token", hdr: authz("Bearer " + strings.Repeat("A", 64<<10)), status: sts(401, 431), errOK: true},
		{name: "8 MB token", hdr: authz("Bearer " + strings.Repeat("A", 8<<20)), status: sts(431, 400), errOK: true},
		{name: "invalid UTF-8 token", hdr: authz("Bearer " + tok[:8] + "\xff\xfe\xc0" + tok[8:]), status: sts(401)},
		{name: "NUL byte in Authorization (raw)", raw: rawGET(path, "Authorization: Bearer "+tok[:8]+"\x00"+tok[8:]), status: sts(400)},
	}
	for _, f := range forgeries {
		r = append(r,
			attackRow{name: "forged " + f.name + " with a valid token", hdr: merge(f.hdr, authz("Bearer "+tok)), status: sts(200), want: want},
			attackRow{name: "forged " + f.name + " without a token", hdr: f.hdr, status: sts(401), reason: "missing token"},
		)
	}
	for i := range r {
		r[i].verifier = v
		if r[i].path == "" {
			r[i].path = path
		}
		if r[i].status[0] != 200 {
			r[i].noLC = noLC
		}
	}
	return r
}

// attackRows builds every row. Tokens are made now, so run them at once.
func attackRows(t *testing.T) []attackRow {
	t.Helper()
	now := time.Now()
	sec := now.Unix()
	var rows []attackRow
	add := func(v string, rs ...attackRow) {
		for _, r := range rs {
			r.verifier = v
			rows = append(rows, r)
		}
	}
	cbKey, otherKey := attackKeys(t)
	pkix, _ := x509.MarshalPKIXPublicKey(&cbKey.PublicKey)
	pemPKIX := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pemPKCS1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&cbKey.PublicKey)})

	// ---- Seayoo -----------------------------------------------------------
	{
		const p = "/seayoo/me"
		sKey := []byte(seayooSecret)
		hdr := `{"alg":"HS256","typ":"JWT"}`
		base := jobj{
			{"iss", jq("https://api.seayoo.com")}, {"aud", jq(seayooGame)}, {"sub", jq("s-raw")},
			{"iat", i64(sec)}, {"exp", i64(sec + 3600)}, {"scope", jq("auth")},
		}
		rawWant := ident("seayoo", "s-raw")
		sign := func(payload string) string { return hs256(sKey, hdr, payload) }
		good := seayooToken(t, "s-1", nil)
		goodWant := ident("seayoo", "s-1", "idp", "taptap", "age", "18")
		iss, err := issuers.NewSeayoo(issuers.SeayooConfig{Secret: seayooSecret, GameID: seayooGame, Claims: map[string]any{"idp": "seayoo"}})
		if err != nil {
			t.Fatal(err)
		}
		issued, err := iss.Issue(context.Background(), issuers.Request{UserID: "s-issued"})
		if err != nil {
			t.Fatal(err)
		}
		b := func(tok string) map[string][]string { return authz("Bearer " + tok) }
		bad := func(name, tok, reason string) attackRow {
			return attackRow{name: name, path: p, hdr: b(tok), status: sts(401), reason: reason}
		}
		add("seayoo", genericRows("seayoo", p, good, goodWant, false)...)
		add("seayoo",
			attackRow{name: "valid (golang-jwt)", path: p, hdr: b(good), status: sts(200), want: goodWant, wantURI: p},
			attackRow{name: "valid (issuers.Seayoo)", path: p, hdr: b(issued.Token), status: sts(200), want: ident("seayoo", "s-issued", "idp", "seayoo")},
			attackRow{name: "valid (hand-signed raw JSON)", path: p, hdr: b(sign(base.String())), status: sts(200), want: rawWant},
			bad("alg none", unsigned(`{"alg":"none","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("alg None", unsigned(`{"alg":"None","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("alg NONE", unsigned(`{"alg":"NONE","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("alg nOnE", unsigned(`{"alg":"nOnE","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("alg none with a valid HMAC", hs256(sKey, `{"alg":"none","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("alg hs256 (lower case) with a valid HMAC", hs256(sKey, `{"alg":"hs256","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("alg HS512 signed with the secret", jws(t, jwt.SigningMethodHS512, sKey, `{"alg":"HS512","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("alg RS256 signed with an RSA key", jws(t, jwt.SigningMethodRS256, cbKey, `{"alg":"RS256","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("HS256 keyed with the CloudBase public key PEM", hs256(pemPKIX, hdr, base.String()), "bad signature"),
			bad("alg twice (none, HS256) with a valid HMAC", hs256(sKey, `{"alg":"none","alg":"HS256"}`, base.String()), "malformed token"),
			bad(`kid "../../etc/passwd", empty HMAC key`, hs256(nil, `{"alg":"HS256","kid":"../../etc/passwd"}`, base.String()), "bad signature"),
			bad(`kid "' OR 1=1 --", empty HMAC key`, hs256(nil, `{"alg":"HS256","kid":"' OR 1=1 --"}`, base.String()), "bad signature"),
			bad(`kid "/dev/null", empty HMAC key`, hs256(nil, `{"alg":"HS256","kid":"/dev/null"}`, base.String()), "bad signature"),
			attackRow{name: `kid "../../etc/passwd" with the real secret: kid is ignored`, path: p, hdr: b(hs256(sKey, `{"alg":"HS256","kid":"../../etc/passwd"}`, base.String())), status: sts(200), want: rawWant},
			bad("crit header", hs256(sKey, `{"alg":"HS256","typ":"JWT","crit":["exp"]}`, base.String()), "bad header"),
			bad("expired by one second", sign(base.set("exp", i64(sec-1)).String()), "token expired"),
			bad("nbf in the future", sign(base.set("nbf", i64(sec+60)).String()), "token not yet valid"),
			bad("missing exp", sign(base.set("exp", "").String()), "missing exp"),
			bad("wrong issuer (global endpoint)", sign(base.set("iss", jq("https://api.seayoo.io")).String()), "wrong issuer"),
			bad("wrong issuer (trailing slash)", sign(base.set("iss", jq("https://api.seayoo.com/")).String()), "wrong issuer"),
			bad("wrong issuer (upper case)", sign(base.set("iss", jq("HTTPS://API.SEAYOO.COM")).String()), "wrong issuer"),
			bad("wrong audience", sign(base.set("aud", jq("xcom2")).String()), "wrong audience"),
			bad("wrong audience (array, other case)", sign(base.set("aud", `["other","XCOM"]`).String()), "wrong audience"),
			bad("wrong scope", sign(base.set("scope", jq("ads")).String()), "wrong scope"),
			bad(`duplicate "sub" (refused, not first or last)`, sign(base.plus(`,"sub":"admin"`)), "malformed token"),
			bad(`duplicate "sub" spelled "s\u0075b"`, sign(base.plus(`,"s\u0075b":"admin"`)), "malformed token"),
			bad(`"SUB" beside "sub" (case-insensitive decoders)`, sign(base.plus(`,"SUB":"admin"`)), "malformed token"),
			bad(`duplicate "exp"`, sign(base.plus(`,"exp":`+i64(sec+7200))), "malformed token"),
			bad("duplicate unknown claim", sign(base.plus(`,"x":"1","x":"2"`)), "malformed token"),
			bad("exp 1e400", sign(base.set("exp", "1e400").String()), "bad time claim"),
			bad("exp 99999999999999999999", sign(base.set("exp", "99999999999999999999").String()), "bad time claim"),
			bad("exp fractional", sign(base.set("exp", i64(sec+3600)+".5").String()), "bad time claim"),
			bad("exp as a string", sign(base.set("exp", jq(i64(sec+3600))).String()), "bad time claim"),
			bad("exp negative", sign(base.set("exp", "-1").String()), "bad time claim"),
			bad("iat 1e400", sign(base.set("iat", "1e400").String()), "bad time claim"),
			deep10k(p, sign(base.set("deep", nested(10000)).String())),
			bad("2000 nested arrays in a claim", sign(base.set("deep", nested(2000)).String()), "malformed token"),
			bad("sub with CR LF header injection", sign(base.set("sub", jq("a\r\nX-Auth-User-Id: admin")).String()), "bad claim"),
			bad("sub with NUL", sign(base.set("sub", jq("a\x00b")).String()), "bad claim"),
			bad("sub empty", sign(base.set("sub", jq("")).String()), "missing subject"),
			attackRow{name: "claims user_id, provider, id = admin are not forwarded", path: p,
				hdr: b(sign(base.plus(`,"user_id":"admin","provider":"admin","id":"admin"`))), status: sts(200), want: rawWant},
			bad("truncated signature", good[:len(good)-1], "bad signature"),
			bad("truncated payload", good[:strings.IndexByte(good, '.')+5]+good[strings.LastIndexByte(good, '.'):], ""),
			bad("padded with =", padJWS(good), "malformed token"),
			bad("standard base64 with padding", stdJWS(t, good), "malformed token"),
			bad("signature of another secret", hs256([]byte("sk_other"), hdr, base.String()), "bad signature"),
			// Two sources: Authorization first, then ?access_token=.
			attackRow{name: "valid token in the query", path: p + "?access_token=" + good, status: sts(200), want: goodWant},
			attackRow{name: "query key percent-encoded (access%5Ftoken)", path: p + "?access%5Ftoken=" + good, status: sts(200), want: goodWant},
			attackRow{name: "valid Authorization and garbage query: Authorization wins", path: p + "?access_token=garbage", hdr: b(good), status: sts(200), want: goodWant},
			attackRow{name: "garbage Authorization and valid query: no fallback", path: p + "?access_token=" + good, hdr: b("garbage"), status: sts(401), reason: "malformed token"},
			attackRow{name: "two access_token parameters", path: p + "?access_token=" + good + "&access_token=" + good, status: sts(401), reason: "malformed token"},
			attackRow{name: "access_token and access%5Ftoken", path: p + "?access_token=" + good + "&access%5Ftoken=" + good, status: sts(401), reason: "malformed token"},
			attackRow{name: "NUL in query token (%00)", path: p + "?access_token=" + good[:10] + "%00" + good[10:], status: sts(401), reason: "malformed token"},
			attackRow{name: "CR LF in query token (%0D%0A)", path: p + "?access_token=" + good + "%0D%0AX-Auth-User-Id:%20admin", status: sts(401), reason: "malformed token"},
			attackRow{name: "invalid UTF-8 in query token (%FF%FE)", path: p + "?access_token=" + good[:10] + "%FF%FE" + good[10:], status: sts(401), reason: "malformed token"},
			attackRow{name: "bad escape in query token (%zz)", path: p + "?access_token=" + good + "%zz", status: sts(401), reason: "malformed token"},
			attackRow{name: "64 KB query token", path: p + "?access_token=" + strings.Repeat("A", 64<<10), status: sts(401, 414, 431), errOK: true},
			attackRow{name: "invalid UTF-8 byte in Authorization (raw)", raw: rawGET(p, "Authorization: Bearer "+good[:8]+"\xff"+good[8:]), status: sts(401), reason: "malformed token"},
			attackRow{name: "obs-fold: Authorization continued on the next line (raw)", raw: rawGET(p, "Authorization: Bearer", " "+good), status: sts(200, 400), want: goodWant},
			attackRow{name: "space before the colon (raw)", raw: rawGET(p, "Authorization : Bearer "+good), status: sts(400)},
			// The path matcher cleans the path; the upstream gets it raw.
			attackRow{name: "path /rooms/../seayoo/me is routed to seayoo", raw: rawGET("/rooms/../seayoo/me", "Authorization: Bearer "+good), status: sts(200), want: goodWant, wantURI: "/rooms/../seayoo/me"},
		)
	}

	// ---- ZEGO -------------------------------------------------------------
	{
		const p = "/zego/me"
		idTok := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-1"})
		idWant := ident("zego", "z-1", "app_id", i64(atkZegoAppID))
		cbcTok := zegoIssue(t, issuers.ZegoConfig{Mode: issuers.ZegoCBC}, issuers.Request{UserID: "z-cbc"})
		room7 := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-7", RoomID: "arena-7", Publish: true})
		room7Want := ident("zego", "z-7", "app_id", i64(atkZegoAppID), "room_id", "arena-7", "login", "1", "publish", "1")
		room8 := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-8", RoomID: "arena-8"})
		room8Want := ident("zego", "z-8", "app_id", i64(atkZegoAppID), "room_id", "arena-8", "login", "1", "publish", "0")
		expired := zegoIssue(t, issuers.ZegoConfig{Clock: func() time.Time { return now.Add(-2 * time.Second) }}, issuers.Request{UserID: "z-old", TTL: time.Second})
		otherApp := zegoIssue(t, issuers.ZegoConfig{AppID: 111}, issuers.Request{UserID: "z-1"})
		otherKey := zegoIssue(t, issuers.ZegoConfig{Secret: atkZegoOther}, issuers.Request{UserID: "z-1"})
		otherKeyCBC := zegoIssue(t, issuers.ZegoConfig{Secret: atkZegoOther, Mode: issuers.ZegoCBC}, issuers.Request{UserID: "z-1"})
		// Tokens whose base64 has + or / (for the URL-safe alphabet row)
		// and = padding (for the stripped padding row): lengths and bytes
		// vary with the random nonce.
		zegoWith := func(ok func(string) bool) string {
			for range 500 {
				if tok := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-1"}); ok(tok) {
					return tok
				}
			}
			t.Fatal("no fitting ZEGO token in 500 tries")
			return ""
		}
		plusTok := zegoWith(func(s string) bool { return strings.ContainsAny(s, "+/") })
		paddedTok := zegoWith(func(s string) bool { return strings.HasSuffix(s, "=") })
		plain := func(app int64, user string, ctime, expire int64, payload, extra string) string {
			return fmt.Sprintf(`{"app_id":%d,"user_id":%s,"nonce":12345,"ctime":%d,"expire":%d,"payload":%s%s}`, app, jq(user), ctime, expire, jq(payload), extra)
		}
		exp := sec + 3600
		seal := func(pt string) string { return zegoSeal(t, atkZegoSecret, exp, pt) }
		sealed := seal(plain(atkZegoAppID, "z-sealed", sec, exp, "", ""))

		blob := zegoBytes(t, idTok) // expire(8) ivlen(2)=12 iv(12) ctlen(2) ct tag mode(1)
		ctLen := int(binary.BigEndian.Uint16(blob[22:]))
		ct := blob[24 : 24+ctLen]
		iv := blob[10:22]
		withBlob := func(mut func(b []byte) []byte) string {
			b := mut(slices.Clone(blob))
			return "04" + base64.StdEncoding.EncodeToString(b)
		}
		b := func(tok string) map[string][]string { return authz("Bearer " + tok) }
		bad := func(name, tok, reason string) attackRow {
			return attackRow{name: name, path: p, hdr: b(tok), status: sts(401), reason: reason}
		}
		add("zego", genericRows("zego", p, idTok, idWant, false)...)
		add("zego",
			attackRow{name: "valid GCM identity token (issuers.Zego)", path: p, hdr: b(idTok), status: sts(200), want: idWant},
			attackRow{name: "valid CBC identity token (issuers.Zego)", path: p, hdr: b(cbcTok), status: sts(200), want: ident("zego", "z-cbc", "app_id", i64(atkZegoAppID))},
			attackRow{name: "valid hand-sealed token", path: p, hdr: b(sealed), status: sts(200), want: ident("zego", "z-sealed", "app_id", i64(atkZegoAppID))},
			bad("expired by one second", expired, "token expired"),
			bad("wrong app id", otherApp, "wrong audience"),
			bad("wrong app id (hand-sealed with our secret)", seal(plain(111, "z-1", sec, exp, "", "")), "wrong audience"),
			bad("wrong secret (GCM)", otherKey, "bad signature"),
			bad("wrong secret (CBC)", otherKeyCBC, "bad signature"),
			bad("GCM tag flipped", withBlob(func(b []byte) []byte { b[len(b)-2] ^= 1; return b }), "bad signature"),
			bad("CBC ciphertext flipped", func() string {
				bb := zegoBytes(t, cbcTok)
				bb[30] ^= 0x80
				return "04" + base64.StdEncoding.EncodeToString(bb)
			}(), ""),
			bad("clear expire prefix pushed to 9999", withBlob(func(b []byte) []byte {
				binary.BigEndian.PutUint64(b, 253402300799)
				return b
			}), "bad time claim"),
			bad("iv length 0xFFFF past the end", zegoBlob(exp, 0xFFFF, iv, ctLen, ct, []byte{1}), "malformed token"),
			bad("iv length 16 with a GCM mode byte", zegoBlob(exp, 16, append(slices.Clone(iv), 0, 0, 0, 0), ctLen, ct, []byte{1}), "malformed token"),
			bad("ciphertext length 0xFFFF past the end", zegoBlob(exp, 12, iv, 0xFFFF, ct, []byte{1}), "malformed token"),
			bad("ciphertext length one past the end", zegoBlob(exp, 12, iv, ctLen+2, ct, []byte{1}), "malformed token"),
			bad("ciphertext length 0", zegoBlob(exp, 12, iv, 0, nil, nil), "malformed token"),
			bad("blob ends inside the iv", "04"+base64.StdEncoding.EncodeToString(blob[:15]), "malformed token"),
			bad("blob of 9 bytes", "04"+base64.StdEncoding.EncodeToString(blob[:9]), "malformed token"),
			bad("mode byte 2", withBlob(func(b []byte) []byte { b[len(b)-1] = 2; return b }), "malformed token"),
			bad("two bytes after the ciphertext", withBlob(func(b []byte) []byte { return append(b, 1) }), "malformed token"),
			bad("URL-safe alphabet instead of standard", "04"+strings.NewReplacer("+", "-", "/", "_").Replace(plusTok[2:]), "malformed token"),
			bad("padding stripped", strings.TrimRight(paddedTok, "="), "malformed token"),
			bad("extra padding ==", idTok+"==", "malformed token"),
			bad("truncated by 4 characters", idTok[:len(idTok)-4], ""),
			bad(`version "03"`, "03"+idTok[2:], "malformed token"),
			bad(`"04" alone`, "04", "malformed token"),
			bad(`duplicate "user_id"`, seal(`{"app_id":987654321,"user_id":"z-1","user_id":"admin","nonce":1,"ctime":`+i64(sec)+`,"expire":`+i64(exp)+`,"payload":""}`), "malformed token"),
			bad(`"User_id" instead of "user_id"`, seal(`{"app_id":987654321,"User_id":"admin","nonce":1,"ctime":`+i64(sec)+`,"expire":`+i64(exp)+`,"payload":""}`), "malformed token"),
			bad("extra member", seal(plain(atkZegoAppID, "z-1", sec, exp, "", `,"admin":true`)), "malformed token"),
			bad("expire 1e400", seal(`{"app_id":987654321,"user_id":"z-1","nonce":1,"ctime":`+i64(sec)+`,"expire":1e400,"payload":""}`), "malformed token"),
			bad("expire 99999999999999999999", seal(`{"app_id":987654321,"user_id":"z-1","nonce":1,"ctime":`+i64(sec)+`,"expire":99999999999999999999,"payload":""}`), "malformed token"),
			bad("expire beyond year 9999 (prefix agrees)", zegoSeal(t, atkZegoSecret, 253402300800, plain(atkZegoAppID, "z-1", sec, 253402300800, "", "")), "bad time claim"),
			bad("ctime after expire", seal(plain(atkZegoAppID, "z-1", exp+1, exp, "", "")), "bad time claim"),
			bad("hand-sealed, expired by one second", zegoSeal(t, atkZegoSecret, sec-1, plain(atkZegoAppID, "z-1", sec-10, sec-1, "", "")), "token expired"),
			deep10k(p, seal(plain(atkZegoAppID, "z-1", sec, exp, `{"room_id":"arena-7","x":`+nested(10000)+`}`, ""))),
			bad("2000 nested arrays in the payload", seal(plain(atkZegoAppID, "z-1", sec, exp, `{"room_id":"arena-7","x":`+nested(2000)+`}`, "")), "malformed token"),
			bad(`duplicate "room_id" in the payload`, seal(plain(atkZegoAppID, "z-1", sec, exp, `{"room_id":"arena-7","room_id":"arena-8"}`, "")), "malformed token"),
			bad("user_id with NUL", seal(plain(atkZegoAppID, "a\x00b", sec, exp, "", "")), "bad claim"),
			bad("user_id with CR LF", seal(plain(atkZegoAppID, "a\r\nX-Auth-User-Id: admin", sec, exp, "", "")), "bad claim"),
			bad("user_id empty", seal(plain(atkZegoAppID, "", sec, exp, "", "")), "missing subject"),
			bad("invalid UTF-8 in the plaintext", seal(`{"app_id":987654321,"user_id":"z-`+"\xff"+`","nonce":1,"ctime":`+i64(sec)+`,"expire":`+i64(exp)+`,"payload":""}`), "malformed token"),
			bad("a Seayoo token", seayooToken(t, "z-1", nil), "malformed token"),
		)
		// Path tricks against room {http.request.uri.path.1}.
		r7 := func(name, path string, status int, reason string) attackRow {
			row := attackRow{name: name, raw: rawGET(path, "Authorization: Bearer "+room7), status: sts(status), reason: reason}
			if status == 200 {
				row.want, row.wantURI = room7Want, path
			}
			return row
		}
		add("zego",
			r7("room arena-7 token on /rooms/arena-7/state", "/rooms/arena-7/state", 200, ""),
			r7("room arena-7 token on /rooms/arena-8/state", "/rooms/arena-8/state", 403, "wrong room"),
			r7("//rooms//arena-7: empty segments", "//rooms//arena-7", 403, "ambiguous request path"),
			// The placeholder reads the decoded path: %2F splits segments.
			r7("/rooms/arena-7%2F..%2Farena-8: reads as arena-7 here, may be served as arena-8 upstream", "/rooms/arena-7%2F..%2Farena-8", 403, "ambiguous request path"),
			r7("/rooms/../rooms/arena-8: dot segment", "/rooms/../rooms/arena-8", 403, "ambiguous request path"),
			// Dot segments are not removed before the placeholder nor before proxying.
			r7("/rooms/arena-7/../../rooms/arena-8: reads as arena-7 here, may be served as arena-8 upstream", "/rooms/arena-7/../../rooms/arena-8", 403, "ambiguous request path"),
			r7("/rooms/ARENA-7: room ids are case-sensitive", "/rooms/ARENA-7", 403, "wrong room"),
			r7("/ROOMS/arena-7: the path matcher is case-insensitive", "/ROOMS/arena-7", 200, ""),
			r7("/rooms/arena-7%00", "/rooms/arena-7%00", 403, "ambiguous request path"),
			r7("/rooms/arena-7%20", "/rooms/arena-7%20", 403, "wrong room"),
			r7("/rooms/arena-7;x=1", "/rooms/arena-7;x=1", 403, "ambiguous request path"),
			r7("/rooms/%61rena-7 (escaped letter)", "/rooms/%61rena-7", 200, ""),
			r7("/rooms/arena-7%2Fx: encoded slash", "/rooms/arena-7%2Fx", 403, "ambiguous request path"),
			r7("/rooms/%2e%2e/arena-7: the matcher cleans it to /arena-7", "/rooms/%2e%2e/arena-7", 404, ""),
			r7("/rooms/ (no room)", "/rooms/", 403, "no room in request"),
			r7("/rooms/arena-7 with a raw 0xFF byte", "/rooms/arena-7\xff", 403, "wrong room"),
			r7("/seayoo/../rooms/arena-7: routed to /rooms/*, dot segment", "/seayoo/../rooms/arena-7", 403, "ambiguous request path"),
			r7("/rooms (no slash) is not a rooms route", "/rooms", 404, ""),
			attackRow{name: "room arena-8 token on /rooms/arena-7%2F..%2Farena-8", raw: rawGET("/rooms/arena-7%2F..%2Farena-8", "Authorization: Bearer "+room8), status: sts(403), reason: "ambiguous request path"},
			attackRow{name: "room arena-8 token on /rooms/../rooms/arena-8", raw: rawGET("/rooms/../rooms/arena-8", "Authorization: Bearer "+room8), status: sts(403), reason: "ambiguous request path"},
			attackRow{name: "room arena-8 token on its room", raw: rawGET("/rooms/arena-8/x", "Authorization: Bearer "+room8), status: sts(200), want: room8Want},
			attackRow{name: "identity token (no room) on /rooms/arena-7", raw: rawGET("/rooms/arena-7", "Authorization: Bearer "+idTok), status: sts(403), reason: "wrong room"},
			attackRow{name: "forged X-Auth-Room-Id arena-8 with the arena-7 token", raw: rawGET("/rooms/arena-7", "Authorization: Bearer "+room7, "X-Auth-Room-Id: arena-8", "x_auth_room_id: arena-8"), status: sts(200), want: room7Want},
		)
	}

	// ---- Twilio -----------------------------------------------------------
	{
		const p = "/twilio/me"
		tKey := []byte(atkTwSecret)
		hdr := `{"alg":"HS256","typ":"JWT","cty":"twilio-fpa;v=1"}`
		base := jobj{
			{"jti", jq(atkTwKeySID + "-1")}, {"grants", `{"identity":"tw-raw","video":{"room":"squad-1"}}`},
			{"iat", i64(sec)}, {"exp", i64(sec + 3600)}, {"iss", jq(atkTwKeySID)}, {"sub", jq(atkTwAccount)},
		}
		rawWant := ident("twilio", "tw-raw", "room", "squad-1", "api_key_sid", atkTwKeySID)
		sign := func(payload string) string { return hs256(tKey, hdr, payload) }
		ti, err := issuers.NewTwilio(issuers.TwilioConfig{AccountSID: atkTwAccount, APIKeySID: atkTwKeySID, APIKeySecret: atkTwSecret})
		if err != nil {
			t.Fatal(err)
		}
		issued, err := ti.Issue(context.Background(), issuers.Request{UserID: "tw-1", RoomID: "squad-1"})
		if err != nil {
			t.Fatal(err)
		}
		good := issued.Token
		goodWant := ident("twilio", "tw-1", "room", "squad-1", "api_key_sid", atkTwKeySID)
		noRoom, err := ti.Issue(context.Background(), issuers.Request{UserID: "tw-2"})
		if err != nil {
			t.Fatal(err)
		}
		b := func(tok string) map[string][]string { return authz("Bearer " + tok) }
		bad := func(name, tok, reason string) attackRow {
			return attackRow{name: name, path: p, hdr: b(tok), status: sts(401), reason: reason}
		}
		grants := func(raw string) jobj { return base.set("grants", raw) }
		add("twilio", genericRows("twilio", p, good, goodWant, false)...)
		add("twilio",
			attackRow{name: "valid (issuers.Twilio)", path: p, hdr: b(good), status: sts(200), want: goodWant},
			attackRow{name: "valid (hand-signed raw JSON)", path: p, hdr: b(sign(base.String())), status: sts(200), want: rawWant},
			attackRow{name: "valid (golang-jwt)", path: p, hdr: b(func() string {
				tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
					"jti": atkTwKeySID + "-2", "grants": map[string]any{"identity": "tw-jwt"},
					"iat": sec, "exp": sec + 60, "iss": atkTwKeySID, "sub": atkTwAccount,
				})
				tok.Header["cty"] = "twilio-fpa;v=1"
				s, err := tok.SignedString(tKey)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}()), status: sts(200), want: ident("twilio", "tw-jwt", "api_key_sid", atkTwKeySID)},
			bad("alg none", unsigned(`{"alg":"none","typ":"JWT","cty":"twilio-fpa;v=1"}`, base.String()), "bad algorithm"),
			bad("alg None", unsigned(`{"alg":"None","typ":"JWT","cty":"twilio-fpa;v=1"}`, base.String()), "bad algorithm"),
			bad("alg NONE", unsigned(`{"alg":"NONE","typ":"JWT","cty":"twilio-fpa;v=1"}`, base.String()), "bad algorithm"),
			bad("alg nOnE", unsigned(`{"alg":"nOnE","typ":"JWT","cty":"twilio-fpa;v=1"}`, base.String()), "bad algorithm"),
			bad("alg hs256 (lower case) with a valid HMAC", hs256(tKey, `{"alg":"hs256","typ":"JWT","cty":"twilio-fpa;v=1"}`, base.String()), "bad algorithm"),
			bad("alg HS512 signed with the secret", jws(t, jwt.SigningMethodHS512, tKey, `{"alg":"HS512","typ":"JWT","cty":"twilio-fpa;v=1"}`, base.String()), "bad algorithm"),
			// Refused on the signature's length, before the header is read.
			bad("alg RS256 signed with an RSA key", jws(t, jwt.SigningMethodRS256, cbKey, `{"alg":"RS256","typ":"JWT","cty":"twilio-fpa;v=1"}`, base.String()), "bad algorithm"),
			bad("HS256 keyed with the CloudBase public key PEM", hs256(pemPKIX, hdr, base.String()), "bad signature"),
			bad(`"ALG":"none" after "alg":"HS256" (a member differing only in case is refused)`, hs256(tKey, `{"alg":"HS256","ALG":"none","cty":"twilio-fpa;v=1"}`, base.String()), "malformed token"),
			// Like JSON.parse, the last alg counts; the HMAC is still ours.
			bad(`alg twice (none, HS256), valid HMAC: refused, as every repeated member`, hs256(tKey, `{"alg":"none","alg":"HS256","cty":"twilio-fpa;v=1"}`, base.String()), "malformed token"),
			bad(`kid "../../etc/passwd", empty HMAC key`, hs256(nil, `{"alg":"HS256","cty":"twilio-fpa;v=1","kid":"../../etc/passwd"}`, base.String()), "bad signature"),
			bad(`kid "' OR 1=1 --", empty HMAC key`, hs256(nil, `{"alg":"HS256","cty":"twilio-fpa;v=1","kid":"' OR 1=1 --"}`, base.String()), "bad signature"),
			attackRow{name: `kid "../../etc/passwd" with the real secret: kid is ignored`, path: p, hdr: b(hs256(tKey, `{"alg":"HS256","cty":"twilio-fpa;v=1","kid":"../../etc/passwd"}`, base.String())), status: sts(200), want: rawWant},
			bad(`iss (key id) "../../etc/passwd"`, hs256(nil, hdr, base.set("iss", jq("../../etc/passwd")).String()), "unknown key"),
			bad(`iss (key id) "' OR 1=1 --"`, hs256(nil, hdr, base.set("iss", jq("' OR 1=1 --")).String()), "unknown key"),
			bad("crit header", hs256(tKey, `{"alg":"HS256","typ":"JWT","cty":"twilio-fpa;v=1","crit":["exp"]}`, base.String()), "bad header"),
			bad("no cty", hs256(tKey, `{"alg":"HS256","typ":"JWT"}`, base.String()), "bad header"),
			bad("expired by one second", sign(base.set("exp", i64(sec-1)).String()), "token expired"),
			bad("nbf in the future", sign(base.set("nbf", i64(sec+60)).String()), "token not yet valid"),
			bad("iat in the future", sign(base.set("iat", i64(sec+3600)).String()), "token not yet valid"),
			bad("missing exp", sign(base.set("exp", "").String()), "missing exp"),
			bad("wrong account SID", sign(base.set("sub", jq(atkTwOtherAcct)).String()), "wrong audience"),
			bad("wrong key id (another SK)", hs256([]byte("other-secret"), hdr, base.set("iss", jq(atkTwOtherKey)).String()), "unknown key"),
			bad("wrong key id (another SK, our secret)", sign(base.set("iss", jq(atkTwOtherKey)).String()), "unknown key"),
			bad("signature of another secret", hs256([]byte("other-secret"), hdr, base.String()), "bad signature"),
			bad("exp 1e400", sign(base.set("exp", "1e400").String()), "bad time claim"),
			bad("exp 99999999999999999999", sign(base.set("exp", "99999999999999999999").String()), "bad time claim"),
			bad("exp as a string", sign(base.set("exp", jq(i64(sec+3600))).String()), "bad time claim"),
			bad("exp negative", sign(base.set("exp", "-1").String()), "bad time claim"),
			deep10k(p, sign(base.set("deep", nested(10000)).String())),
			// encoding/json skips the unknown claim; the token is bounded by 8 KiB.
			bad("2000 nested arrays in an unknown claim", sign(base.set("deep", nested(2000)).String()), "malformed token"),
			bad("identity with NUL", sign(grants(`{"identity":"a\u0000b"}`).String()), "bad claim"),
			bad("identity with CR LF", sign(grants(`{"identity":"a\r\nX-Auth-User-Id: admin"}`).String()), "bad claim"),
			bad("identity empty", sign(grants(`{"identity":""}`).String()), "missing subject"),
			bad("room with a control character", sign(grants(`{"identity":"tw-raw","video":{"room":"a\u0007"}}`).String()), "bad claim"),
			// Duplicates: refused, as in every JWT (one rule, verifiers/jwtgate.go).
			bad(`duplicate "identity": refused`, sign(grants(`{"identity":"tw-first","identity":"tw-last"}`).String()), "malformed token"),
			bad(`duplicate "sub" (wrong, then right): refused`, sign(base.plus(`,"sub":`+jq(atkTwAccount))), "malformed token"),
			bad(`duplicate "sub" (right, then wrong): refused`, sign(base.plus(`,"sub":`+jq(atkTwOtherAcct))), "malformed token"),
			// JSON.parse (Twilio's own libraries) sees identity "tw-a" here.
			// JSON.parse (Twilio's own libraries) would see identity "tw-a"
			// here and encoding/json "tw-admin": refused.
			bad(`"IDENTITY" beside "identity"`, sign(grants(`{"identity":"tw-a","IDENTITY":"tw-admin"}`).String()), "malformed token"),
			bad(`"IDENTITY" alone`, sign(grants(`{"IDENTITY":"tw-admin"}`).String()), "malformed token"),
			bad("truncated signature", good[:len(good)-1], ""),
			bad("padded with =", padJWS(good), "malformed token"),
			bad("standard base64 with padding", stdJWS(t, good), "malformed token"),
			bad("a Seayoo token", seayooToken(t, "tw-1", nil), ""),
		)
		// Room from the path.
		add("twilio",
			attackRow{name: "room squad-1 token on /video/squad-1/join", raw: rawGET("/video/squad-1/join", "Authorization: Bearer "+good), status: sts(200), want: goodWant, wantURI: "/video/squad-1/join"},
			attackRow{name: "room squad-1 token on /video/squad-2/join", raw: rawGET("/video/squad-2/join", "Authorization: Bearer "+good), status: sts(403), reason: "wrong room"},
			attackRow{name: "room squad-1 token on /video/Squad-1/join", raw: rawGET("/video/Squad-1/join", "Authorization: Bearer "+good), status: sts(403), reason: "wrong room"},
			attackRow{name: "//video/squad-1: empty segment", raw: rawGET("//video/squad-1", "Authorization: Bearer "+good), status: sts(403), reason: "ambiguous request path"},
			attackRow{name: "/video//squad-1: empty segment", raw: rawGET("/video//squad-1", "Authorization: Bearer "+good), status: sts(403), reason: "ambiguous request path"},
			attackRow{name: "/video/squad-1%2F..%2Fsquad-2: reads as squad-1 here, may be served as squad-2 upstream", raw: rawGET("/video/squad-1%2F..%2Fsquad-2", "Authorization: Bearer "+good), status: sts(403), reason: "ambiguous request path"},
			attackRow{name: "token without a room grant on /video/squad-1", raw: rawGET("/video/squad-1", "Authorization: Bearer "+noRoom.Token), status: sts(403), reason: "wrong room"},
		)
	}

	// ---- CloudBase --------------------------------------------------------
	{
		const p = "/cloud/me"
		ms := now.UnixMilli()
		hdr := `{"alg":"RS256","typ":"JWT"}`
		base := jobj{
			{"alg", jq("RS256")}, {"env", jq(atkCBEnv)}, {"iat", i64(ms)}, {"exp", i64(ms + 600000)},
			{"uid", jq("cb-raw-1")}, {"refresh", "3600000"}, {"expire", i64(ms + 604800000)},
		}
		cbIdent := func(uid string, expire int64) map[string]string {
			return ident("cloudbase", uid, "env_id", atkCBEnv, "key_id", atkCBKeyID, "refresh", "3600000", "expire", i64(expire))
		}
		rawWant := cbIdent("cb-raw-1", ms+604800000)
		pre := atkCBKeyID + "/@@/"
		signH := func(h, payload string) string { return pre + jws(t, jwt.SigningMethodRS256, cbKey, h, payload) }
		sign := func(payload string) string { return signH(hdr, payload) }
		ci, err := issuers.NewCloudBase(issuers.CloudBaseConfig{CredentialsJSON: attackCredentials(t), EnvID: atkCBEnv, Clock: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		issued, err := ci.Issue(context.Background(), issuers.Request{UserID: "cb-player-1"})
		if err != nil {
			t.Fatal(err)
		}
		good := issued.Token
		goodWant := cbIdent("cb-player-1", ms+604800000)
		jwtPart := strings.TrimPrefix(good, pre)
		b := func(tok string) map[string][]string { return authz("Bearer " + tok) }
		bad := func(name, tok, reason string) attackRow {
			return attackRow{name: name, path: p, hdr: b(tok), status: sts(401), reason: reason}
		}
		add("cloudbase", genericRows("cloudbase", p, good, goodWant, false)...)
		add("cloudbase",
			attackRow{name: "valid (issuers.CloudBase)", path: p, hdr: b(good), status: sts(200), want: goodWant},
			attackRow{name: "valid (hand-signed raw JSON)", path: p, hdr: b(sign(base.String())), status: sts(200), want: rawWant},
			bad("alg none", pre+unsigned(`{"alg":"none","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("alg None", pre+unsigned(`{"alg":"None","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("alg NONE", pre+unsigned(`{"alg":"NONE","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("alg nOnE", pre+unsigned(`{"alg":"nOnE","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("HS256 keyed with the public key PEM (PKIX)", pre+hs256(pemPKIX, `{"alg":"HS256","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("HS256 keyed with the public key PEM (PKCS#1)", pre+hs256(pemPKCS1, `{"alg":"HS256","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("HS256 keyed with the public key DER", pre+hs256(pkix, `{"alg":"HS256","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("alg RS384 signed with the right key", pre+jws(t, jwt.SigningMethodRS384, cbKey, `{"alg":"RS384","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("alg PS256 signed with the right key", pre+jws(t, jwt.SigningMethodPS256, cbKey, `{"alg":"PS256","typ":"JWT"}`, base.String()), "bad algorithm"),
			bad("alg rs256 (lower case)", pre+jws(t, jwt.SigningMethodRS256, cbKey, `{"alg":"rs256","typ":"JWT"}`, base.String()), "bad algorithm"),
			attackRow{name: `kid "../../etc/passwd" in the header: ignored, the key is chosen by the prefix`, path: p, hdr: b(signH(`{"alg":"RS256","typ":"JWT","kid":"../../etc/passwd"}`, base.String())), status: sts(200), want: rawWant},
			bad(`key id prefix "../../etc/passwd"`, "../../etc/passwd/@@/"+jwtPart, "unknown key"),
			bad(`key id prefix "' OR 1=1 --"`, "' OR 1=1 --/@@/"+jwtPart, ""),
			bad(`key id prefix "' OR 1=1 --" (no spaces)`, "'OR'1'='1'--/@@/"+jwtPart, "unknown key"),
			bad("empty key id prefix", "/@@/"+jwtPart, "unknown key"),
			bad("no /@@/ separator", jwtPart, "malformed token"),
			bad("prefix repeated", pre+pre+jwtPart, "malformed token"),
			bad("crit header", signH(`{"alg":"RS256","typ":"JWT","crit":["exp"]}`, base.String()), "bad header"),
			bad("expired by one second", sign(base.set("exp", i64(ms-1000)).set("iat", i64(ms-601000)).String()), "token expired"),
			bad("iat an hour in the future", sign(base.set("iat", i64(ms+3600000)).set("exp", i64(ms+4200000)).String()), "token not yet valid"),
			// Tickets have no nbf (spec/tokens.md §3); the member is ignored.
			attackRow{name: "nbf in the future: tickets have none, ignored", path: p, hdr: b(sign(base.set("nbf", i64(ms+3600000)).String())), status: sts(200), want: rawWant},
			bad("missing exp", sign(base.set("exp", "").String()), "missing exp"),
			bad("wrong env", sign(base.set("env", jq("other-env")).String()), "wrong audience"),
			bad("times in seconds", sign(base.set("iat", i64(sec)).set("exp", i64(sec+600)).String()), "bad time claim"),
			bad("exp 1e400", sign(base.set("exp", "1e400").String()), "bad time claim"),
			bad("exp 99999999999999999999", sign(base.set("exp", "99999999999999999999").String()), "bad time claim"),
			bad("exp as a string", sign(base.set("exp", jq(i64(ms+600000))).String()), "bad time claim"),
			deep10k(p, sign(base.set("deep", nested(10000)).String())),
			bad("2000 nested arrays in an unknown claim", sign(base.set("deep", nested(2000)).String()), "malformed token"),
			bad("uid with CR LF", sign(base.set("uid", jq("abcd\r\nX-Auth-User-Id: admin")).String()), "bad claim"),
			bad("uid with NUL", sign(base.set("uid", jq("abcd\x00")).String()), "bad claim"),
			bad("uid too short", sign(base.set("uid", jq("abc")).String()), "bad claim"),
			bad(`duplicate "uid": refused`, sign(base.plus(`,"uid":"cb-last-1"`)), "malformed token"),
			bad(`"UID" beside "uid"`, sign(base.plus(`,"UID":"cb-admin"`)), "malformed token"),
			bad("truncated signature", good[:len(good)-1], "malformed token"),
			bad("padded with =", pre+padJWS(jwtPart), "malformed token"),
			bad("standard base64 with padding", pre+stdJWS(t, jwtPart), "malformed token"),
			bad("signature of another key", pre+jws(t, jwt.SigningMethodRS256, otherKey, hdr, base.String()), "bad signature"),
			bad("a Seayoo token", seayooToken(t, "cb-player-1", nil), "malformed token"),
		)
	}

	// ---- TapTap -----------------------------------------------------------
	{
		const p = "/taptap/me"
		lc := func(v ...string) map[string][]string { return map[string][]string{"X-LC-Session": v} }
		bad := func(name string, hdr map[string][]string, reason string) attackRow {
			return attackRow{name: name, path: p, hdr: hdr, status: sts(401), reason: reason, noLC: true}
		}
		add("taptap", genericRows("taptap", p, "good-generic", tapIdent("good-generic"), true)...)
		add("taptap",
			attackRow{name: "valid X-LC-Session", path: p, hdr: lc("good-a"), status: sts(200), want: tapIdent("good-a")},
			attackRow{name: "x-lc-session in lower case", path: p, hdr: map[string][]string{"x-lc-session": {"good-a"}}, status: sts(200), want: tapIdent("good-a")},
			bad("X_LC_Session is not X-LC-Session", map[string][]string{"X_LC_Session": {"good-a"}}, "missing token"),
			attackRow{name: "Authorization and X-LC-Session: Authorization wins", path: p, hdr: merge(authz("Bearer good-b"), lc("good-c")), status: sts(200), want: tapIdent("good-b")},
			attackRow{name: "unknown session in Authorization, valid X-LC-Session: no fallback", path: p, hdr: merge(authz("Bearer revoked-1"), lc("good-c")), status: sts(401), reason: "session not found"},
			bad(`"Bearer" with a valid X-LC-Session: no fallback`, merge(authz("Bearer"), lc("good-c")), "malformed token"),
			attackRow{name: `"Basic x" with a valid X-LC-Session: Basic is not a bearer token`, path: p, hdr: merge(authz("Basic Zm9vOmJhcg=="), lc("good-c")), status: sts(200), want: tapIdent("good-c")},
			bad("two X-LC-Session headers", lc("good-a", "good-c"), "malformed token"),
			bad("X-LC-Session with a space", lc("good a"), "malformed token"),
			bad("X-LC-Session with a tab", lc("good\ta"), "malformed token"),
			bad("X-LC-Session of 257 bytes", lc("good"+strings.Repeat("a", 253)), "token too long"),
			bad("X-LC-Session with invalid UTF-8", lc("good\xff\xfe"), "malformed token"),
			bad("X-LC-Session with UTF-8", lc("good-é"), "malformed token"),
			bad("X-LC-Session empty", lc(""), "malformed token"),
			attackRow{name: "NUL in X-LC-Session (raw)", raw: rawGET(p, "X-LC-Session: good\x00a"), status: sts(400), noLC: true},
			attackRow{name: "unknown session", path: p, hdr: lc("revoked-2"), status: sts(401), reason: "session not found"},
			attackRow{name: "alg-none JWT as a session: opaque, LeanCloud says no", path: p, hdr: lc(unsigned(`{"alg":"none"}`, `{"sub":"admin"}`)), status: sts(401), reason: "session not found"},
			attackRow{name: "forged identity headers with X-LC-Session", path: p, hdr: merge(lc("good-d"), forgeries[5].hdr, forgeries[6].hdr), status: sts(200), want: tapIdent("good-d")},
		)
	}
	return rows
}

// --- running ----------------------------------------------------------------

var attackClient = &http.Client{Timeout: 10 * time.Second}

type attackResult struct {
	status int
	header http.Header
	body   string
}

func attackSend(base string, row attackRow) (attackResult, error) {
	if row.raw != "" {
		host := strings.TrimPrefix(base, "http://")
		conn, err := net.DialTimeout("tcp", host, 5*time.Second)
		if err != nil {
			return attackResult{}, err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, strings.ReplaceAll(row.raw, "{HOST}", host)); err != nil {
			return attackResult{}, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return attackResult{}, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return attackResult{resp.StatusCode, resp.Header, string(b)}, nil
	}
	req, err := http.NewRequest(http.MethodGet, base+row.path, nil)
	if err != nil {
		return attackResult{}, err
	}
	for k, vs := range row.hdr {
		req.Header[k] = append(req.Header[k], vs...)
	}
	resp, err := attackClient.Do(req)
	if err != nil {
		return attackResult{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return attackResult{resp.StatusCode, resp.Header, string(b)}, nil
}

// checkUpstream asserts what reached the upstream.
func checkUpstream(t *testing.T, row attackRow, status int, seen []attackSeen) {
	t.Helper()
	if status != http.StatusOK {
		if len(seen) != 0 {
			t.Errorf("refused request (%d) reached the upstream: %v", status, seen)
		}
		return
	}
	if row.want == nil {
		t.Fatalf("the request passed (200) but the row expects a refusal; upstream saw %v", seen)
	}
	if len(seen) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(seen))
	}
	if row.wantURI != "" && seen[0].uri != row.wantURI {
		t.Errorf("upstream request-URI %q, want %q", seen[0].uri, row.wantURI)
	}
	got := map[string][]string{}
	for k, vs := range seen[0].hdr {
		n := attackNorm(k)
		if !strings.HasPrefix(n, "x-auth-") {
			continue
		}
		if k != http.CanonicalHeaderKey(n) {
			t.Errorf("identity header spelled %q reached the upstream: %q", k, vs)
		}
		got[n] = append(got[n], vs...)
	}
	for n, vs := range got {
		w, ok := row.want[n]
		switch {
		case !ok:
			t.Errorf("upstream got %s: %q, which the token did not produce", n, vs)
		case len(vs) != 1 || vs[0] != w:
			t.Errorf("upstream got %s: %q, want exactly %q", n, vs, w)
		}
	}
	for n, w := range row.want {
		if _, ok := got[n]; !ok {
			t.Errorf("upstream lacks %s: %q", n, w)
		}
	}
}

func TestAttackSuite(t *testing.T) {
	up := newAttackUpstream(t)
	lc := newAttackLeanCloud(t)
	creds := filepath.Join(t.TempDir(), "cloudbase.json")
	if err := os.WriteFile(creds, attackCredentials(t), 0o600); err != nil {
		t.Fatal(err)
	}
	cf := strings.NewReplacer(
		"{UPSTREAM}", strings.TrimPrefix(up.srv.URL, "http://"),
		"SEAYOO_SECRET", seayooSecret, "SEAYOO_GAME", seayooGame,
		"ZEGO_APP", i64(atkZegoAppID), "ZEGO_SECRET", atkZegoSecret,
		"TW_ACCOUNT", atkTwAccount, "TW_KEY", atkTwKeySID, "TW_SECRET", atkTwSecret,
		"CB_CREDS", creds,
		"LEANCLOUD", lc.srv.URL, "TAP_ID", atkTapClientID, "TAP_KEY", atkTapClientKey,
	).Replace(attackCaddyfile)
	base := runCaddyfile(t, cf, nil)

	rows := attackRows(t)
	for _, row := range rows {
		t.Run(row.verifier+"/"+row.name, func(t *testing.T) {
			if row.bug != "" && os.Getenv("GAMEAUTH_ATTACK_BUGS") == "" {
				t.Skip("BUG: " + row.bug + " (set GAMEAUTH_ATTACK_BUGS=1 to run this row)")
			}
			up.take()
			before := lc.calls.Load()
			res, err := attackSend(base, row)
			seen := up.take()
			if err != nil {
				if !row.errOK {
					t.Fatalf("request failed: %v", err)
				}
				t.Logf("client error (tolerated): %v", err)
				checkUpstream(t, row, 0, seen)
				return
			}
			if !slices.Contains(row.status, res.status) {
				t.Errorf("status %d (reason %q), want one of %v", res.status, res.body, row.status)
			}
			if row.reason != "" && (res.status == http.StatusUnauthorized || res.status == http.StatusForbidden) && res.body != row.reason {
				t.Errorf("reason %q, want %q", res.body, row.reason)
			}
			if res.status == http.StatusUnauthorized && !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", res.header.Get("WWW-Authenticate"))
			}
			if res.status == http.StatusForbidden && !strings.Contains(res.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
				t.Errorf("403 without insufficient_scope: %q", res.header.Get("WWW-Authenticate"))
			}
			if res.status == http.StatusOK && res.body != "upstream ok" {
				t.Errorf("body %q", res.body)
			}
			checkUpstream(t, row, res.status, seen)
			if row.noLC {
				if n := lc.calls.Load() - before; n != 0 {
					t.Errorf("LeanCloud was called %d times for a token refused locally", n)
				}
			}
			if testing.Verbose() {
				t.Logf("status %d reason %q", res.status, res.body)
			}
		})
	}
}

func TestAttackSuiteCount(t *testing.T) {
	rows := attackRows(t)
	per := map[string]int{}
	bugs := 0
	for _, r := range rows {
		per[r.verifier]++
		if r.bug != "" {
			bugs++
		}
	}
	names := make([]string, 0, len(per))
	for v := range per {
		names = append(names, v)
	}
	sort.Strings(names)
	var parts []string
	for _, v := range names {
		parts = append(parts, fmt.Sprintf("%s %d", v, per[v]))
	}
	t.Logf("attacks tried: %d (%s; %d skipped as known bugs)", len(rows), strings.Join(parts, ", "), bugs)
	if len(rows) < 100 {
		t.Errorf("attacks tried: %d, want at least 100", len(rows))
	}
	for _, v := range []string{"seayoo", "zego", "twilio", "cloudbase", "taptap"} {
		if per[v] == 0 {
			t.Errorf("no attack rows for %s", v)
		}
	}
}
