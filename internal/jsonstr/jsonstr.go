// Package jsonstr appends JSON strings exactly as encoding/json writes them,
// without reflection or allocation, for the hand-built JSON on the issuing
// path (token plaintexts and HTTP answers).
package jsonstr

import "unicode/utf8"

const hex = "0123456789abcdef"

// safe[c] reports whether the ASCII byte c is written as itself: not a
// control character, '"', '\\', or one of '<', '>', '&' (which
// encoding/json escapes so that its output is safe inside HTML).
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// Append appends s to dst as a quoted JSON string, byte for byte what
// encoding/json.Marshal writes for it: \", \\, \b, \f, \n, \r, \t, \u00XX
// for other control characters and for <, > and &, \u2028 and \u2029 for
// the JavaScript line separators, and \ufffd for each byte of invalid
// UTF-8.
func Append(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
