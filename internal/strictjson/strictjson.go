// Package strictjson refuses the JSON documents that two readers may read
// differently, before encoding/json decodes attacker input into a struct.
//
// encoding/json matches member names without regard to case, keeps the
// last of repeated members and silently replaces invalid UTF-8 and lone
// surrogate escapes with U+FFFD, where JavaScript's JSON.parse (which the
// vendors' own libraries use) is case-sensitive and keeps other values. A
// document that passes Check reads the same in both: it is a JSON object in
// valid UTF-8, without lone surrogates, nested at most MaxDepth deep, no
// object of which has two members whose names are equal under Unicode case
// folding, and none of whose member names equals a name the caller reads
// only under case folding ("SUB" or "ſub" for "sub").
//
// The grammar is encoding/json's (json.Valid); this package only walks the
// valid document to look at member names, nesting and string escapes.
package strictjson

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDepth bounds nesting: at most this many containers inside each other,
// the top-level object included.
const MaxDepth = 32

// The errors of Check.
var (
	ErrSyntax     = errors.New("strictjson: not JSON")
	ErrUTF8       = errors.New("strictjson: invalid UTF-8")
	ErrNotObject  = errors.New("strictjson: not a JSON object")
	ErrDepth      = errors.New("strictjson: nested too deep")
	ErrSurrogate  = errors.New("strictjson: lone surrogate escape")
	ErrDuplicate  = errors.New("strictjson: member names equal under case folding")
	ErrFoldedName = errors.New("strictjson: member name differs from a known one only in case")
)

// Names is a set of member names that a decoder reads, to be spelled
// exactly. It is immutable and safe for concurrent use.
type Names struct {
	byFold map[string]string
}

// NewNames returns the set of the given names.
func NewNames(names ...string) *Names {
	n := &Names{byFold: make(map[string]string, len(names))}
	for _, name := range names {
		n.byFold[fold(name)] = name
	}
	return n
}

// Check returns nil if doc is a strict JSON object (see the package
// documentation), names being the member names the caller reads, at any
// depth (nil for none). If member is not nil, it is called for each member
// of the top-level object, in order, with its name and the JSON text of
// its value, which share the memory of one copy of doc.
func Check(doc []byte, names *Names, member func(name, value string)) error {
	if !json.Valid(doc) {
		return ErrSyntax
	}
	if !utf8.Valid(doc) {
		return ErrUTF8
	}
	w := walker{s: string(doc), names: names, member: member, keys: make([]key, 0, 16)}
	w.ws()
	if w.peek() != '{' {
		return ErrNotObject
	}
	if err := w.value(0); err != nil {
		return err
	}
	slices.SortFunc(w.keys, func(a, b key) int {
		if a.object != b.object {
			return a.object - b.object
		}
		return strings.Compare(a.folded, b.folded)
	})
	for i := 1; i < len(w.keys); i++ {
		if w.keys[i] == w.keys[i-1] {
			return ErrDuplicate
		}
	}
	return nil
}

// String returns the value of value, the JSON text of a string in a
// document that passed Check, and whether it is a string at all.
func String(value string) (string, bool) {
	if len(value) < 2 || value[0] != '"' {
		return "", false
	}
	if strings.IndexByte(value, '\\') < 0 {
		return value[1 : len(value)-1], true
	}
	var s string
	err := json.Unmarshal([]byte(value), &s)
	return s, err == nil
}

// key is a member name, case-folded, in the object numbered object.
type key struct {
	object int
	folded string
}

// walker walks a document that json.Valid accepted.
type walker struct {
	s       string
	i       int
	objects int
	keys    []key
	names   *Names
	member  func(name, value string)
}

func (w *walker) peek() byte {
	if w.i < len(w.s) {
		return w.s[w.i]
	}
	return 0
}

func (w *walker) ws() {
	for w.i < len(w.s) && (w.s[w.i] == ' ' || w.s[w.i] == '\t' || w.s[w.i] == '\n' || w.s[w.i] == '\r') {
		w.i++
	}
}

// value walks one value, which depth containers surround.
func (w *walker) value(depth int) error {
	w.ws()
	switch c := w.peek(); c {
	case '"':
		return w.str()
	case '{', '[':
		if depth >= MaxDepth {
			return ErrDepth
		}
		w.i++
		object := w.objects
		if c == '{' {
			w.objects++
		}
		for {
			w.ws()
			if end := w.peek(); end == '}' || end == ']' || end == 0 {
				w.i++
				return nil
			}
			name, err := "", error(nil)
			if c == '{' {
				if name, err = w.memberName(object); err != nil {
					return err
				}
			}
			w.ws()
			start := w.i
			if err := w.value(depth + 1); err != nil {
				return err
			}
			if c == '{' && depth == 0 && w.member != nil {
				w.member(name, w.s[start:w.i])
			}
			w.ws()
			if w.peek() == ',' {
				w.i++
			}
		}
	default: // a number or a literal: up to the next delimiter
		for w.i < len(w.s) && !strings.ContainsRune(",]} \t\r\n", rune(w.s[w.i])) {
			w.i++
		}
		return nil
	}
}

// memberName walks a member name and its colon, in the object numbered
// object, checks it against w.names and records it.
func (w *walker) memberName(object int) (string, error) {
	start := w.i
	if err := w.str(); err != nil {
		return "", err
	}
	name, _ := String(w.s[start:w.i])
	f := fold(name)
	if exact, ok := w.names.exact(f); ok && exact != name {
		return "", ErrFoldedName
	}
	w.keys = append(w.keys, key{object: object, folded: f})
	w.ws()
	w.i++ // the colon
	return name, nil
}

// Has reports whether name is in n, spelled exactly.
func (n *Names) Has(name string) bool {
	exact, ok := n.exact(fold(name))
	return ok && exact == name
}

// exact returns the name of n whose case folding is f.
func (n *Names) exact(f string) (string, bool) {
	if n == nil {
		return "", false
	}
	name, ok := n.byFold[f]
	return name, ok
}

// str walks a string whose opening quote is next, refusing a lone
// surrogate escape (encoding/json would read it as U+FFFD).
func (w *walker) str() error {
	w.i++
	for w.i < len(w.s) {
		switch w.s[w.i] {
		case '"':
			w.i++
			return nil
		case '\\':
			if w.peekAt(1) != 'u' {
				w.i += 2
				continue
			}
			r := w.hex4(2)
			switch {
			case 0xdc00 <= r && r <= 0xdfff:
				return ErrSurrogate
			case 0xd800 <= r && r <= 0xdbff:
				if w.peekAt(6) != '\\' || w.peekAt(7) != 'u' {
					return ErrSurrogate
				}
				if lo := w.hex4(8); lo < 0xdc00 || lo > 0xdfff {
					return ErrSurrogate
				}
				w.i += 12
			default:
				w.i += 6
			}
		default:
			w.i++
		}
	}
	return ErrSyntax
}

func (w *walker) peekAt(off int) byte {
	if w.i+off < len(w.s) {
		return w.s[w.i+off]
	}
	return 0
}

// hex4 reads the four hex digits at w.i+off (json.Valid checked them).
func (w *walker) hex4(off int) rune {
	var r rune
	for k := range 4 {
		c := rune(w.peekAt(off + k))
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | c
	}
	return r
}

// fold returns one spelling for all the strings strings.EqualFold holds
// equal to s: each rune is replaced by the smallest of its simple case
// folding orbit, ASCII capitals then by their lower case ("ſub" and "SUB"
// become "sub"). It returns s itself when s is lower-case ASCII.
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			var b strings.Builder
			b.Grow(len(s))
			for _, r := range s {
				b.WriteRune(foldRune(r))
			}
			return b.String()
		}
	}
	return s
}

func foldRune(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < least {
			least = f
		}
	}
	if 'A' <= least && least <= 'Z' {
		least += 'a' - 'A'
	}
	return least
}
