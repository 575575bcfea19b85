// Package cloudbasekey holds what the CloudBase verifier and issuer share:
// reading the custom-login credentials file the CloudBase console writes,
// parsing RSA keys from PEM, and the custom user id (uid) rule of the
// @cloudbase/node-sdk (spec/tokens.md §3).
//
// Errors never contain key material nor any other byte of the input: they
// name the field or the problem only, so they are safe to log.
package cloudbasekey

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"unicode/utf8"
)

// Separator splits a ticket into the key id (before the first occurrence)
// and the JWT.
const Separator = "/@@/"

// Bounds on what is accepted from configuration.
const (
	// MinRSABits is the smallest RSA modulus accepted. The node SDK signs
	// with any size (allowInsecureKeySizes defaults to true in 3.x), Go's
	// crypto/rsa refuses fewer than 1024 bits; the console issues 2048.
	MinRSABits = 1024
	// MaxRSABits bounds the modulus so a configured key cannot make every
	// verification arbitrarily slow.
	MaxRSABits = 8192
	// MaxFileSize bounds a credentials file or a PEM file.
	MaxFileSize = 64 << 10
	// MaxIDLength bounds private_key_id and env_id.
	MaxIDLength = 256
	// MinUIDLength and MaxUIDLength bound a custom user id.
	MinUIDLength = 4
	// MaxUIDLength is the longest custom user id.
	MaxUIDLength = 32
)

// Credentials is the content of a console credentials file.
type Credentials struct {
	// KeyID is "private_key_id": the ticket prefix. It may be empty if the
	// file lacks it; callers decide whether that is acceptable.
	KeyID string
	// EnvID is "env_id", empty if the file lacks it (old files).
	EnvID string
	// PrivateKey is "private_key", parsed.
	PrivateKey *rsa.PrivateKey
}

// credentialsFile is the JSON shape of the console's key file.
type credentialsFile struct {
	PrivateKeyID *string `json:"private_key_id"`
	PrivateKey   *string `json:"private_key"`
	EnvID        *string `json:"env_id"`
}

// LooksLikeJSON reports whether data, after leading white space, starts
// with '{': the credentials-file form rather than a PEM.
func LooksLikeJSON(data []byte) bool {
	d := bytes.TrimLeft(data, " \t\r\n")
	return len(d) > 0 && d[0] == '{'
}

// ParseCredentials reads a console credentials file:
// {"private_key_id": "...", "private_key": "<PEM>", "env_id": "..."}.
// The private key may be PKCS#1 ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE
// KEY"). Unknown members are ignored. private_key is required; the key id
// and env id are checked (CheckID) when present.
func ParseCredentials(data []byte) (Credentials, error) {
	if len(data) > MaxFileSize {
		return Credentials{}, errors.New("credentials file is too large")
	}
	var f credentialsFile
	if !LooksLikeJSON(data) {
		return Credentials{}, errors.New("credentials file is not a valid JSON object")
	}
	if err := json.Unmarshal(data, &f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Credentials{}, errors.New("credentials file: private_key_id, private_key and env_id must be strings")
		}
		// Syntax errors quote a byte of the input: do not wrap them.
		return Credentials{}, errors.New("credentials file is not a valid JSON object")
	}
	if f.PrivateKey == nil || *f.PrivateKey == "" {
		return Credentials{}, errors.New("credentials file has no private_key")
	}
	var c Credentials
	if f.PrivateKeyID != nil {
		c.KeyID = *f.PrivateKeyID
		if err := CheckID(c.KeyID); err != nil {
			return Credentials{}, errors.New("credentials file: private_key_id " + err.Error())
		}
	}
	if f.EnvID != nil {
		c.EnvID = *f.EnvID
		if err := CheckID(c.EnvID); err != nil {
			return Credentials{}, errors.New("credentials file: env_id " + err.Error())
		}
	}
	key, err := ParsePrivateKeyPEM([]byte(*f.PrivateKey))
	if err != nil {
		return Credentials{}, errors.New("credentials file: private_key: " + err.Error())
	}
	c.PrivateKey = key
	return c, nil
}

// CheckID checks a key id or env id: 1 to MaxIDLength bytes of valid UTF-8
// without white space, control characters, quotes, backslashes or the
// ticket separator. It returns an error phrased to follow a field name.
func CheckID(id string) error {
	switch {
	case id == "":
		return errors.New("is empty")
	case len(id) > MaxIDLength:
		return errors.New("is too long")
	case !utf8.ValidString(id):
		return errors.New("is not valid UTF-8")
	case strings.Contains(id, Separator):
		return errors.New("must not contain \"/@@/\"")
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f || r == '"' || r == '\\' || (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029 {
			return errors.New("must not contain spaces, quotes, backslashes or control characters")
		}
	}
	return nil
}

// onePEM decodes the single PEM block of data. Text before the block is
// tolerated (pem.Decode skips it); anything but white space after it is
// refused, so a file holding two keys is not silently half-read.
func onePEM(data []byte) (*pem.Block, error) {
	if len(data) > MaxFileSize {
		return nil, errors.New("PEM data is too large")
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the PEM block")
	}
	if len(block.Headers) != 0 {
		// Proc-Type: 4,ENCRYPTED and friends.
		return nil, errors.New("PEM headers (encrypted keys) are not supported")
	}
	return block, nil
}

// ParsePrivateKeyPEM parses an RSA private key from a PKCS#1 ("RSA PRIVATE
// KEY") or PKCS#8 ("PRIVATE KEY") PEM block and checks its size.
func ParsePrivateKeyPEM(data []byte) (*rsa.PrivateKey, error) {
	block, err := onePEM(data)
	if err != nil {
		return nil, err
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			// x509/asn1 errors may quote parts of the key: never wrap them.
			return nil, errors.New("invalid PKCS#1 RSA private key")
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("invalid PKCS#8 private key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("PKCS#8 key is not an RSA key")
		}
		key = rk
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("encrypted private keys are not supported")
	default:
		return nil, errors.New("PEM block is not an RSA private key (want \"RSA PRIVATE KEY\" or \"PRIVATE KEY\")")
	}
	if err := CheckPublicKey(&key.PublicKey); err != nil {
		return nil, err
	}
	return key, nil
}

// ParsePublicKeyPEM parses an RSA public key from a PKIX ("PUBLIC KEY") or
// PKCS#1 ("RSA PUBLIC KEY") PEM block and checks its size.
func ParsePublicKeyPEM(data []byte) (*rsa.PublicKey, error) {
	block, err := onePEM(data)
	if err != nil {
		return nil, err
	}
	var key *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, errors.New("invalid PKIX public key")
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("PKIX key is not an RSA key")
		}
		key = rk
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, errors.New("invalid PKCS#1 RSA public key")
		}
		key = k
	case "RSA PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("PEM block is a private key; give the public key or the credentials file")
	default:
		return nil, errors.New("PEM block is not an RSA public key (want \"PUBLIC KEY\" or \"RSA PUBLIC KEY\")")
	}
	if err := CheckPublicKey(key); err != nil {
		return nil, err
	}
	return key, nil
}

// CheckPublicKey checks that pub is a usable RSA verification key:
// MinRSABits to MaxRSABits bits and an odd public exponent above 1.
func CheckPublicKey(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil {
		return errors.New("RSA key is missing")
	}
	if bits := pub.N.BitLen(); bits < MinRSABits || bits > MaxRSABits {
		return errors.New("RSA key size must be between 1024 and 8192 bits")
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return errors.New("RSA public exponent is invalid")
	}
	return nil
}

// uidChars marks the bytes allowed in a custom user id: the character
// class of the SDK's /^[a-zA-Z0-9_\-#@~=*(){}[\]:.,<>+]{4,32}$/.
var uidChars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range []byte("_-#@~=*(){}[]:.,<>+") {
		t[c] = true
	}
	return t
}()

// ValidUID reports whether uid is a custom user id the SDK accepts: 4 to 32
// characters from letters, digits and _-#@~=*(){}[]:.,<>+ . Every allowed
// character is one ASCII byte, so bytes and characters count alike. The
// allowed set contains no quote nor backslash: a valid uid needs no JSON
// escaping.
func ValidUID(uid string) bool {
	if len(uid) < MinUIDLength || len(uid) > MaxUIDLength {
		return false
	}
	for i := 0; i < len(uid); i++ {
		if !uidChars[uid[i]] {
			return false
		}
	}
	return true
}
