package verifiers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// zegoReasons is every reason Verify may give.
var zegoReasons = map[string]bool{
	"token too long": true, "unsupported token version": true, "malformed token": true,
	"bad iv length": true, "bad ciphertext length": true, "bad mode byte": true,
	"bad signature": true, "decryption failed": true, "malformed payload": true,
	"wrong app id": true, "expire mismatch": true, "bad token times": true,
	"bad user id": true, "token expired": true, "bad payload": true,
}

// zegoClaimNames is every claim Verify may set, in their order.
var zegoClaimNames = []string{"app_id", "room_id", "login", "publish", "stream_ids"}

// zegoCheckResult asserts the invariants of one Verify call.
func zegoCheckResult(t *testing.T, v *Zego, token string, id Identity, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrInvalidToken) || !zegoReasons[Reason(err)] {
			t.Fatalf("error %v: not ErrInvalidToken with a known reason", err)
		}
		if id.Subject != "" || id.Provider != "" || id.Claims != nil || !id.Expires.IsZero() {
			t.Fatalf("identity %+v returned with error %v", id, err)
		}
		return
	}
	if id.Subject == "" || id.Provider != "zego" {
		t.Fatalf("nil error but identity %+v", id)
	}
	if !v.clock().Before(id.Expires.Add(v.leeway)) {
		t.Fatalf("expired identity %+v accepted", id)
	}
	if len(id.Claims) == 0 || id.Claims[0] != (Claim{"app_id", v.appIDStr}) {
		t.Fatalf("claims %v do not start with the app id", id.Claims)
	}
	next := 0
	for _, c := range id.Claims {
		for next < len(zegoClaimNames) && zegoClaimNames[next] != c.Name {
			next++
		}
		if next == len(zegoClaimNames) || c.Value == "" {
			t.Fatalf("claims %v: unknown, repeated, out of order or empty", id.Claims)
		}
		next++
	}
	for _, s := range append([]string{id.Subject}, claimValues(id.Claims)...) {
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd }) {
			t.Fatalf("identity %+v carries control or replacement characters", id)
		}
	}
	// Only canonical encodings are accepted: decoding and re-encoding
	// gives the token back.
	blob, derr := base64.StdEncoding.DecodeString(token[2:])
	if derr != nil || "04"+base64.StdEncoding.EncodeToString(blob) != token {
		t.Fatalf("accepted a non-canonical token %q", token)
	}
}

func claimValues(cs []Claim) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Value
	}
	return out
}

func FuzzZegoVerify(f *testing.F) {
	for _, fx := range zegoLoadFixtures(f) {
		f.Add(fx.Token)
	}
	for _, e := range zegoLoadIssued(f) {
		f.Add(e.Token)
	}
	f.Add("")
	f.Add("04")
	f.Add("04AAAAAGtJ4BAADAQFBgcICQoLDA0ODwB8")
	fixV := zegoFixtureVerifier(f, zegoFixtureCreated+2)
	// The issued tokens are for zegoTestApp, made at zegoTestNow.
	testV := zegoNew(f, ZegoConfig{AppID: zegoTestApp, Secrets: []string{zegoOtherSecret, zegoTestSecret}, Clock: zegoAt(zegoTestNow + 1)})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token string) {
		for _, v := range []*Zego{fixV, testV} {
			id, err := v.Verify(ctx, token)
			zegoCheckResult(t, v, token, id, err)
			id2, err2 := v.Verify(ctx, token)
			if Reason(err) != Reason(err2) || id.Subject != id2.Subject {
				t.Fatalf("Verify is not deterministic: %v / %v", err, err2)
			}
		}
	})
}

// FuzzZegoPlaintext seals arbitrary plaintexts with the right key, so the
// fuzzer reaches the JSON parser and the checks behind the crypto (what
// a secret holder, or CBC bit-flipping, could feed them). Whatever the
// strict parser accepts, encoding/json must read the same way.
func FuzzZegoPlaintext(f *testing.F) {
	app := strconv.Itoa(zegoTestApp)
	for _, fx := range zegoLoadFixtures(f) {
		if fx.DecodedPlaintext != "" {
			f.Add([]byte(strings.Replace(fx.DecodedPlaintext, "987654321", app, 1)), fx.Variant == "gcm")
		}
	}
	f.Add([]byte(zegoPlainJSON(`{"room_id":"r1","privilege":{"1":1,"2":1},"stream_id_list":["a","b"]}`)), true)
	f.Add([]byte(zegoPlainJSON(`{"x":[{"y":-1.5e3}],"room_id":"r\u00e9","privilege":null}`)), false)
	f.Add([]byte(strings.Replace(zegoPlainJSON(""), `"u-1"`, `"\ud83d\ude00\n"`, 1)), true)
	v := zegoTestVerifier(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, plain []byte, gcm bool) {
		if len(plain) > 4096 {
			return
		}
		prefix := int64(zegoTestNow + 3600)
		var loose struct {
			Expire int64 `json:"expire"`
		}
		if json.Unmarshal(plain, &loose) == nil && loose.Expire != 0 {
			prefix = loose.Expire
		}
		token := zegoSeal(t, gcm, zegoTestSecret, prefix, plain)
		id, err := v.Verify(ctx, token)
		zegoCheckResult(t, v, token, id, err)

		c, ok := zegoParsePlain(plain, make([]byte, 0, 2*len(plain)))
		if !ok {
			if err == nil {
				t.Fatal("Verify accepted a plaintext zegoParsePlain refuses")
			}
			return
		}
		zegoSameAsStdlib(t, plain, &c)
		if err == nil && (id.Subject != string(c.userID) || id.Expires.Unix() != c.expire) {
			t.Fatalf("identity %+v differs from the parsed plaintext", id)
		}
	})
}

// zegoSameAsStdlib checks that encoding/json reads plain as c.
func zegoSameAsStdlib(t *testing.T, plain []byte, c *zegoClaims) {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("encoding/json refuses what zegoParsePlain accepts: %v", err)
	}
	if dec.More() {
		t.Fatal("encoding/json sees more after the object")
	}
	if len(m) != 6 {
		t.Fatalf("encoding/json sees %d members", len(m))
	}
	for key, want := range map[string]int64{"app_id": c.appID, "nonce": c.nonce, "ctime": c.ctime, "expire": c.expire} {
		if !jsonNumberIs(m[key], want) {
			t.Fatalf("%s: encoding/json %v, zegoParsePlain %d", key, m[key], want)
		}
	}
	if s, ok := m["user_id"].(string); !ok || s != string(c.userID) {
		t.Fatalf("user_id: encoding/json %q, zegoParsePlain %q", m["user_id"], c.userID)
	}
	if s, ok := m["payload"].(string); !ok || s != string(c.payload) {
		t.Fatalf("payload: encoding/json %q, zegoParsePlain %q", m["payload"], c.payload)
	}
}

// jsonNumberIs reports whether v, as encoding/json's UseNumber decodes
// it, is the integer want. It compares values, not spellings: JSON's -0
// is the integer 0, which the fuzzer found the text comparison refusing.
func jsonNumberIs(v any, want int64) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return err == nil && i == want
}

// FuzzZegoPayload checks the privilege payload parser against
// encoding/json on whatever it accepts.
func FuzzZegoPayload(f *testing.F) {
	for _, fx := range zegoLoadFixtures(f) {
		f.Add([]byte(fx.Payload))
	}
	f.Add([]byte(`{"room_id":"r\"1\u00e9","privilege":{"1":0,"2":1,"3":[true]},"stream_id_list":["a","b\/c"],"x":{"y":null}}`))
	f.Add([]byte(`{"privilege":null,"stream_id_list":[]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		if !utf8.Valid(payload) {
			return // Verify checks the whole plaintext before the payload
		}
		var p zegoPrivilege
		if !zegoParsePayload(payload, make([]byte, 0, 2*len(payload)), &p) {
			return
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil || dec.More() {
			t.Fatalf("encoding/json refuses a payload zegoParsePayload accepts: %v", err)
		}
		room, _ := m["room_id"].(string)
		if room != string(p.room) {
			t.Fatalf("room_id: encoding/json %q, parser %q", room, p.room)
		}
		priv, isObj := m["privilege"].(map[string]any)
		if isObj != p.hasPrivilege {
			t.Fatalf("privilege: encoding/json %v, parser %v", m["privilege"], p.hasPrivilege)
		}
		if isObj {
			for key, got := range map[string]bool{"1": p.login, "2": p.publish} {
				if priv[key] == nil && !got {
					continue // absent: not allowed
				}
				want := int64(0)
				if got {
					want = 1
				}
				if !jsonNumberIs(priv[key], want) {
					t.Fatalf("privilege %s: encoding/json %v, parser %v", key, priv[key], got)
				}
			}
		}
		var list []string
		if l, ok := m["stream_id_list"].([]any); ok {
			for _, s := range l {
				list = append(list, s.(string))
			}
		}
		if strings.Join(list, ",") != string(p.streams) {
			t.Fatalf("stream_id_list: encoding/json %q, parser %q", list, p.streams)
		}
	})
}

// TestZegoFuzzSeedsPass makes sure the seeds above are meaningful: the
// valid ones do verify (a fuzz target whose seeds all fail tests little).
func TestZegoFuzzSeedsPass(t *testing.T) {
	v := zegoTestVerifier(t)
	for _, gcm := range []bool{true, false} {
		tok := zegoSeal(t, gcm, zegoTestSecret, zegoTestNow+3600, []byte(zegoPlainJSON(`{"x":[{"y":-1.5e3}],"room_id":"r\u00e9","privilege":null}`)))
		id, err := v.Verify(context.Background(), tok)
		if err != nil || id.Claims[1] != (Claim{"room_id", "ré"}) {
			t.Fatalf("seed: %v %+v", err, id)
		}
	}
	if !zegoParsePayload([]byte(`{"privilege":null,"stream_id_list":[]}`), nil, new(zegoPrivilege)) {
		t.Fatal("payload seed refused")
	}
}
