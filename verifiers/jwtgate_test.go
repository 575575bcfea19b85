package verifiers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gameauth/caddy-gameauth/internal/strictjson"
)

// refStrict is an independent model of internal/strictjson.Check, built on
// encoding/json's token stream: it returns the decoded object, or ok false
// if doc is not a strict JSON object. sure is false when the model cannot
// tell (a U+FFFD that may come from the text itself rather than from a lone
// surrogate escape).
func refStrict(doc []byte, names []string) (m map[string]any, ok, sure bool) {
	if !utf8.Valid(doc) {
		return nil, false, true
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	replaced := false
	var walk func(depth int, tok json.Token) bool
	walk = func(depth int, tok json.Token) bool {
		if s, isStr := tok.(string); isStr {
			replaced = replaced || strings.ContainsRune(s, utf8.RuneError)
			return true
		}
		d, isDelim := tok.(json.Delim)
		if !isDelim {
			return true
		}
		if depth >= strictjson.MaxDepth {
			return false
		}
		var seen []string
		for dec.More() {
			if d == '{' {
				k, err := dec.Token()
				if err != nil {
					return false
				}
				name := k.(string)
				replaced = replaced || strings.ContainsRune(name, utf8.RuneError)
				for _, n := range append(seen, names...) {
					if name != n && strings.EqualFold(name, n) || slices.Contains(seen, name) {
						return false
					}
				}
				seen = append(seen, name)
			}
			next, err := dec.Token()
			if err != nil || !walk(depth+1, next) {
				return false
			}
		}
		_, err := dec.Token()
		return err == nil
	}
	first, err := dec.Token()
	if err != nil || first != json.Delim('{') || !walk(0, first) {
		return nil, false, !replaced
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false, !replaced
	}
	if replaced {
		lower := strings.ToLower(string(doc))
		if !strings.Contains(lower, `\ufffd`) && !strings.Contains(lower, "\ufffd") {
			return nil, false, true // a lone surrogate escape
		}
		return nil, false, false
	}
	all := json.NewDecoder(bytes.NewReader(doc))
	all.UseNumber()
	if all.Decode(&m) != nil {
		return nil, false, true
	}
	return m, true, true
}

// refGate is an independent model of jwtGate.check: the reason it gives,
// "" for a token that passes, and whether the model is sure.
func refGate(token, alg string, sigSize int, names []string) (reason string, sure bool) {
	if token == "" {
		return ReasonMissingToken, true
	}
	if len(token) > MaxTokenLength {
		return ReasonTokenTooLong, true
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return ReasonMalformedToken, true
	}
	canonical := func(seg string) ([]byte, bool) {
		b, err := base64.RawURLEncoding.DecodeString(seg)
		return b, err == nil && base64.RawURLEncoding.EncodeToString(b) == seg
	}
	hb, ok := canonical(parts[0])
	if !ok {
		return ReasonMalformedToken, true
	}
	h, ok, sure := refStrict(hb, []string{"alg", "typ", "cty", "crit", "twr"})
	if !ok {
		return ReasonMalformedToken, sure
	}
	if h["alg"] != alg {
		return ReasonBadAlgorithm, true
	}
	if _, ok := h["crit"]; ok {
		return ReasonBadHeader, true
	}
	pb, ok := canonical(parts[1])
	if !ok {
		return ReasonMalformedToken, true
	}
	if _, ok, sure := refStrict(pb, names); !ok {
		return ReasonMalformedToken, sure
	}
	sig := parts[2]
	if strings.Trim(sig, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" || len(sig)%4 == 1 {
		return ReasonMalformedToken, true
	}
	if len(sig)*6/8 != sigSize {
		return ReasonBadSignature, true
	}
	if _, ok := canonical(sig); !ok {
		return ReasonMalformedToken, true
	}
	return "", true
}

// gateReason runs the gate of a verifier with the claim names of the
// Seayoo verifier on token.
func gateReason(token string) string {
	g := jwtGate{alg: "HS256", claims: seayooNames}
	if _, e := g.check(token, 32, nil); e != nil {
		return e.Reason
	}
	return ""
}

func TestJWTGate(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	sig := enc(strings.Repeat("s", 32))
	h := enc(`{"alg":"HS256"}`)
	p := enc(`{"sub":"a"}`)
	tests := []struct {
		token, reason string
	}{
		{h + "." + p + "." + sig, ""},
		{enc(`{"alg":"HS\u0032\u0035\u0036","kid":{"x":[1]}}`) + "." + p + "." + sig, ""},
		{"", ReasonMissingToken},
		{strings.Repeat("a", MaxTokenLength+1), ReasonTokenTooLong},
		{h + "." + p, ReasonMalformedToken},
		{h + "." + p + "." + sig + ".", ReasonMalformedToken},
		{"." + p + "." + sig, ReasonMalformedToken},
		{h + ".." + sig, ReasonMalformedToken},
		{h + "=." + p + "." + sig, ReasonMalformedToken},
		{h + "." + p[:4] + "\n" + p[4:] + "." + sig, ReasonMalformedToken},
		{enc(`{"alg":"HS256","alg":"HS256"}`) + "." + p + "." + sig, ReasonMalformedToken},
		{enc(`{"alg":"HS256","ALG":"none"}`) + "." + p + "." + sig, ReasonMalformedToken},
		{enc(`null`) + "." + p + "." + sig, ReasonMalformedToken},
		{enc(`{"alg":"none"}`) + "." + p + "." + sig, ReasonBadAlgorithm},
		{enc(`{"alg":"hs256"}`) + "." + p + "." + sig, ReasonBadAlgorithm},
		{enc(`{"alg":["HS256"]}`) + "." + p + "." + sig, ReasonBadAlgorithm},
		{enc(`{"typ":"JWT"}`) + "." + p + "." + sig, ReasonBadAlgorithm},
		{enc(`{"alg":"HS256","crit":null}`) + "." + p + "." + sig, ReasonBadHeader},
		{h + "." + enc(`{"sub":"a","SUB":"b"}`) + "." + sig, ReasonMalformedToken},
		{h + "." + enc(`{"x":{"ſub":1}}`) + "." + sig, ReasonMalformedToken},
		{h + "." + enc(`{"x":"\ud800"}`) + "." + sig, ReasonMalformedToken},
		{h + "." + enc("{\"x\":\"\xff\"}") + "." + sig, ReasonMalformedToken},
		{h + "." + enc(`[]`) + "." + sig, ReasonMalformedToken},
		{h + "." + p + ".", ReasonBadSignature},
		{h + "." + p + "." + sig[:42], ReasonBadSignature},
		{h + "." + p + "." + sig + "AAAA", ReasonBadSignature},
		{h + "." + p + "." + sig[:41], ReasonMalformedToken}, // 41 characters: not whole bytes
		{h + "." + p + "." + sig + "=", ReasonMalformedToken},
		{h + "." + p + "." + sig[:42] + "t", ReasonMalformedToken}, // unused bits set
	}
	for _, tt := range tests {
		if got := gateReason(tt.token); got != tt.reason {
			t.Errorf("%q: %q, want %q", tt.token, got, tt.reason)
		}
		if ref, _ := refGate(tt.token, "HS256", 32, seayooKnownNames); ref != tt.reason {
			t.Errorf("%q: the model says %q, want %q", tt.token, ref, tt.reason)
		}
	}
}

// FuzzJWTGate compares the gate with refGate, its model on encoding/json's
// token stream, on arbitrary tokens and on arbitrary header and payload
// texts: the same reason, or the same acceptance. An accepted token's
// segments re-encode to themselves.
func FuzzJWTGate(f *testing.F) {
	for _, vec := range seayooLoadVectors(f) {
		f.Add(vec.Token, "", "")
	}
	for _, fx := range loadTwilioFixtures(f) {
		f.Add(fx.Token, "", "")
	}
	for _, c := range twilioJSONCases {
		f.Add("", c.header, c.payload)
	}
	f.Add("", `{"alg":"HS256","x":[{"a":1,"A":2}]}`, `{"sub":"\ud83d\ude00","Sub":1}`)
	f.Add("", `{"alg":"HS256"}`, "{\"a\":\"\\ufffd\xef\xbf\xbd\"}")
	f.Fuzz(func(t *testing.T, token, header, payload string) {
		if header != "" || payload != "" {
			token = twilioSign(header, payload, twilioTestSecret1)
		}
		got := gateReason(token)
		want, sure := refGate(token, "HS256", 32, seayooKnownNames)
		if sure && got != want {
			t.Fatalf("gate %q, model %q: %q", got, want, token)
		}
		if got != "" {
			if !slices.Contains(Reasons(), got) {
				t.Fatalf("reason %q is not in Reasons", got)
			}
			return
		}
		for _, seg := range strings.Split(token, ".") {
			b, err := base64.RawURLEncoding.DecodeString(seg)
			if err != nil || base64.RawURLEncoding.EncodeToString(b) != seg {
				t.Fatalf("accepted a non-canonical segment %q", seg)
			}
		}
	})
}

func TestReasons(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		if r == "" || seen[r] || r != strings.ToLower(r) || len(r) > 40 {
			t.Errorf("reason %q is empty, repeated, not lower case or long", r)
		}
		seen[r] = true
	}
	if Reason(errors.New("x")) != ReasonInternal || Reason(Invalid(ReasonBadClaim)) != ReasonBadClaim {
		t.Error("Reason does not return the listed reasons")
	}
}
