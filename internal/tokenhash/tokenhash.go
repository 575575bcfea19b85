// Package tokenhash is the one way tokens are hashed for cache keys and
// log lines: the SHA-256 of the whole token, so that the token itself is
// never stored or logged, and a key can only be hit by the very token that
// made it.
package tokenhash

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
)

// Size is the length of a key.
const Size = sha256.Size

// Key is the SHA-256 of a token.
type Key = [Size]byte

// bufLen is the longest token hashed without a heap copy: the verifiers'
// bound on tokens (verifiers.MaxTokenLength).
const bufLen = 8 << 10

// bufPool recycles the buffers that hold a token while it is hashed:
// crypto/sha256 takes bytes and the token is a string.
var bufPool = sync.Pool{New: func() any { return new([bufLen]byte) }}

// Sum returns the SHA-256 of token. It allocates nothing for tokens of up
// to 8 KiB.
func Sum(token string) Key {
	if len(token) > bufLen {
		return sha256.Sum256([]byte(token))
	}
	buf := bufPool.Get().(*[bufLen]byte)
	n := copy(buf[:], token)
	k := sha256.Sum256(buf[:n])
	bufPool.Put(buf)
	return k
}

// Short returns the first 12 hex digits of the token's SHA-256: enough to
// tell tokens apart in a log, never enough to find one.
func Short(token string) string {
	k := Sum(token)
	return hex.EncodeToString(k[:6])
}
