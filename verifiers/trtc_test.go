package verifiers

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/internal/nodetest"
)

const (
	trtcTestApp    = 1400000001
	trtcTestSecret = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
	trtcOtherKey   = "0000000000000000000000000000000000000000000000000000000000000001"
	trtcTestNow    = 1_780_000_000
)

func trtcAt(sec int64) Clock { return func() time.Time { return time.Unix(sec, 0) } }

func trtcNew(t testing.TB, cfg TRTCConfig) *TRTC {
	t.Helper()
	v, err := NewTRTC(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func trtcTestVerifier(t testing.TB) *TRTC {
	return trtcNew(t, TRTCConfig{SDKAppID: trtcTestApp, Secrets: []string{trtcTestSecret}, Clock: trtcAt(trtcTestNow)})
}

// trtcDoc is a UserSig's content, to build test tokens by hand.
type trtcDoc struct {
	id           string
	app          int64
	time, expire int64
	userbuf      []byte // nil: a plain UserSig
	key          string
}

func trtcDefaultDoc() trtcDoc {
	return trtcDoc{id: "alice", app: trtcTestApp, time: trtcTestNow - 10, expire: 3600, key: trtcTestSecret}
}

// json returns the JSON tls-sig-api-v2 writes for d, signed.
func (d trtcDoc) json() string {
	signed := "TLS.identifier:" + d.id + "\nTLS.sdkappid:" + strconv.FormatInt(d.app, 10) +
		"\nTLS.time:" + strconv.FormatInt(d.time, 10) + "\nTLS.expire:" + strconv.FormatInt(d.expire, 10) + "\n"
	ub := ""
	if d.userbuf != nil {
		ub = base64.StdEncoding.EncodeToString(d.userbuf)
		signed += "TLS.userbuf:" + ub + "\n"
	}
	m := hmac.New(sha256.New, []byte(d.key))
	m.Write([]byte(signed))
	sig := base64.StdEncoding.EncodeToString(m.Sum(nil))
	s := `{"TLS.ver":"2.0","TLS.identifier":"` + d.id + `","TLS.sdkappid":` + strconv.FormatInt(d.app, 10) +
		`,"TLS.time":` + strconv.FormatInt(d.time, 10) + `,"TLS.expire":` + strconv.FormatInt(d.expire, 10)
	if d.userbuf != nil {
		s += `,"TLS.userbuf":"` + ub + `"`
	}
	return s + `,"TLS.sig":"` + sig + `"}`
}

func (d trtcDoc) token() string { return trtcPack([]byte(d.json())) }

// trtcPack compresses doc and writes it in Tencent's base64.
func trtcPack(doc []byte) string {
	var b bytes.Buffer
	w := trtcWriters.Get().(*zlib.Writer)
	w.Reset(&b)
	w.Write(doc)
	w.Close()
	trtcWriters.Put(w)
	return trtcEscape(b.Bytes())
}

// trtcWriters keeps the tests (and the fuzzers) from allocating a
// compressor per token.
var trtcWriters = sync.Pool{New: func() any { return zlib.NewWriter(nil) }}

func trtcEscape(blob []byte) string {
	return strings.NewReplacer("+", "*", "/", "-", "=", "_").Replace(base64.StdEncoding.EncodeToString(blob))
}

// trtcUserbuf is _genUserbuf's layout.
func trtcUserbuf(account string, app, room, expire, priv uint32, str string, strRoom bool) []byte {
	var b []byte
	if strRoom {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(account)))
	b = append(b, account...)
	for _, n := range []uint32{app, room, expire, priv, 0} {
		b = binary.BigEndian.AppendUint32(b, n)
	}
	if strRoom {
		b = binary.BigEndian.AppendUint16(b, uint16(len(str)))
		b = append(b, str...)
	}
	return b
}

func trtcWantReason(t *testing.T, v *TRTC, token, reason string) {
	t.Helper()
	id, err := v.Verify(context.Background(), token)
	if err == nil {
		t.Fatalf("accepted: %+v", id)
	}
	if !errors.Is(err, ErrInvalidToken) || Reason(err) != reason {
		t.Fatalf("error %v, want %q", err, reason)
	}
	if id.Subject != "" || id.Claims != nil {
		t.Fatalf("identity on error: %+v", id)
	}
}

func TestTRTCUserSig(t *testing.T) {
	v := trtcTestVerifier(t)
	d := trtcDefaultDoc()
	id, err := v.Verify(context.Background(), d.token())
	if err != nil {
		t.Fatal(err)
	}
	if id.Provider != "trtc" || id.Subject != "alice" {
		t.Errorf("identity %+v", id)
	}
	if !id.IssuedAt.Equal(time.Unix(d.time, 0)) || !id.Expires.Equal(time.Unix(d.time+d.expire, 0)) {
		t.Errorf("times %v %v", id.IssuedAt, id.Expires)
	}
	if len(id.Claims) != 1 || id.Claims[0] != (Claim{"sdk_app_id", "1400000001"}) {
		t.Errorf("claims %v", id.Claims)
	}
}

func TestTRTCPrivateMapKey(t *testing.T) {
	v := trtcTestVerifier(t)
	exp := uint32(trtcTestNow + 300)
	for _, tt := range []struct {
		name string
		ub   []byte
		want []Claim
	}{
		{"numeric room, all", trtcUserbuf("alice", trtcTestApp, 10000, exp, 255, "", false), []Claim{
			{"sdk_app_id", "1400000001"}, {"room_id", "10000"}, {"room_type", "number"},
			{"privilege_map", "255"}, {"enter_room", "1"}, {"publish", "1"}}},
		{"string room, listen", trtcUserbuf("alice", trtcTestApp, 0, exp, 42, "arena 7", true), []Claim{
			{"sdk_app_id", "1400000001"}, {"room_id", "arena 7"}, {"room_type", "string"},
			{"privilege_map", "42"}, {"enter_room", "1"}, {"publish", "0"}}},
		{"no enter", trtcUserbuf("alice", trtcTestApp, 7, exp, 1, "", false), []Claim{
			{"sdk_app_id", "1400000001"}, {"room_id", "7"}, {"room_type", "number"},
			{"privilege_map", "1"}, {"enter_room", "0"}, {"publish", "0"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := trtcDefaultDoc()
			d.expire = 300
			d.time = trtcTestNow + 1 // the userbuf's expiry is a second earlier than time+expire
			d.userbuf = tt.ub
			id, err := v.Verify(context.Background(), d.token())
			if err != nil {
				t.Fatal(err)
			}
			if len(id.Claims) != len(tt.want) {
				t.Fatalf("claims %v", id.Claims)
			}
			for i := range tt.want {
				if id.Claims[i] != tt.want[i] {
					t.Errorf("claim %d: %v, want %v", i, id.Claims[i], tt.want[i])
				}
			}
			if !id.Expires.Equal(time.Unix(int64(exp), 0)) {
				t.Errorf("expires %v, want the userbuf's", id.Expires)
			}
		})
	}
}

func TestTRTCRefused(t *testing.T) {
	v := trtcTestVerifier(t)
	good := trtcDefaultDoc()
	exp := uint32(trtcTestNow + 300)
	with := func(f func(*trtcDoc)) string {
		d := good
		f(&d)
		return d.token()
	}
	jsonTok := func(f func(string) string) string { return trtcPack([]byte(f(good.json()))) }
	var bomb bytes.Buffer
	w, _ := zlib.NewWriterLevel(&bomb, zlib.BestCompression)
	w.Write([]byte(`{"TLS.ver":"2.0",`))
	w.Write(bytes.Repeat([]byte(" "), 5<<20)) // 5 MiB in a 7 KiB token
	w.Close()
	tok := good.token()
	if n := len(trtcEscape(bomb.Bytes())); n > MaxTokenLength {
		t.Fatalf("the bomb is %d bytes long", n)
	}
	cases := []struct {
		name, token, reason string
	}{
		{"empty", "", ReasonMissingToken},
		{"too long", strings.Repeat("A", MaxTokenLength+1), ReasonTokenTooLong},
		{"standard base64", strings.NewReplacer("*", "+", "-", "/", "_", "=").Replace(tok), ReasonMalformedToken},
		{"truncated", tok[:len(tok)-8], ReasonMalformedToken},
		{"truncated zlib", trtcEscape(mustB64(t, tok)[:20]), ReasonMalformedToken},
		{"trailing bytes", trtcEscape(append(mustB64(t, tok), 0)), ReasonMalformedToken},
		{"bad checksum", trtcEscape(flipLast(mustB64(t, tok))), ReasonMalformedToken},
		{"zlib bomb", trtcEscape(bomb.Bytes()), ReasonMalformedToken},
		{"not zlib", trtcEscape([]byte("hello world!")), ReasonMalformedToken},
		{"wrong key", with(func(d *trtcDoc) { d.key = trtcOtherKey }), ReasonBadSignature},
		{"tampered identifier", jsonTok(func(s string) string { return strings.Replace(s, `"alice"`, `"admin"`, 1) }), ReasonBadSignature},
		{"tampered expire", jsonTok(func(s string) string { return strings.Replace(s, `:3600`, `:36000`, 1) }), ReasonBadSignature},
		{"other app", with(func(d *trtcDoc) { d.app = 1400000002 }), ReasonWrongAudience},
		{"expired", with(func(d *trtcDoc) { d.time, d.expire = trtcTestNow-100, 100 }), ReasonTokenExpired},
		{"zero expire", with(func(d *trtcDoc) { d.expire = 0 }), ReasonBadTimeClaim},
		{"huge expire", with(func(d *trtcDoc) { d.expire = maxUnix }), ReasonBadTimeClaim},
		{"no identifier", with(func(d *trtcDoc) { d.id = "" }), ReasonMissingSubject},
		{"long identifier", with(func(d *trtcDoc) { d.id = strings.Repeat("a", 33) }), ReasonBadClaim},
		{"version 1", jsonTok(func(s string) string { return strings.Replace(s, `"2.0"`, `"1.0"`, 1) }), ReasonMalformedToken},
		{"duplicate member", jsonTok(func(s string) string { return strings.Replace(s, `{`, `{"TLS.identifier":"x",`, 1) }), ReasonMalformedToken},
		{"case-folded member", jsonTok(func(s string) string { return strings.Replace(s, `TLS.time`, `TLS.TIME`, 1) }), ReasonMalformedToken},
		{"unknown member", jsonTok(func(s string) string { return strings.Replace(s, `{`, `{"x":1,`, 1) }), ReasonMalformedToken},
		{"missing member", jsonTok(func(s string) string { return strings.Replace(s, `"TLS.ver":"2.0",`, ``, 1) }), ReasonMalformedToken},
		{"float time", jsonTok(func(s string) string { return strings.Replace(s, `"TLS.time":`, `"TLS.time":1e1+`, 1) }), ReasonMalformedToken},
		{"string appid", jsonTok(func(s string) string { return strings.Replace(s, `:1400000001`, `:"1400000001"`, 1) }), ReasonMalformedToken},
		{"negative time", with(func(d *trtcDoc) { d.time = -5 }), ReasonMalformedToken},
		{"not an object", trtcPack([]byte(`[1]`)), ReasonMalformedToken},
		{"userbuf other account", with(func(d *trtcDoc) { d.userbuf = trtcUserbuf("bob", trtcTestApp, 1, exp, 255, "", false) }), ReasonBadClaim},
		{"userbuf other app", with(func(d *trtcDoc) { d.userbuf = trtcUserbuf("alice", 1400000002, 1, exp, 255, "", false) }), ReasonWrongAudience},
		{"userbuf room 0", with(func(d *trtcDoc) { d.userbuf = trtcUserbuf("alice", trtcTestApp, 0, exp, 255, "", false) }), ReasonBadClaim},
		{"userbuf map over 8 bits", with(func(d *trtcDoc) { d.userbuf = trtcUserbuf("alice", trtcTestApp, 1, exp, 256, "", false) }), ReasonBadClaim},
		{"userbuf expired", with(func(d *trtcDoc) { d.userbuf = trtcUserbuf("alice", trtcTestApp, 1, trtcTestNow, 255, "", false) }), ReasonTokenExpired},
		{"userbuf before time", with(func(d *trtcDoc) { d.userbuf = trtcUserbuf("alice", trtcTestApp, 1, 5, 255, "", false) }), ReasonBadTimeClaim},
		{"userbuf truncated", with(func(d *trtcDoc) { d.userbuf = trtcUserbuf("alice", trtcTestApp, 1, exp, 255, "", false)[:20] }), ReasonMalformedToken},
		{"userbuf trailing", with(func(d *trtcDoc) { d.userbuf = append(trtcUserbuf("alice", trtcTestApp, 1, exp, 255, "", false), 0) }), ReasonMalformedToken},
		{"userbuf bad version", with(func(d *trtcDoc) {
			ub := trtcUserbuf("alice", trtcTestApp, 1, exp, 255, "", false)
			ub[0] = 2
			d.userbuf = ub
		}), ReasonMalformedToken},
		{"userbuf string room too long", with(func(d *trtcDoc) {
			d.userbuf = trtcUserbuf("alice", trtcTestApp, 0, exp, 255, strings.Repeat("r", 65), true)
		}), ReasonBadClaim},
		{"userbuf string room length", with(func(d *trtcDoc) {
			ub := trtcUserbuf("alice", trtcTestApp, 0, exp, 255, "room", true)
			d.userbuf = ub[:len(ub)-1]
		}), ReasonMalformedToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			trtcWantReason(t, v, c.token, c.reason)
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func mustB64(t *testing.T, tok string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.NewReplacer("*", "+", "-", "/", "_", "=").Replace(tok))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flipLast(b []byte) []byte {
	b = bytes.Clone(b)
	b[len(b)-1] ^= 1
	return b
}

func TestTRTCRotationAndLeeway(t *testing.T) {
	d := trtcDefaultDoc()
	d.key = trtcOtherKey
	v := trtcNew(t, TRTCConfig{SDKAppID: trtcTestApp, Secrets: []string{trtcTestSecret, trtcOtherKey}, Clock: trtcAt(trtcTestNow)})
	if _, err := v.Verify(context.Background(), d.token()); err != nil {
		t.Fatalf("second key: %v", err)
	}
	d = trtcDefaultDoc()
	d.time, d.expire = trtcTestNow-100, 90
	v = trtcNew(t, TRTCConfig{SDKAppID: trtcTestApp, Secrets: []string{trtcTestSecret}, Leeway: 30 * time.Second, Clock: trtcAt(trtcTestNow)})
	if _, err := v.Verify(context.Background(), d.token()); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	d.expire = 70
	trtcWantReason(t, v, d.token(), ReasonTokenExpired)
}

func TestTRTCConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg   TRTCConfig
		field string
	}{
		{TRTCConfig{Secrets: []string{trtcTestSecret}}, "SDKAppID"},
		{TRTCConfig{SDKAppID: 1}, "Secrets"},
		{TRTCConfig{SDKAppID: 1, Secrets: []string{"short"}}, "Secrets"},
		{TRTCConfig{SDKAppID: 1, Secrets: []string{trtcTestSecret, trtcTestSecret}}, "Secrets"},
		{TRTCConfig{SDKAppID: 1, Secrets: make([]string, 9)}, "Secrets"},
		{TRTCConfig{SDKAppID: 1, Secrets: []string{trtcTestSecret}, Leeway: time.Hour}, "Leeway"},
		{TRTCConfig{SDKAppID: 1, Secrets: []string{trtcTestSecret}, Leeway: -1}, "Leeway"},
	} {
		_, err := NewTRTC(tt.cfg)
		var fe *check.FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%+v: error %v, want one for %s", tt.cfg.SDKAppID, err, tt.field)
		}
		if err != nil && strings.Contains(err.Error(), trtcTestSecret) {
			t.Errorf("error prints the secret: %v", err)
		}
	}
}

// trtcMinted is what interop/trtc_mint.js prints.
type trtcMinted struct {
	Token string `json:"token"`
	Error string `json:"error"`
}

// TestTRTCInteropNode verifies tokens made by Tencent's npm tls-sig-api-v2.
func TestTRTCInteropNode(t *testing.T) {
	now := time.Now().Unix()
	in := []map[string]any{
		{"sdkappid": trtcTestApp, "key": trtcTestSecret, "kind": "usersig", "userid": "xiaojun", "expire": 86400 * 180},
		{"sdkappid": trtcTestApp, "key": trtcTestSecret, "kind": "map", "userid": "xiaojun", "expire": 300, "room": 10000, "privilege": 255},
		{"sdkappid": trtcTestApp, "key": trtcTestSecret, "kind": "strmap", "userid": "p_1-2", "expire": 300, "room": "1000000040", "privilege": 42},
		{"sdkappid": trtcTestApp, "key": trtcTestSecret, "kind": "usersig", "userid": "old", "expire": 60, "now": now - 3600},
		{"sdkappid": trtcTestApp + 1, "key": trtcTestSecret, "kind": "usersig", "userid": "xiaojun", "expire": 600},
		{"sdkappid": trtcTestApp, "key": trtcOtherKey, "kind": "usersig", "userid": "xiaojun", "expire": 600},
	}
	var out []trtcMinted
	nodetest.Run(t, "trtc_mint.js", in, &out, "tls-sig-api-v2")
	if len(out) != len(in) {
		t.Fatalf("%d tokens", len(out))
	}
	v := trtcNew(t, TRTCConfig{SDKAppID: trtcTestApp, Secrets: []string{trtcTestSecret}})
	ctx := context.Background()
	check := func(i int, subject string, claims map[string]string) {
		t.Helper()
		id, err := v.Verify(ctx, out[i].Token)
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if id.Subject != subject {
			t.Errorf("token %d: subject %q", i, id.Subject)
		}
		for k, want := range claims {
			if got, _ := id.Claim(k); got != want {
				t.Errorf("token %d: %s %q, want %q", i, k, got, want)
			}
		}
		if d := id.Expires.Sub(id.IssuedAt); d < time.Duration(in[i]["expire"].(int)-1)*time.Second || d > time.Duration(in[i]["expire"].(int))*time.Second {
			t.Errorf("token %d: lifetime %v", i, d)
		}
	}
	check(0, "xiaojun", map[string]string{"room_id": ""})
	check(1, "xiaojun", map[string]string{"room_id": "10000", "room_type": "number", "privilege_map": "255", "publish": "1", "enter_room": "1"})
	check(2, "p_1-2", map[string]string{"room_id": "1000000040", "room_type": "string", "privilege_map": "42", "publish": "0", "enter_room": "1"})
	trtcWantReason(t, v, out[3].Token, ReasonTokenExpired)
	trtcWantReason(t, v, out[4].Token, ReasonWrongAudience)
	trtcWantReason(t, v, out[5].Token, ReasonBadSignature)
}

// TestTRTCConcurrent verifies different tokens at once: the pooled
// buffers must never leak one token's identity into another's.
func TestTRTCConcurrent(t *testing.T) {
	v := trtcTestVerifier(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := trtcDefaultDoc()
			d.id = "user-" + strconv.Itoa(g)
			room := "room-" + strconv.Itoa(g)
			d.userbuf = trtcUserbuf(d.id, trtcTestApp, 0, trtcTestNow+60, 255, room, true)
			tok := d.token()
			var ids []Identity
			for range 200 {
				id, err := v.Verify(context.Background(), tok)
				if err != nil {
					t.Error(err)
					return
				}
				ids = append(ids, id)
			}
			for _, id := range ids {
				if r, _ := id.Claim("room_id"); id.Subject != d.id || r != room {
					t.Errorf("goroutine %d got %q in %q", g, id.Subject, r)
					return
				}
			}
		}()
	}
	wg.Wait()
}
