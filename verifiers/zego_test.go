package verifiers

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The official fixtures (testdata/zego/README.md) and the tokens our own
// issuer made (testdata/zego/issued_tokens.json, see NOTES.md).
const (
	zegoFixtureApp     = 987654321
	zegoFixtureSecret  = "fedcba9876543210fedcba9876543210"
	zegoFixtureCreated = 1795459288
	zegoFixtureExpires = 4949059288
	// zegoTestSecret and zegoOtherSecret are test-only keys for tokens made
	// here; zegoTestApp is above 2^31 on purpose.
	zegoTestApp     = 3000000001
	zegoTestSecret  = "t3st-s3cret-0123456789abcdefghij"
	zegoOtherSecret = "0ther-s3cret-0123456789abcdefghi"
	zegoTestNow     = 1800000000
)

type zegoFixture struct {
	ID               string `json:"id"`
	Source           string `json:"source"`
	Variant          string `json:"format_variant"`
	AppID            uint32 `json:"app_id"`
	Secret           string `json:"server_secret"`
	UserID           string `json:"user_id"`
	Payload          string `json:"payload"`
	Created          int64  `json:"created_at_unix"`
	Expires          int64  `json:"expires_at_unix"`
	Token            string `json:"token"`
	Valid            bool   `json:"expected_valid"`
	DecodedPlaintext string `json:"decoded_plaintext_json"`
}

func zegoLoadFixtures(tb testing.TB) []zegoFixture {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "zego", "zego_token04_official.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var fx []zegoFixture
	if err := json.Unmarshal(data, &fx); err != nil {
		tb.Fatal(err)
	}
	if len(fx) != 15 {
		tb.Fatalf("fixture file has %d entries, want 15", len(fx))
	}
	return fx
}

// zegoIssued is one entry of testdata/zego/issued_tokens.json, written by
// the issuers package's TestZegoIssueGolden.
type zegoIssued struct {
	ID        string   `json:"id"`
	Mode      string   `json:"mode"`
	AppID     uint32   `json:"app_id"`
	Secret    string   `json:"secret"`
	UserID    string   `json:"user_id"`
	RoomID    string   `json:"room_id"`
	StreamIDs []string `json:"stream_ids"`
	Publish   bool     `json:"publish"`
	IssuedAt  int64    `json:"issued_at"`
	ExpiresAt int64    `json:"expires_at"`
	Token     string   `json:"token"`
}

func zegoLoadIssued(tb testing.TB) []zegoIssued {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "zego", "issued_tokens.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []zegoIssued
	if err := json.Unmarshal(data, &out); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatal("issued_tokens.json is empty")
	}
	return out
}

func zegoAt(unix int64) Clock { return func() time.Time { return time.Unix(unix, 0) } }

func zegoNew(tb testing.TB, cfg ZegoConfig) *Zego {
	tb.Helper()
	v, err := NewZego(cfg)
	if err != nil {
		tb.Fatalf("NewZego: %v", err)
	}
	return v
}

// zegoFixtureVerifier verifies the official fixtures at a given instant.
func zegoFixtureVerifier(tb testing.TB, now int64) *Zego {
	return zegoNew(tb, ZegoConfig{AppID: zegoFixtureApp, Secrets: []string{zegoFixtureSecret}, Clock: zegoAt(now)})
}

// zegoTestVerifier verifies tokens sealed here at zegoTestNow.
func zegoTestVerifier(tb testing.TB) *Zego {
	return zegoNew(tb, ZegoConfig{AppID: zegoTestApp, Secrets: []string{zegoTestSecret}, Clock: zegoAt(zegoTestNow)})
}

// zegoWantClaims derives the expected claims of a token independently of
// the verifier, with encoding/json.
func zegoWantClaims(tb testing.TB, appID uint32, payload string) []Claim {
	tb.Helper()
	want := []Claim{{Name: "app_id", Value: strconv.FormatUint(uint64(appID), 10)}}
	if payload == "" {
		return want
	}
	var p struct {
		RoomID    string         `json:"room_id"`
		Privilege map[string]int `json:"privilege"`
		Streams   []string       `json:"stream_id_list"`
	}
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		tb.Fatalf("payload %q: %v", payload, err)
	}
	if p.RoomID != "" {
		want = append(want, Claim{Name: "room_id", Value: p.RoomID})
	}
	if p.Privilege != nil {
		want = append(want,
			Claim{Name: "login", Value: strconv.Itoa(p.Privilege["1"])},
			Claim{Name: "publish", Value: strconv.Itoa(p.Privilege["2"])})
	}
	if len(p.Streams) > 0 {
		want = append(want, Claim{Name: "stream_ids", Value: strings.Join(p.Streams, ",")})
	}
	return want
}

// zegoWantInvalid fails unless err is an ErrInvalidToken with reason.
func zegoWantInvalid(tb testing.TB, err error, reason string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got nil error, want %q", reason)
	}
	if !errors.Is(err, ErrInvalidToken) {
		tb.Fatalf("error %v does not wrap ErrInvalidToken", err)
	}
	if got := Reason(err); got != reason {
		tb.Fatalf("reason %q, want %q", got, reason)
	}
}

// zegoSeal builds a Token04 the way the generators do, with a fixed IV so
// every test token is reproducible. gcm selects the variant.
func zegoSeal(tb testing.TB, gcm bool, secret string, prefix int64, plain []byte) string {
	tb.Helper()
	blob := zegoSealBlob(tb, gcm, secret, prefix, plain)
	return "04" + base64.StdEncoding.EncodeToString(blob)
}

func zegoSealBlob(tb testing.TB, gcm bool, secret string, prefix int64, plain []byte) []byte {
	tb.Helper()
	block, err := aes.NewCipher([]byte(secret))
	if err != nil {
		tb.Fatal(err)
	}
	var iv, ct []byte
	if gcm {
		iv = []byte("nonce-12byte")
		aead, err := cipher.NewGCM(block)
		if err != nil {
			tb.Fatal(err)
		}
		ct = aead.Seal(nil, iv, plain, nil)
	} else {
		iv = []byte("iv-0123456789abc")
		pad := aes.BlockSize - len(plain)%aes.BlockSize
		ct = append(slices.Clone(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)
	}
	blob := binary.BigEndian.AppendUint64(nil, uint64(prefix))
	blob = binary.BigEndian.AppendUint16(blob, uint16(len(iv)))
	blob = append(blob, iv...)
	blob = binary.BigEndian.AppendUint16(blob, uint16(len(ct)))
	blob = append(blob, ct...)
	if gcm {
		blob = append(blob, 1)
	}
	return blob
}

// zegoPlainJSON is a valid plaintext for zegoTestApp, expiring an hour
// after zegoTestNow; edit changes it. Members are in the Go generator's
// order.
func zegoPlainJSON(payload string) string {
	p, _ := json.Marshal(payload)
	return fmt.Sprintf(`{"app_id":%d,"user_id":"u-1","ctime":%d,"expire":%d,"nonce":12345,"payload":%s}`,
		zegoTestApp, zegoTestNow-10, zegoTestNow+3600, p)
}

func TestZegoOfficialFixtures(t *testing.T) {
	fx := zegoLoadFixtures(t)
	// Any instant from created+2s to just before the 100-year expiry.
	for _, now := range []int64{
		zegoFixtureCreated + 2,
		zegoFixtureCreated + 86400*365,
		zegoFixtureExpires - 1,
	} {
		v := zegoFixtureVerifier(t, now)
		for _, f := range fx {
			t.Run(fmt.Sprintf("%s@%d", f.ID, now), func(t *testing.T) {
				id, err := v.Verify(context.Background(), f.Token)
				if !f.Valid {
					var want string
					switch {
					case strings.HasSuffix(f.ID, "expired-1s"):
						want = "token expired"
					case f.ID == "neg-gcm-tag-byte-flipped":
						want = "bad signature"
					case f.ID == "neg-cbc-last-ciphertext-byte-flipped":
						want = "bad signature"
					case f.ID == "neg-expire-prefix-changed":
						want = "bad time claim"
					default:
						t.Fatalf("no expected reason for %s", f.ID)
					}
					zegoWantInvalid(t, err, want)
					return
				}
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if id.Provider != "zego" || id.Subject != f.UserID || !id.Expires.Equal(time.Unix(f.Expires, 0)) {
					t.Fatalf("identity %+v, want subject %q expiring %d", id, f.UserID, f.Expires)
				}
				if !id.IssuedAt.Equal(time.Unix(f.Created, 0)) { // the ctime the generator wrote
					t.Fatalf("IssuedAt %v, want %d", id.IssuedAt, f.Created)
				}
				if want := zegoWantClaims(t, f.AppID, f.Payload); !slices.Equal(id.Claims, want) {
					t.Fatalf("claims %v, want %v", id.Claims, want)
				}
			})
		}
	}
}

func TestZegoOfficialFixturesAtBoundaries(t *testing.T) {
	fx := zegoLoadFixtures(t)
	byID := map[string]zegoFixture{}
	for _, f := range fx {
		byID[f.ID] = f
	}
	ctx := context.Background()
	long := byID["js-gcm-identity-100y"]
	short := byID["go-cbc-expired-1s"]
	// The last valid second and the first expired one.
	if _, err := zegoFixtureVerifier(t, long.Expires-1).Verify(ctx, long.Token); err != nil {
		t.Fatalf("one second before expire: %v", err)
	}
	_, err := zegoFixtureVerifier(t, long.Expires).Verify(ctx, long.Token)
	zegoWantInvalid(t, err, "token expired")
	if _, err := zegoFixtureVerifier(t, zegoFixtureCreated).Verify(ctx, short.Token); err != nil {
		t.Fatalf("1s token at its ctime: %v", err)
	}
	_, err = zegoFixtureVerifier(t, zegoFixtureCreated+1).Verify(ctx, short.Token)
	zegoWantInvalid(t, err, "token expired")
	// Leeway extends expire, and only by its amount.
	lee := zegoNew(t, ZegoConfig{AppID: zegoFixtureApp, Secrets: []string{zegoFixtureSecret}, Leeway: 5 * time.Second, Clock: zegoAt(zegoFixtureCreated + 5)})
	if _, err := lee.Verify(ctx, short.Token); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	lee = zegoNew(t, ZegoConfig{AppID: zegoFixtureApp, Secrets: []string{zegoFixtureSecret}, Leeway: 5 * time.Second, Clock: zegoAt(zegoFixtureCreated + 6)})
	_, err = lee.Verify(ctx, short.Token)
	zegoWantInvalid(t, err, "token expired")
	// The prefix-tampered token fails even at a time both values allow.
	neg := byID["neg-expire-prefix-changed"]
	_, err = zegoFixtureVerifier(t, zegoFixtureCreated-10).Verify(ctx, neg.Token)
	zegoWantInvalid(t, err, "bad time claim")
}

func TestZegoIssuedTokens(t *testing.T) {
	for _, e := range zegoLoadIssued(t) {
		t.Run(e.ID, func(t *testing.T) {
			v := zegoNew(t, ZegoConfig{AppID: e.AppID, Secrets: []string{e.Secret}, Clock: zegoAt(e.IssuedAt + 1)})
			id, err := v.Verify(context.Background(), e.Token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.Subject != e.UserID || !id.Expires.Equal(time.Unix(e.ExpiresAt, 0)) || !id.IssuedAt.Equal(time.Unix(e.IssuedAt, 0)) {
				t.Fatalf("identity %+v", id)
			}
			want := []Claim{{Name: "app_id", Value: strconv.FormatUint(uint64(e.AppID), 10)}}
			if e.RoomID != "" {
				want = append(want, Claim{Name: "room_id", Value: e.RoomID},
					Claim{Name: "login", Value: "1"}, Claim{Name: "publish", Value: map[bool]string{false: "0", true: "1"}[e.Publish]})
			}
			if len(e.StreamIDs) > 0 {
				want = append(want, Claim{Name: "stream_ids", Value: strings.Join(e.StreamIDs, ",")})
			}
			if !slices.Equal(id.Claims, want) {
				t.Fatalf("claims %v, want %v", id.Claims, want)
			}
			_, err = zegoNew(t, ZegoConfig{AppID: e.AppID, Secrets: []string{e.Secret}, Clock: zegoAt(e.ExpiresAt)}).Verify(context.Background(), e.Token)
			zegoWantInvalid(t, err, "token expired")
		})
	}
}

func TestZegoLayoutMode(t *testing.T) {
	for _, e := range zegoLoadIssued(t) {
		blob, err := base64.StdEncoding.DecodeString(e.Token[2:])
		if err != nil {
			t.Fatal(err)
		}
		l, ok := zegoParseLayout(blob)
		if !ok || l.gcm != (e.Mode == "gcm") || l.expire != e.ExpiresAt {
			t.Fatalf("%s: layout %+v %v", e.ID, l, ok)
		}
	}
}

func TestZegoSealedVariants(t *testing.T) {
	v := zegoTestVerifier(t)
	ctx := context.Background()
	goOrder := zegoPlainJSON("")
	nodeOrder := fmt.Sprintf(`{"app_id":%d,"user_id":"u-1","nonce":-2147483648,"ctime":%d,"expire":%d,"payload":""}`, zegoTestApp, zegoTestNow-10, zegoTestNow+3600)
	pySpaced := fmt.Sprintf("{ \"app_id\" : %d ,\n\t\"user_id\": \"u-1\", \"nonce\": 7, \"ctime\": %d, \"expire\": %d, \"payload\": \"\" }\r\n", zegoTestApp, zegoTestNow-10, zegoTestNow+3600)
	escaped := strings.Replace(goOrder, `"u-1"`, `"\u00e9l\u00E8ve\ud83d\ude00\/\\"`, 1)
	pyPayload := zegoPlainJSON(`{"room_id": "r1", "privilege": {"1": 1, "2": 1}, "stream_id_list": ["a", "b_2"]}`)
	extraPayload := zegoPlainJSON(`{"x":[1,{"y":null}],"room_id":"r1","privilege":{"2":1,"9":7,"1":0},"stream_id_list":null,"z":-1.5e+3}`)
	emptyPriv := zegoPlainJSON(`{"room_id":"r1","privilege":null,"stream_id_list":[]}`)
	noRoom := zegoPlainJSON(`{"privilege":{"1":1,"2":0}}`)
	tests := []struct {
		name, plain, subject string
		claims               []Claim
	}{
		{"go order", goOrder, "u-1", nil},
		{"node order, negative nonce", nodeOrder, "u-1", nil},
		{"python spacing", pySpaced, "u-1", nil},
		{"escaped user id", escaped, "élève😀/\\", nil},
		{"python payload", pyPayload, "u-1", []Claim{{"room_id", "r1"}, {"login", "1"}, {"publish", "1"}, {"stream_ids", "a,b_2"}}},
		{"unknown payload members", extraPayload, "u-1", []Claim{{"room_id", "r1"}, {"login", "0"}, {"publish", "1"}}},
		{"null privilege, empty list", emptyPriv, "u-1", []Claim{{"room_id", "r1"}}},
		{"no room", noRoom, "u-1", []Claim{{"login", "1"}, {"publish", "0"}}},
		{"one one-letter stream", zegoPlainJSON(`{"room_id":"r","privilege":{"1":1,"2":1},"stream_id_list":["x"]}`), "u-1", []Claim{{"room_id", "r"}, {"login", "1"}, {"publish", "1"}, {"stream_ids", "x"}}},
	}
	for _, tt := range tests {
		for _, gcm := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/gcm=%v", tt.name, gcm), func(t *testing.T) {
				id, err := v.Verify(ctx, zegoSeal(t, gcm, zegoTestSecret, zegoTestNow+3600, []byte(tt.plain)))
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				want := append([]Claim{{"app_id", "3000000001"}}, tt.claims...)
				if id.Subject != tt.subject || !slices.Equal(id.Claims, want) {
					t.Fatalf("got %q %v, want %q %v", id.Subject, id.Claims, tt.subject, want)
				}
			})
		}
	}
}

// TestZegoPlaintextRules breaks one rule of a valid plaintext per case.
// Every case is sealed both ways; GCM proves the rule itself (the tag is
// good), CBC proves no padding oracle hides behind a different reason.
func TestZegoPlaintextRules(t *testing.T) {
	v := zegoTestVerifier(t)
	base := zegoPlainJSON("")
	good := fmt.Sprintf(`"ctime":%d,"expire":%d`, zegoTestNow-10, zegoTestNow+3600)
	rep := func(old, new string) string {
		if !strings.Contains(base, old) {
			t.Fatalf("base plaintext lacks %q", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	withTimes := func(ctime, expire int64) string {
		return rep(good, fmt.Sprintf(`"ctime":%d,"expire":%d`, ctime, expire))
	}
	payload := func(p string) string { return zegoPlainJSON(p) }
	tests := []struct {
		name, plain string
		prefix      int64
		gcmReason   string // reason when sealed with GCM
		cbcReason   string // "" = same as gcmReason
	}{
		{"wrong app id", rep(`"app_id":3000000001`, `"app_id":3000000002`), 0, "wrong audience", ""},
		{"app id as string", rep(`"app_id":3000000001`, `"app_id":"3000000001"`), 0, "malformed token", "bad signature"},
		{"expire prefix differs", base, zegoTestNow + 3601, "bad time claim", ""},
		{"expired", withTimes(zegoTestNow-100, zegoTestNow), zegoTestNow, "token expired", ""},
		{"ctime after expire", withTimes(zegoTestNow+3601, zegoTestNow+3600), 0, "bad time claim", ""},
		{"negative ctime", withTimes(-1, zegoTestNow+3600), 0, "bad time claim", ""},
		{"expire past year 9999", withTimes(0, maxUnix+1), maxUnix + 1, "bad time claim", ""},
		{"empty user id", rep(`"u-1"`, `""`), 0, "missing subject", ""},
		{"65-byte user id", rep(`"u-1"`, `"`+strings.Repeat("x", 65)+`"`), 0, "bad claim", ""},
		{"control char in user id", rep(`"u-1"`, `"u\n1"`), 0, "bad claim", ""},
		{"DEL in user id", rep(`"u-1"`, `"u`+"\x7f"+`1"`), 0, "bad claim", ""},
		{"user id not a string", rep(`"u-1"`, `7`), 0, "malformed token", "bad signature"},
		{"missing nonce", rep(`,"nonce":12345`, ``), 0, "malformed token", "bad signature"},
		{"duplicate user id", rep(`"user_id":"u-1"`, `"user_id":"u-1","user_id":"u-2"`), 0, "malformed token", "bad signature"},
		{"unknown member", rep(`"nonce":12345`, `"nonce":12345,"extra":1`), 0, "malformed token", "bad signature"},
		{"case-folded name", rep(`"user_id"`, `"User_id"`), 0, "malformed token", "bad signature"},
		{"fractional expire", rep(fmt.Sprintf(`"expire":%d`, zegoTestNow+3600), fmt.Sprintf(`"expire":%d.0`, zegoTestNow+3600)), 0, "malformed token", "bad signature"},
		{"exponent nonce", rep(`"nonce":12345`, `"nonce":1e3`), 0, "malformed token", "bad signature"},
		{"leading zero nonce", rep(`"nonce":12345`, `"nonce":012345`), 0, "malformed token", "bad signature"},
		{"int64 overflow nonce", rep(`"nonce":12345`, `"nonce":9223372036854775808`), 0, "malformed token", "bad signature"},
		{"invalid utf-8", rep(`"u-1"`, "\"u\xff1\""), 0, "malformed token", "bad signature"},
		{"lone surrogate", rep(`"u-1"`, `"u\ud800"`), 0, "malformed token", "bad signature"},
		{"lone low surrogate", rep(`"u-1"`, `"u\udc00\udc00"`), 0, "malformed token", "bad signature"},
		{"high surrogate then letter", rep(`"u-1"`, `"u\ud800\u0041"`), 0, "malformed token", "bad signature"},
		{"bad escape", rep(`"u-1"`, `"u\x1"`), 0, "malformed token", "bad signature"},
		{"trailing garbage", base + "x", 0, "malformed token", "bad signature"},
		{"two objects", base + base, 0, "malformed token", "bad signature"},
		{"unterminated", strings.TrimSuffix(base, "}"), 0, "malformed token", "bad signature"},
		{"not an object", `["app_id",3000000001,"user_id","u-1","nonce",1,"ctime",1,"expire",1,"payload",""]`, 0, "malformed token", "bad signature"},
		{"payload not json", payload("room1"), 0, "malformed token", ""},
		{"payload array", payload(`["r1"]`), 0, "malformed token", ""},
		{"payload trailing", payload(`{"room_id":"r1"} x`), 0, "malformed token", ""},
		{"room id number", payload(`{"room_id":1}`), 0, "malformed token", ""},
		{"room id too long", payload(`{"room_id":"` + strings.Repeat("r", 129) + `"}`), 0, "bad claim", ""},
		{"room id control char", payload(`{"room_id":"r\u00001"}`), 0, "bad claim", ""},
		{"duplicate room id", payload(`{"room_id":"r1","room_id":"r2"}`), 0, "malformed token", ""},
		{"privilege value 2", payload(`{"room_id":"r1","privilege":{"1":1,"2":2}}`), 0, "bad claim", ""},
		{"privilege value true", payload(`{"room_id":"r1","privilege":{"1":1,"2":true}}`), 0, "malformed token", ""},
		{"duplicate privilege key", payload(`{"room_id":"r1","privilege":{"2":0,"2":1}}`), 0, "malformed token", ""},
		{"privilege array", payload(`{"room_id":"r1","privilege":[1,1]}`), 0, "malformed token", ""},
		{"stream list string", payload(`{"room_id":"r1","stream_id_list":"s1"}`), 0, "malformed token", ""},
		{"stream id with comma", payload(`{"room_id":"r1","stream_id_list":["s1,s2"]}`), 0, "bad claim", ""},
		{"empty stream id", payload(`{"room_id":"r1","stream_id_list":[""]}`), 0, "bad claim", ""},
		{"stream id too long", payload(`{"room_id":"r1","stream_id_list":["` + strings.Repeat("s", 257) + `"]}`), 0, "bad claim", ""},
		{"too deep", payload(`{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`), 0, "malformed token", ""},
	}
	for _, tt := range tests {
		prefix := tt.prefix
		if prefix == 0 {
			prefix = zegoTestNow + 3600
		}
		for _, gcm := range []bool{true, false} {
			want := tt.gcmReason
			if !gcm && tt.cbcReason != "" {
				want = tt.cbcReason
			}
			t.Run(fmt.Sprintf("%s/gcm=%v", tt.name, gcm), func(t *testing.T) {
				_, err := v.Verify(context.Background(), zegoSeal(t, gcm, zegoTestSecret, prefix, []byte(tt.plain)))
				zegoWantInvalid(t, err, want)
			})
		}
	}
}

// TestZegoTampering breaks the wire format of a valid token, one field at
// a time.
func TestZegoTampering(t *testing.T) {
	v := zegoTestVerifier(t)
	plain := []byte(zegoPlainJSON(`{"room_id":"r1","privilege":{"1":1,"2":1},"stream_id_list":null}`))
	for _, gcm := range []bool{true, false} {
		blob := zegoSealBlob(t, gcm, zegoTestSecret, zegoTestNow+3600, plain)
		ivLen := 16
		if gcm {
			ivLen = 12
		}
		ctOff := 12 + ivLen // first ciphertext byte
		ctLen := int(binary.BigEndian.Uint16(blob[10+ivLen:]))
		enc := func(b []byte) string { return "04" + base64.StdEncoding.EncodeToString(b) }
		edit := func(f func(b []byte) []byte) string { return enc(f(slices.Clone(blob))) }
		put16 := func(off, n int) string {
			return edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[off:], uint16(n)); return b })
		}
		flip := func(off int) string {
			return edit(func(b []byte) []byte { b[off] ^= 0x01; return b })
		}
		good := enc(blob)
		body := good[2:]
		decryptFail := "bad signature" // GCM tag, or CBC padding and JSON alike
		tests := []struct{ name, token, reason string }{
			{"empty", "", "missing token"},
			{"prefix only", "04", "malformed token"},
			{"prefix 03", "03" + body, "malformed token"},
			{"prefix 4", "4" + body, "malformed token"},
			{"no prefix", body, "malformed token"},
			{"too long", "04" + strings.Repeat("A", MaxTokenLength-1), "token too long"},
			{"url-safe alphabet", "04" + strings.NewReplacer("+", "-", "/", "_").Replace(body) + zegoIf(!strings.ContainsAny(body, "+/"), "-___", ""), "malformed token"},
			{"padding stripped", "04" + strings.TrimRight(body, "=") + zegoIf(!strings.HasSuffix(body, "="), "A", ""), "malformed token"},
			{"extra padding", good + "====", "malformed token"},
			{"newline inside", "04" + body[:8] + "\n" + body[8:], "malformed token"},
			{"CRLF at end", good + "\r\n", "malformed token"},
			{"space inside", "04" + body[:8] + " " + body[9:], "malformed token"},
			{"non-canonical last digit", zegoNonCanonical(blob), "malformed token"},
			{"non-canonical, padded blob", zegoNonCanonical(append(slices.Clone(blob), 0, 0)), "malformed token"},
			{"truncated to 9 bytes", enc(blob[:9]), "malformed token"},
			{"truncated inside iv", enc(blob[:10+ivLen-1]), "malformed token"},
			{"truncated inside length", enc(blob[:10+ivLen+1]), "malformed token"},
			{"truncated ciphertext", enc(blob[:len(blob)-2]), "malformed token"},
			{"iv length 0", put16(8, 0), "malformed token"},
			{"iv length 13", put16(8, 13), "malformed token"},
			{"iv length huge", put16(8, 0xffff), "malformed token"},
			{"iv length of the other mode", put16(8, 28-ivLen), "malformed token"},
			{"ciphertext length 0", put16(10+ivLen, 0), "malformed token"},
			{"ciphertext length past end", put16(10+ivLen, ctLen+2), "malformed token"},
			{"ciphertext length huge", put16(10+ivLen, 0xffff), "malformed token"},
			{"ciphertext length short", put16(10+ivLen, ctLen-16), "malformed token"},
			{"ciphertext length not a block multiple", edit(func(b []byte) []byte {
				binary.BigEndian.PutUint16(b[10+ivLen:], uint16(ctLen-1))
				return b[:ctOff+ctLen-1]
			}), "malformed token"},
			{"extra trailing byte", enc(append(slices.Clone(blob), 7)), "malformed token"},
			{"wrong mode byte", edit(func(b []byte) []byte {
				if gcm {
					b[len(b)-1] = 2
					return b
				}
				return append(b, 0)
			}), "malformed token"},
			{"mode byte removed or added", edit(func(b []byte) []byte {
				if gcm {
					return b[:len(b)-1]
				}
				return append(b, 1)
			}), "malformed token"},
			{"first ciphertext byte", flip(ctOff), decryptFail},
			{"middle ciphertext byte", flip(ctOff + ctLen/2), decryptFail},
			{"last ciphertext byte", flip(ctOff + ctLen - 1), decryptFail},
			{"iv byte", flip(10), "bad signature"},
			{"expire prefix", flip(7), "bad time claim"},
			{"wrong secret", zegoSeal(t, gcm, zegoOtherSecret, zegoTestNow+3600, plain), decryptFail},
			{"plaintext too short for a token", zegoSeal(t, gcm, zegoTestSecret, zegoTestNow+3600, []byte(`{}`)), "malformed token"},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("gcm=%v/%s", gcm, tt.name), func(t *testing.T) {
				id, err := v.Verify(context.Background(), tt.token)
				zegoWantInvalid(t, err, tt.reason)
				if id.Subject != "" || id.Claims != nil {
					t.Fatalf("identity returned with an error: %+v", id)
				}
			})
		}
		if _, err := v.Verify(context.Background(), good); err != nil {
			t.Fatalf("gcm=%v: the untampered token fails: %v", gcm, err)
		}
	}
}

// TestZegoCBCIVFlip shows why the verifier is strict: flipping IV bits
// rewrites the first plaintext block of a CBC token without breaking the
// padding, so only the JSON and app_id checks stand in the way.
func TestZegoCBCIVFlip(t *testing.T) {
	v := zegoTestVerifier(t)
	plain := []byte(zegoPlainJSON(""))
	blob := zegoSealBlob(t, false, zegoTestSecret, zegoTestNow+3600, plain)
	// First block: `{"app_id":300000`. Turn the first digit 3 into 4.
	off := 10 + bytes.IndexByte(plain, '3')
	blob[off] ^= '3' ^ '4'
	_, err := v.Verify(context.Background(), "04"+base64.StdEncoding.EncodeToString(blob))
	zegoWantInvalid(t, err, "wrong audience")
	// Turn `{"app_id"` into `{"App_id"`: a case-insensitive parser would
	// still accept it.
	blob[off] ^= '3' ^ '4'
	blob[10+2] ^= 'a' ^ 'A'
	_, err = v.Verify(context.Background(), "04"+base64.StdEncoding.EncodeToString(blob))
	zegoWantInvalid(t, err, "bad signature")
}

func zegoIf(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// zegoNonCanonical encodes blob (plus a zero byte if it needs no padding)
// and then sets the unused bits of the last digit before the padding.
// A strict decoder must refuse the result.
func zegoNonCanonical(blob []byte) string {
	if len(blob)%3 == 0 {
		blob = append(slices.Clone(blob), 0)
	}
	enc := base64.StdEncoding.EncodeToString(blob)
	body := strings.TrimRight(enc, "=")
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	last := strings.IndexByte(alpha, body[len(body)-1])
	return "04" + body[:len(body)-1] + string(alpha[last|1]) + enc[len(body):]
}

func TestZegoUnpad(t *testing.T) {
	block := func(tail ...byte) []byte {
		b := bytes.Repeat([]byte{'x'}, 32)
		copy(b[32-len(tail):], tail)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		n    int // plaintext length, -1 = refused
	}{
		{"pad 1", block(1), 31},
		{"pad 2", block(2, 2), 30},
		{"pad 16", block(bytes.Repeat([]byte{16}, 16)...), 16},
		{"pad 0", block(0), -1},
		{"pad 17", block(17), -1},
		{"pad 255", block(255), -1},
		{"byte before the pad differs", block(2, 3, 3, 3), 29},
		{"unequal inside pad", block(2, 3, 3), -1},
		{"pad 16 with one bad byte", block(append([]byte{15}, bytes.Repeat([]byte{16}, 15)...)...), -1},
	}
	for _, tt := range tests {
		out, ok := zegoUnpad(tt.in)
		if ok != (tt.n >= 0) || (ok && len(out) != tt.n) {
			t.Errorf("%s: got %d %v, want %d", tt.name, len(out), ok, tt.n)
		}
	}
}

func TestZegoRotation(t *testing.T) {
	plain := []byte(zegoPlainJSON(""))
	ctx := context.Background()
	for _, gcm := range []bool{true, false} {
		tok := zegoSeal(t, gcm, zegoOtherSecret, zegoTestNow+3600, plain)
		for _, secrets := range [][]string{
			{zegoTestSecret, zegoOtherSecret},
			{zegoOtherSecret, zegoTestSecret},
		} {
			v := zegoNew(t, ZegoConfig{AppID: zegoTestApp, Secrets: secrets, Clock: zegoAt(zegoTestNow)})
			if id, err := v.Verify(ctx, tok); err != nil || id.Subject != "u-1" {
				t.Fatalf("gcm=%v secrets %d: %v %+v", gcm, len(secrets), err, id)
			}
		}
		_, err := zegoTestVerifier(t).Verify(ctx, tok)
		zegoWantInvalid(t, err, "bad signature")
	}
}

func TestNewZegoConfig(t *testing.T) {
	ok := ZegoConfig{AppID: 1, Secrets: []string{zegoTestSecret}}
	tests := []struct {
		name string
		edit func(*ZegoConfig)
		want string // substring of the error
	}{
		{"no app id", func(c *ZegoConfig) { c.AppID = 0 }, "AppID"},
		{"no secrets", func(c *ZegoConfig) { c.Secrets = nil }, "Secrets"},
		{"empty secret", func(c *ZegoConfig) { c.Secrets = []string{""} }, "Secrets[0]"},
		{"31-char secret", func(c *ZegoConfig) { c.Secrets = []string{zegoTestSecret[:31]} }, "Secrets[0]"},
		{"33-char secret", func(c *ZegoConfig) { c.Secrets = []string{zegoTestSecret + "x"} }, "Secrets[0]"},
		{"secret with a newline", func(c *ZegoConfig) { c.Secrets = []string{zegoTestSecret[:31] + "\n"} }, "Secrets[0]"},
		{"non-ascii secret", func(c *ZegoConfig) { c.Secrets = []string{zegoTestSecret[:30] + "é"} }, "Secrets[0]"},
		{"hex-decoded secret", func(c *ZegoConfig) { c.Secrets = []string{zegoOtherSecret, zegoFixtureSecret[:16]} }, "Secrets[1]"},
		{"duplicate secret", func(c *ZegoConfig) { c.Secrets = []string{zegoTestSecret, zegoOtherSecret, zegoTestSecret} }, "Secrets[2] repeats Secrets[0]"},
		{"negative leeway", func(c *ZegoConfig) { c.Leeway = -time.Second }, "Leeway"},
		{"leeway over 5m", func(c *ZegoConfig) { c.Leeway = 5*time.Minute + time.Nanosecond }, "Leeway must be between 0 and 5m0s"},
		{"ten years of leeway", func(c *ZegoConfig) { c.Leeway = 87600 * time.Hour }, "Leeway"},
		{"nine secrets", func(c *ZegoConfig) {
			c.Secrets = nil
			for i := range 9 {
				c.Secrets = append(c.Secrets, fmt.Sprintf("%031d%c", i, 'a'+i))
			}
		}, "more than 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			cfg.Secrets = slices.Clone(ok.Secrets)
			tt.edit(&cfg)
			v, err := NewZego(cfg)
			if err == nil || v != nil {
				t.Fatalf("NewZego accepted the config")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not name %q", err, tt.want)
			}
			for _, s := range cfg.Secrets {
				if len(s) > 8 && strings.Contains(err.Error(), s[:8]) {
					t.Fatalf("error %q prints a secret", err)
				}
			}
		})
	}
	if _, err := NewZego(ok); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

func TestZegoConcurrent(t *testing.T) {
	fx := zegoLoadFixtures(t)
	v := zegoFixtureVerifier(t, zegoFixtureCreated+2)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				for _, f := range fx {
					_, err := v.Verify(context.Background(), f.Token)
					if (err == nil) != f.Valid {
						errs <- fmt.Errorf("%s: %v", f.ID, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestZegoVerifyAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count in -short mode")
	}
	fx := zegoLoadFixtures(t)
	v := zegoFixtureVerifier(t, zegoFixtureCreated+2)
	for _, f := range fx {
		if !f.Valid {
			continue
		}
		n := testing.AllocsPerRun(100, func() { _, _ = v.Verify(context.Background(), f.Token) })
		// A regression guard: the strict check and encoding/json cost
		// about 22 allocations for a plaintext, 20 more for a privilege
		// payload; nothing per secret or per CBC block.
		want := 25.0
		if f.Payload != "" {
			want = 50
		}
		if n > want {
			t.Errorf("%s: %v allocations per Verify, want at most %v", f.ID, n, want)
		}
	}
}
