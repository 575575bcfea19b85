package verifiers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gameauth/caddy-gameauth/internal/check"
)

// zegoClaimNames is every claim Verify may set, in their order.
var zegoClaimNames = []string{"app_id", "room_id", "login", "publish", "stream_ids"}

// zegoCheckResult asserts the invariants of one Verify call.
func zegoCheckResult(t *testing.T, v *Zego, token string, id Identity, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrInvalidToken) || !slices.Contains(Reasons(), Reason(err)) {
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
		if !check.CleanText(s) || strings.ContainsRune(s, utf8.RuneError) {
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
// fuzzer reaches the JSON and the checks behind the crypto (what a secret
// holder, or CBC bit-flipping, could feed them). Verify must answer as
// zegoRefCheck, a model on refStrict and encoding/json maps, does: the
// same reason or the same identity.
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
		want, sure, wantErr := zegoRefCheck(v, plain, prefix, gcm)
		if !sure {
			return
		}
		// A ciphertext too short for the smallest Token04 object is
		// refused with the layout, before any decryption.
		if gcm && len(plain) < zegoMinPlain || !gcm && (len(plain)/16+1)*16 < zegoMinPlain+1 {
			want, wantErr = Identity{}, Invalid(ReasonMalformedToken)
		}
		if Reason(err) != Reason(wantErr) || (err == nil && !reflect.DeepEqual(id, want)) {
			t.Fatalf("Verify: %+v, %v\nmodel: %+v, %v", id, err, want, wantErr)
		}
	})
}

// zegoRefCheck models what Verify says of a plaintext sealed with the
// right key and the clear expire prefix: refStrict and an encoding/json
// map, then the rules in Verify's order. A plaintext refused as a whole
// is "malformed token" for GCM and "bad signature" for CBC, as a padding
// failure is (no padding oracle). sure is false when refStrict cannot
// tell.
func zegoRefCheck(v *Zego, plain []byte, prefix int64, gcm bool) (Identity, bool, error) {
	refused := Invalid(ReasonBadSignature)
	if gcm {
		refused = Invalid(ReasonMalformedToken)
	}
	names := []string{"app_id", "user_id", "nonce", "ctime", "expire", "payload"}
	m, ok, sure := refStrict(plain, names)
	if !ok || len(m) != 6 {
		return Identity{}, sure, refused
	}
	var nums [4]int64
	for i, name := range []string{"app_id", "nonce", "ctime", "expire"} {
		n, ok := zegoRefInt(m[name])
		if !ok || n == math.MinInt64 {
			return Identity{}, true, refused
		}
		nums[i] = n
	}
	user, ok1 := m["user_id"].(string)
	payload, ok2 := m["payload"].(string)
	if !ok1 || !ok2 {
		return Identity{}, true, refused
	}
	app, ctime, expire := nums[0], nums[2], nums[3]
	switch {
	case app != zegoTestApp:
		return Identity{}, true, Invalid(ReasonWrongAudience)
	case expire != prefix, expire <= 0 || expire > 253402300799 || ctime < 0 || ctime > expire:
		return Identity{}, true, Invalid(ReasonBadTimeClaim)
	case user == "":
		return Identity{}, true, Invalid(ReasonMissingSubject)
	case len(user) > 64 || !check.CleanText(user):
		return Identity{}, true, Invalid(ReasonBadClaim)
	case !v.clock().Before(time.Unix(expire, 0)):
		return Identity{}, true, Invalid(ReasonTokenExpired)
	}
	id := Identity{Provider: "zego", Subject: user, Expires: time.Unix(expire, 0), IssuedAt: time.Unix(ctime, 0), Claims: []Claim{{"app_id", strconv.Itoa(zegoTestApp)}}}
	if payload == "" {
		return id, true, nil
	}
	claims, sure, err := zegoRefPayload([]byte(payload))
	if err != nil {
		return Identity{}, sure, err
	}
	id.Claims = append(id.Claims, claims...)
	return id, sure, nil
}

// zegoRefInt reads an encoding/json number as an int64 integer.
func zegoRefInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return i, err == nil
}

// zegoRefPayload models what Verify makes of a privilege payload: its
// claims, or the error.
func zegoRefPayload(payload []byte) ([]Claim, bool, error) {
	m, ok, sure := refStrict(payload, []string{"room_id", "privilege", "stream_id_list", "1", "2"})
	if !ok {
		return nil, sure, Invalid(ReasonMalformedToken)
	}
	malformed := Invalid(ReasonMalformedToken)
	room, ok := m["room_id"].(string)
	if !ok && m["room_id"] != nil {
		return nil, true, malformed
	}
	var flags []string
	switch p := m["privilege"].(type) {
	case nil:
	case map[string]any:
		for _, k := range []string{"1", "2"} {
			n, ok := zegoRefInt(p[k])
			if !ok && p[k] != nil {
				return nil, true, malformed
			}
			flags = append(flags, strconv.FormatInt(n, 10))
		}
	default:
		return nil, true, malformed
	}
	var streams []string
	switch l := m["stream_id_list"].(type) {
	case nil:
	case []any:
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, true, malformed
			}
			streams = append(streams, s)
		}
	default:
		return nil, true, malformed
	}
	bad := Invalid(ReasonBadClaim)
	if room != "" && (len(room) > 128 || !check.CleanText(room)) {
		return nil, true, bad
	}
	for _, s := range streams {
		if s == "" || len(s) > 256 || strings.Contains(s, ",") || !check.CleanText(s) {
			return nil, true, bad
		}
	}
	var claims []Claim
	if room != "" {
		claims = append(claims, Claim{"room_id", room})
	}
	if flags != nil {
		if flags[0] != "0" && flags[0] != "1" || flags[1] != "0" && flags[1] != "1" {
			return nil, true, bad
		}
		claims = append(claims, Claim{"login", flags[0]}, Claim{"publish", flags[1]})
	}
	if len(streams) > 0 {
		claims = append(claims, Claim{"stream_ids", strings.Join(streams, ",")})
	}
	return claims, true, nil
}

// FuzzZegoPayload seals plaintexts around arbitrary privilege payloads:
// Verify must answer as zegoRefPayload says.
func FuzzZegoPayload(f *testing.F) {
	for _, fx := range zegoLoadFixtures(f) {
		f.Add([]byte(fx.Payload))
	}
	f.Add([]byte(`{"room_id":"r\"1\u00e9","privilege":{"1":0,"2":1,"3":[true]},"stream_id_list":["a","b\/c"],"x":{"y":null}}`))
	f.Add([]byte(`{"privilege":null,"stream_id_list":[]}`))
	v := zegoTestVerifier(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		if !utf8.Valid(payload) || len(payload) > 2048 {
			return // a plaintext must be valid UTF-8; the model would only refuse it
		}
		token := zegoSeal(t, true, zegoTestSecret, zegoTestNow+3600, []byte(zegoPlainJSON(string(payload))))
		id, err := v.Verify(context.Background(), token)
		zegoCheckResult(t, v, token, id, err)
		claims, sure, wantErr := zegoRefPayload(payload)
		if !sure || len(payload) == 0 {
			return
		}
		if Reason(err) != Reason(wantErr) || (err == nil && !reflect.DeepEqual(id.Claims[1:], claims) && len(claims)+len(id.Claims[1:]) > 0) {
			t.Fatalf("Verify: %+v, %v\nmodel: %+v, %v", id.Claims, err, claims, wantErr)
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
	if claims, _, err := zegoRefPayload([]byte(`{"privilege":null,"stream_id_list":[]}`)); err != nil || claims != nil {
		t.Fatal("payload seed refused")
	}
}
