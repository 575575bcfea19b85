package bans

import (
	"bytes"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// ParseRecord is a parser for the one shape a record has, in place of
// encoding/json's Decoder and strictjson.Check, which cost most of a cold
// start's CPU. It accepts and refuses exactly what they did together (the
// differential fuzz target FuzzRecordDifferential holds it to the former
// parser, kept in the tests): the JSON grammar, valid UTF-8, escapes
// decoded as encoding/json decodes them but no lone surrogate (strictjson
// refuses those), each member at most once and spelled exactly as one of
// the nine names (escapes decoded), v the number 1 and every other value a
// string or null (encoding/json leaves a string it reads null empty).

// The members of a record, by index.
const (
	memV = iota
	memOp
	memProvider
	memSubject
	memUntil
	memBefore
	memReason
	memCreatedBy
	memCreatedAt
)

// memberIndex returns the index of the member named name, or -1.
func memberIndex(name []byte) int {
	switch string(name) {
	case "v":
		return memV
	case "op":
		return memOp
	case "provider":
		return memProvider
	case "subject":
		return memSubject
	case "until":
		return memUntil
	case "before":
		return memBefore
	case "reason":
		return memReason
	case "created_by":
		return memCreatedBy
	case "created_at":
		return memCreatedAt
	}
	return -1
}

// ParseRecord reads one stored record strictly: at most MaxRecordSize
// bytes, one JSON object in valid UTF-8 with no duplicate, case-folded or
// unknown member, version 1, and a Record that passes Validate.
func ParseRecord(b []byte) (Record, error) {
	if len(b) > MaxRecordSize {
		return Record{}, recordErr("too large")
	}
	if !utf8.Valid(b) {
		return Record{}, recordErr("invalid UTF-8")
	}
	var vals [memCreatedAt + 1][]byte
	var seen uint
	s := scanner{b: b}
	s.ws()
	if !s.eat('{') {
		return Record{}, recordErr("not a JSON object")
	}
	for {
		s.ws()
		name, ok := s.str()
		if !ok {
			return Record{}, recordErr("syntax: member name")
		}
		m := memberIndex(name)
		if m < 0 {
			return Record{}, recordErr("unknown member %q", name)
		}
		if seen&(1<<m) != 0 {
			return Record{}, recordErr("member %s twice", name)
		}
		seen |= 1 << m
		s.ws()
		if !s.eat(':') {
			return Record{}, recordErr("syntax: no colon")
		}
		s.ws()
		switch {
		case m == memV:
			// encoding/json reads a number into the int exactly; 1
			// followed by more of a number is refused below (no comma or
			// brace next), null leaves 0: only the number 1 is version 1.
			if !s.eat('1') {
				return Record{}, recordErr("version is not 1")
			}
		case s.peek() == '"':
			if vals[m], ok = s.str(); !ok {
				return Record{}, recordErr("syntax: string")
			}
		case s.null():
			// encoding/json leaves the string empty; each member comes at
			// most once, so vals[m] is nil.
		default:
			return Record{}, recordErr("%s: not a string", name)
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			break
		}
		return Record{}, recordErr("syntax: after a member")
	}
	s.ws()
	if s.i != len(b) {
		return Record{}, recordErr("data after the object")
	}
	if seen&(1<<memV) == 0 {
		return Record{}, recordErr("version 0")
	}
	r := Record{
		Op:        opOf(vals[memOp]),
		Provider:  string(vals[memProvider]),
		Subject:   string(vals[memSubject]),
		Reason:    string(vals[memReason]),
		CreatedBy: string(vals[memCreatedBy]),
	}
	var err error
	if r.Until, err = parseTimeBytes(vals[memUntil], "until"); err != nil {
		return Record{}, err
	}
	if r.Before, err = parseTimeBytes(vals[memBefore], "before"); err != nil {
		return Record{}, err
	}
	if r.CreatedAt, err = parseTimeBytes(vals[memCreatedAt], "created_at"); err != nil {
		return Record{}, err
	}
	if err := r.Validate(); err != nil {
		return Record{}, err
	}
	return r, nil
}

// opOf returns the Op spelled b, without allocating for the three there are.
func opOf(b []byte) Op {
	switch string(b) {
	case string(OpBan):
		return OpBan
	case string(OpUnban):
		return OpUnban
	case string(OpRevoke):
		return OpRevoke
	}
	return Op(b)
}

// parseTimeBytes is parseTime on bytes, without allocating. A time is
// accepted when it formats back to exactly s, so any parser of RFC 3339
// that reads the canonical form right reads the same times: Time's
// UnmarshalText (strict RFC 3339) rather than time.Parse, which needs a
// string.
func parseTimeBytes(s []byte, field string) (time.Time, error) {
	if len(s) == 0 {
		return time.Time{}, nil
	}
	var t time.Time
	err := t.UnmarshalText(s)
	var buf [64]byte // formatted on the stack: no allocation for the comparison
	if err != nil || !bytes.Equal(t.UTC().AppendFormat(buf[:0], time.RFC3339Nano), s) {
		return time.Time{}, recordErr("%s: not a canonical RFC 3339 UTC time", field)
	}
	return t.UTC(), nil
}

// scanner reads a record's JSON text, b, from i.
type scanner struct {
	b       []byte
	i       int
	escaped []byte // the values of the strings with escapes, one after the other
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// eat skips c if it is next.
func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// null skips the literal null if it is next.
func (s *scanner) null() bool {
	if bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return true
	}
	return false
}

// str reads a JSON string, whose opening quote must be next, and returns
// its value: a part of b, or of s.escaped if it has escapes.
func (s *scanner) str() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\':
			return s.unescape(start)
		case c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// unescape reads on a string that starts at start (after its quote) and
// whose first escape is at s.i, decoding it as encoding/json does, but
// refusing a lone surrogate, as strictjson does (encoding/json would read
// it as U+FFFD).
func (s *scanner) unescape(start int) ([]byte, bool) {
	from := len(s.escaped)
	s.escaped = append(s.escaped, s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.escaped[from:], true
		case c < 0x20:
			return nil, false
		case c != '\\':
			s.escaped = append(s.escaped, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return nil, false
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			s.escaped = append(s.escaped, e)
		case 'b':
			s.escaped = append(s.escaped, '\b')
		case 'f':
			s.escaped = append(s.escaped, '\f')
		case 'n':
			s.escaped = append(s.escaped, '\n')
		case 'r':
			s.escaped = append(s.escaped, '\r')
		case 't':
			s.escaped = append(s.escaped, '\t')
		case 'u':
			r := s.hex4()
			if r < 0 {
				return nil, false
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xdc00 || !s.eat('\\') || !s.eat('u') {
					return nil, false // a low surrogate first, or a high one alone
				}
				lo := s.hex4()
				if lo < 0xdc00 || lo > 0xdfff {
					return nil, false
				}
				r = utf16.DecodeRune(r, lo)
			}
			s.escaped = utf8.AppendRune(s.escaped, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

// hex4 reads four hex digits, or returns -1.
func (s *scanner) hex4() rune {
	if len(s.b)-s.i < 4 {
		return -1
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	s.i += 4
	return r
}
