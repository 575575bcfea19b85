// Package check holds the small vendor rules that the verifiers, the issuers
// and the Caddy layer share, each written once: what a Seayoo Secret Key,
// Game ID and issuer look like, what a Twilio SID and API key secret look
// like, which claim names may be passed on, and which strings are safe in a
// header or a log line. It also holds FieldError, the configuration error
// that names a field without quoting its value.
//
// The functions that check a secret return a problem in words ("" when
// there is none) that never include the secret.
package check

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldError is a configuration error about one field of a library
// configuration. It names the field (and, for a list, the element) and
// says what is wrong, never quoting the value, so a caller can report it
// in its own words (a Caddyfile option name) without reading error text.
type FieldError struct {
	// Vendor is the package-level prefix of the message: "seayoo", "twilio", ...
	Vendor string
	// Field is the Go field: "GameID", "Secrets", "Keys.SID".
	Field string
	// Index is the list element at fault when List is set.
	Index int
	List  bool
	// Problem says what is wrong: `must start with "sk_"`.
	Problem string
}

// Field returns a FieldError about a field that is not a list.
func Field(vendor, field, problem string) *FieldError {
	return &FieldError{Vendor: vendor, Field: field, Problem: problem}
}

// Item returns a FieldError about element i of a list field. In a field
// such as "Keys.SID", the index goes after the list: "Keys[1].SID".
func Item(vendor, field string, i int, problem string) *FieldError {
	return &FieldError{Vendor: vendor, Field: field, Index: i, List: true, Problem: problem}
}

// Path is the field as written in a message: "Secrets[0]", "Keys[1].SID".
func (e *FieldError) Path() string {
	if !e.List {
		return e.Field
	}
	list, rest, nested := strings.Cut(e.Field, ".")
	p := list + "[" + strconv.Itoa(e.Index) + "]"
	if nested {
		p += "." + rest
	}
	return p
}

func (e *FieldError) Error() string { return e.Vendor + ": " + e.Path() + " " + e.Problem }

// Limits of the rules below.
const (
	// SeayooSecretPrefix starts every Seayoo Secret Key; the official SDK
	// refuses keys without it.
	SeayooSecretPrefix = "sk_"
	// SeayooMinSecretLen is the shortest Secret Key accepted: the prefix
	// and 6 more bytes (the documentation's example key, "sk_secret", has
	// 6), so that a key cannot be guessed.
	SeayooMinSecretLen = len(SeayooSecretPrefix) + 6
	// TwilioMinSecretLen is the shortest API key secret accepted;
	// Twilio's have 32 characters.
	TwilioMinSecretLen = 16
	// MaxClaimName bounds the length of a claim name.
	MaxClaimName = 64
	// MaxConfigText bounds a configured identifier (a Game ID, an issuer
	// URL), in characters.
	MaxConfigText = 1024
)

// SecretChars reports whether s has no space and no control character:
// a secret with one usually carries a newline read from a file.
func SecretChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// SeayooSecret returns what is wrong with a Seayoo Secret Key, or "".
func SeayooSecret(s string) string {
	switch {
	case !strings.HasPrefix(s, SeayooSecretPrefix):
		return `must start with "sk_"`
	case len(s) < SeayooMinSecretLen:
		return `is too short: want "sk_" and at least 6 more bytes`
	case !SecretChars(s):
		return "must not contain spaces or control characters"
	}
	return ""
}

// SeayooGameID returns what is wrong with a Seayoo Game ID, or "".
func SeayooGameID(id string) string {
	switch {
	case id == "":
		return "is required"
	case !CleanText(id) || utf8.RuneCountInString(id) > MaxConfigText || strings.TrimSpace(id) != id:
		return "must be valid UTF-8 without control characters or surrounding spaces"
	}
	return ""
}

// SeayooDefaultIssuer is the iss of identity tokens minted by Seayoo's China
// endpoint. Games served by the global endpoint use "https://api.seayoo.io".
const SeayooDefaultIssuer = "https://api.seayoo.com"

// SeayooIssuer returns the configured Seayoo API endpoint iss as tokens
// carry it: SeayooDefaultIssuer when iss is empty, one trailing "/"
// trimmed, as the official SDK does. ok is false unless it is an http(s)
// URL with a host, without spaces or control characters.
func SeayooIssuer(iss string) (issuer string, ok bool) {
	if iss == "" {
		iss = SeayooDefaultIssuer
	}
	iss = strings.TrimSuffix(iss, "/")
	u, err := url.Parse(iss)
	return iss, err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		CleanText(iss) && utf8.RuneCountInString(iss) <= MaxConfigText && !strings.ContainsAny(iss, " \t")
}

// TwilioSID reports whether s is prefix ("AC" for an account, "SK" for an
// API key) followed by 32 lower-case hex digits.
func TwilioSID(s, prefix string) bool {
	if len(s) != len(prefix)+32 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// TwilioSecret returns what is wrong with a Twilio API key secret, or "".
func TwilioSecret(s string) string {
	switch {
	case s == "":
		return "is required"
	case len(s) < TwilioMinSecretLen:
		return "is too short: want at least 16 bytes (Twilio's API key secrets have 32)"
	case !SecretChars(s):
		return "must not contain spaces or control characters"
	}
	return ""
}

// ClaimName reports whether name may be a claim passed on as a header and
// a placeholder: it matches ^[a-z0-9_]{1,64}$.
func ClaimName(name string) bool {
	if name == "" || len(name) > MaxClaimName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// CleanRune reports whether r is safe in a header or a log line: not a C0
// or C1 control character, DEL, or a line or paragraph separator.
func CleanRune(r rune) bool {
	return r >= 0x20 && (r < 0x7f || r > 0x9f) && r != 0x2028 && r != 0x2029
}

// CleanText reports whether s is valid UTF-8 made of clean runes (see
// CleanRune): safe to pass on in a header or a log line.
func CleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !CleanRune(r) {
			return false
		}
	}
	return true
}

// PrintableASCII reports whether s is non-empty visible ASCII: no space,
// no control character, nothing beyond '~'.
func PrintableASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// TwilioMaxRegion bounds the length of a Twilio region ("twr" header).
const TwilioMaxRegion = 16

// TwilioRegion reports whether s is a Twilio region as an Access Token's
// "twr" header carries it: 1 to TwilioMaxRegion lower-case ASCII letters
// and digits.
func TwilioRegion(s string) bool {
	if s == "" || len(s) > TwilioMaxRegion {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// ZegoSecretLen is the length of a ZEGO ServerSecret.
const ZegoSecretLen = 32

// ZegoSecret returns what is wrong with a ZEGO ServerSecret, or "".
func ZegoSecret(s string) string {
	if len(s) != ZegoSecretLen || !PrintableASCII(s) {
		return "must be exactly 32 printable ASCII characters, the server secret from the ZEGO console (check for a trailing newline)"
	}
	return ""
}
