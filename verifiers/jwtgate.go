package verifiers

import (
	"encoding/base64"
	"strings"

	"github.com/gameauth/caddy-gameauth/internal/strictjson"
)

// This file holds the gate every JWT (Seayoo, Twilio, CloudBase) passes
// before golang-jwt parses it: the strictness golang-jwt does not give, as
// one rule for all three. golang-jwt then checks the algorithm again, the
// signature and the registered claims, into typed claims whose Validate
// method holds the vendor's rules.
//
// The gate refuses, before any cryptography:
//   - an empty token ("missing token"), one over MaxTokenLength ("token too
//     long");
//   - anything but three segments, an empty header or payload, a segment
//     that is not canonical unpadded base64url: only the base64url
//     alphabet, no padding, no line break, zero unused bits, so that
//     re-encoding the bytes gives the segment back ("malformed token");
//   - a header or a payload that is not a strict JSON object (see
//     internal/strictjson: valid UTF-8, no lone surrogates, at most 32
//     levels, no two member names equal under case folding, no member
//     name equal to one the verifier reads only under case folding)
//     ("malformed token");
//   - an alg other than the vendor's, none included ("bad algorithm");
//   - a crit member, whatever its value ("bad header");
//   - a signature of another size than the algorithm's ("bad signature").

// jwtHeaderNames are the JOSE header members the verifiers read: they must
// be spelled exactly.
var jwtHeaderNames = strictjson.NewNames("alg", "typ", "cty", "crit", "twr")

// jwtGate is the gate of one verifier. It is immutable.
type jwtGate struct {
	alg    string            // the one algorithm accepted
	claims *strictjson.Names // the payload members the claims type reads
}

// jwtHeader holds the JSON text of the header members the verifiers read,
// "" for an absent member.
type jwtHeader struct {
	alg, typ, cty, twr, crit string
}

func (h *jwtHeader) member(name, value string) {
	switch name {
	case "alg":
		h.alg = value
	case "typ":
		h.typ = value
	case "cty":
		h.cty = value
	case "twr":
		h.twr = value
	case "crit":
		h.crit = value
	}
}

// b64url is the one encoding of JWT segments; see jwtSegment.
var b64url = base64.RawURLEncoding.Strict()

// jwtSegment decodes a segment that is canonical base64url: only
// characters of its alphabet (so no padding and no line break, which the
// decoder would skip) and zero unused bits (Strict).
func jwtSegment(seg string) ([]byte, bool) {
	if !jwtAlphabet(seg) {
		return nil, false
	}
	b, err := b64url.DecodeString(seg)
	return b, err == nil
}

// jwtAlphabet reports whether s holds only base64url characters.
func jwtAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// check passes token through the gate. sigSize is the size in bytes of a
// signature by the key that will verify it. claim, if not nil, is called
// for each top-level member of the payload, with its name and JSON text.
// The header members the verifiers read are returned.
func (g *jwtGate) check(token string, sigSize int, claim func(name, value string)) (jwtHeader, *Error) {
	var h jwtHeader
	switch {
	case token == "":
		return h, Invalid(ReasonMissingToken)
	case len(token) > MaxTokenLength:
		return h, Invalid(ReasonTokenTooLong)
	}
	header, rest, _ := strings.Cut(token, ".")
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || header == "" || payload == "" || strings.IndexByte(sig, '.') >= 0 {
		return h, Invalid(ReasonMalformedToken)
	}

	hb, ok := jwtSegment(header)
	if !ok || strictjson.Check(hb, jwtHeaderNames, h.member) != nil {
		return h, Invalid(ReasonMalformedToken)
	}
	if alg, _ := strictjson.String(h.alg); alg != g.alg {
		return h, Invalid(ReasonBadAlgorithm)
	}
	if h.crit != "" {
		return h, Invalid(ReasonBadHeader)
	}

	pb, ok := jwtSegment(payload)
	if !ok || strictjson.Check(pb, g.claims, claim) != nil {
		return h, Invalid(ReasonMalformedToken)
	}

	// The signature: base64url characters and a whole number of bytes,
	// then the algorithm's size, then canonical.
	if !jwtAlphabet(sig) || len(sig)%4 == 1 {
		return h, Invalid(ReasonMalformedToken)
	}
	if b64url.DecodedLen(len(sig)) != sigSize {
		return h, Invalid(ReasonBadSignature)
	}
	if _, err := b64url.DecodeString(sig); err != nil {
		return h, Invalid(ReasonMalformedToken)
	}
	return h, nil
}
