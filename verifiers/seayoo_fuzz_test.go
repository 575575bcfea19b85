package verifiers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/internal/strictjson"
	"github.com/golang-jwt/jwt/v5"
)

// seayooFuzzConfig is the configuration of the fuzz targets: the secret and
// game of the vectors, so that they are valid seeds.
func seayooFuzzConfig() SeayooConfig {
	return SeayooConfig{
		Secrets: []string{"sk_secret"},
		GameID:  "xcom",
		Clock:   func() time.Time { return seayooTestNow },
	}
}

// seayooOutNames are the known claims passed on, in their order.
var seayooOutNames = []string{
	"idp", "external_id", "external_name", "weixin_unionid", "distro",
	"variant", "age", "device_id", "reg_time",
}

// seayooKnownNames are all the claim names read by the official SDK or by
// the verifier: they are never passed on as extra claims.
var seayooKnownNames = append([]string{"iss", "aud", "sub", "iat", "exp", "nbf", "jti", "scope", "weixin_session_key"}, seayooOutNames...)

// seayooFuzzSeedClaims are payloads for the seeds of both fuzz targets.
func seayooFuzzSeedClaims(t testing.TB) []string {
	now := seayooTestNow.Unix()
	base := seayooJSON(t, seayooTestClaims(nil))
	return []string{
		base,
		seayooJSON(t, seayooTestClaims(func(c jwt.MapClaims) {
			c["aud"] = []any{"a", "xcom"}
			c["nbf"] = now - 1
			c["reg_time"] = 1700000000
			c["weixin_unionid"] = "u"
			c["variant"] = "v"
			c["jti"] = "j"
			c["weixin_session_key"] = "k"
			c["z_extra"] = json.Number("1e3")
			c["a_extra"] = "峰\u2028"
			c["obj"] = map[string]any{"a": []any{1, "b", nil, true}}
		})),
		`{"iss":"https:\/\/api.seayoo.com","aud":"\u0078com","sub":"\ud83d\ude00","exp":` + strconv.FormatInt(now+9, 10) +
			`,"scope":"auth","age":-0,"idp":null,"Sub":"x","ſcope":"auth"}`,
		" { \"exp\" : 4e9 , \"sub\" : \"1\" , \"sub\" : \"2\" } ",
		`{"exp":1e400,"iat":1.5,"nbf":"1","age":"16","aud":[1]}`,
		`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		"{\"k\":\"\xff\"}",
		`[]`,
		``,
	}
}

// FuzzSeayooVerify feeds arbitrary tokens. Whatever the input, Verify must
// not panic, must return an *Error with a known reason or an identity with a
// non-empty Subject, and must accept nothing that golang-jwt (as the
// official SDK uses it) refuses.
func FuzzSeayooVerify(f *testing.F) {
	for _, vec := range seayooLoadVectors(f) {
		f.Add(vec.Token)
	}
	for _, p := range seayooFuzzSeedClaims(f) {
		f.Add(seayooSignJSON(f, seayooTestHeader, p, "sk_secret"))
	}
	good := seayooVectorNamed(f, "documentation example, re-signed").Token
	f.Add(good + ".")
	f.Add(strings.Replace(good, ".", "=.", 1))
	f.Add(seayooSignJSON(f, `{"alg":"HS256","crit":[]}`, seayooFuzzSeedClaims(f)[0], "sk_secret"))
	f.Add(seayooSignJSON(f, `{"alg":"HS\u0032\u0035\u0036","typ":"JWT","x":{"y":[1,2,{}]}}`, seayooFuzzSeedClaims(f)[0], "sk_secret"))
	f.Add(seayooMint(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, seayooTestClaims(nil)))
	f.Add(seayooMint(f, jwt.SigningMethodHS512, []byte("sk_secret"), nil, seayooTestClaims(nil)))
	f.Add("..")
	f.Add("a.b.c")

	cfg := seayooFuzzConfig()
	v := seayooMustNew(f, cfg)
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(context.Background(), token)
		seayooCheckResult(t, cfg, token, id, err)
	})
}

// FuzzSeayooClaims feeds arbitrary payloads, signed with the right secret,
// so that the fuzzer reaches the claims parser. Besides the checks of
// FuzzSeayooVerify, the identity must match an encoding/json model of the
// claim rules, and a payload golang-jwt accepts must be accepted once
// re-encoded canonically, unless it breaks one of the rules this verifier
// adds on purpose (integer exp and nbf within year 9999, no member name
// matching a known claim only case-insensitively, a clean sub, nesting).
func FuzzSeayooClaims(f *testing.F) {
	for _, p := range seayooFuzzSeedClaims(f) {
		f.Add([]byte(p))
	}
	for _, vec := range seayooLoadVectors(f) {
		p, err := base64.RawURLEncoding.DecodeString(strings.Split(vec.Token, ".")[1])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p)
	}
	cfg := seayooFuzzConfig()
	v := seayooMustNew(f, cfg)
	f.Fuzz(func(t *testing.T, payload []byte) {
		token := seayooSignJSON(t, seayooTestHeader, string(payload), "sk_secret")
		id, err := v.Verify(context.Background(), token)
		seayooCheckResult(t, cfg, token, id, err)

		ref, refErr := seayooRefParse(token, cfg)
		if refErr != nil || len(token) > MaxTokenLength {
			return
		}
		canon, ok := seayooCanonical(payload)
		if !ok {
			return
		}
		token = seayooSignJSON(t, seayooTestHeader, string(canon), "sk_secret")
		if len(token) > MaxTokenLength {
			return
		}
		id, err = v.Verify(context.Background(), token)
		if err != nil {
			t.Fatalf("golang-jwt accepts %q; its canonical form %q is refused: %v", payload, canon, err)
		}
		if id.Subject != ref.Subject {
			t.Fatalf("subject %q, golang-jwt %q", id.Subject, ref.Subject)
		}
	})
}

// seayooCheckResult checks one Verify result against the invariants and the
// references.
func seayooCheckResult(t *testing.T, cfg SeayooConfig, token string, id Identity, err error) {
	t.Helper()
	ref, refErr := seayooRefParse(token, cfg)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Kind != ErrInvalidToken || !slices.Contains(Reasons(), e.Reason) {
			t.Fatalf("error %v (%T) is not an invalid-token *Error with a known reason", err, err)
		}
		if !reflect.DeepEqual(id, Identity{}) {
			t.Fatalf("identity %+v returned with an error", id)
		}
		return
	}
	if id.Subject == "" || id.Provider != "seayoo" {
		t.Fatalf("accepted with identity %+v", id)
	}
	if refErr != nil {
		t.Fatalf("accepted a token golang-jwt refuses (%v): %q", refErr, token)
	}
	if id.Subject != ref.Subject || !id.Expires.Equal(ref.ExpiresAt.Time) {
		t.Fatalf("identity %+v, golang-jwt sub %q exp %v", id, ref.Subject, ref.ExpiresAt)
	}
	payload, derr := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if derr != nil {
		t.Fatalf("accepted a token whose payload does not decode: %v", derr)
	}
	want, merr := seayooExpectClaims(payload)
	if merr != nil {
		t.Fatalf("accepted a payload encoding/json cannot read: %v", merr)
	}
	if !reflect.DeepEqual(id.Claims, want) {
		t.Fatalf("claims\n got %q\nwant %q", id.Claims, want)
	}
}

// seayooDecodeMap decodes a JSON object with encoding/json, numbers kept as
// their text.
func seayooDecodeMap(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not an object")
	}
	return m, nil
}

// seayooExpectClaims computes Identity.Claims from the rules, using
// encoding/json: the model the verifier's own parser is checked against.
func seayooExpectClaims(payload []byte) ([]Claim, error) {
	m, err := seayooDecodeMap(payload)
	if err != nil {
		return nil, err
	}
	var out []Claim
	for _, name := range seayooOutNames {
		val, ok := m[name]
		if !ok || val == nil {
			continue
		}
		switch name {
		case "age", "reg_time":
			n, ok := val.(json.Number)
			if !ok {
				return nil, fmt.Errorf("%s is %T", name, val)
			}
			i, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil {
				return nil, err
			}
			if name == "age" || i != 0 {
				out = append(out, Claim{name, strconv.FormatInt(i, 10)})
			}
		default:
			s, ok := val.(string)
			if !ok {
				return nil, fmt.Errorf("%s is %T", name, val)
			}
			if s != "" && check.CleanText(s) {
				out = append(out, Claim{name, s})
			}
		}
	}
	var extras []Claim
	for name, val := range m {
		if slices.Contains(seayooKnownNames, name) || !seayooModelName(name) {
			continue
		}
		switch val := val.(type) {
		case string:
			if val != "" && check.CleanText(val) {
				extras = append(extras, Claim{name, val})
			}
		case json.Number:
			extras = append(extras, Claim{name, string(val)})
		}
	}
	slices.SortFunc(extras, func(a, b Claim) int { return strings.Compare(a.Name, b.Name) })
	if len(extras) > 32 {
		extras = extras[:32]
	}
	out = append(out, extras...)
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// seayooModelName is ^[a-z0-9_]{1,64}$, written independently.
func seayooModelName(name string) bool {
	return len(name) >= 1 && len(name) <= 64 && strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == ""
}

// seayooCanonical re-encodes a payload that golang-jwt accepted with
// encoding/json (sorted unique members, valid UTF-8), or reports false when
// it breaks a rule this verifier adds to golang-jwt's: no two member names
// equal under case folding in one object and no name equal to a known one
// only under case folding (at any depth), exp and nbf integers and iat a
// number, all within year 9999, a clean sub, at most 32 levels.
func seayooCanonical(payload []byte) ([]byte, bool) {
	m, err := seayooDecodeMap(payload)
	if err != nil || seayooFoldedNames(m) {
		return nil, false
	}
	for name, val := range m {
		switch name {
		case "exp", "nbf", "iat":
			if val == nil {
				continue
			}
			n, ok := val.(json.Number)
			if !ok {
				return nil, false // golang-jwt also reads "123"
			}
			if name == "iat" {
				f, err := n.Float64()
				if err != nil || f < 0 || f > maxUnix {
					return nil, false
				}
				continue
			}
			i, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil || i < 0 || i > maxUnix {
				return nil, false
			}
		case "sub":
			if s, _ := val.(string); !check.CleanText(s) {
				return nil, false
			}
		}
	}
	if seayooDepth(m) > strictjson.MaxDepth {
		return nil, false
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, false
	}
	return b, true
}

// seayooFoldedNames reports whether an object in v has two member names
// equal under case folding, or one equal to a known claim name only under
// case folding.
func seayooFoldedNames(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		var names []string
		for name, e := range v {
			for _, n := range append(names, seayooKnownNames...) {
				if name != n && strings.EqualFold(name, n) {
					return true
				}
			}
			names = append(names, name)
			if seayooFoldedNames(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if seayooFoldedNames(e) {
				return true
			}
		}
	}
	return false
}

// seayooDepth is the nesting depth of a decoded JSON value, the top-level
// object being 1.
func seayooDepth(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			d = max(d, seayooDepth(e))
		}
	case []any:
		for _, e := range v {
			d = max(d, seayooDepth(e))
		}
	default:
		return 0
	}
	return d + 1
}
