package verifiers

import (
	"strings"
	"unicode/utf8"
)

// The strict JSON scanner shared by the verifiers that parse attacker JSON
// themselves (Seayoo, ZEGO). encoding/json is too lenient for that input:
// it matches member names case-insensitively, keeps the last of duplicate
// members, and replaces invalid UTF-8 and unpaired surrogate escapes with
// U+FFFD. jsonScan accepts RFC 8259 JSON only, rejects what encoding/json
// would repair, reports spans instead of building values, and never
// allocates. Duplicate members are for the callers to refuse, each by its
// own rule.

// jsonText is what jsonScan reads: a string or a byte slice, so that each
// caller scans the representation it holds without a conversion.
type jsonText interface{ ~string | ~[]byte }

// jsonScan is a strict JSON (RFC 8259) scanner over one document: it
// accepts valid UTF-8 only, refuses unpaired surrogate escapes, and bounds
// nesting. Depth is counted in containers around a value, 0 for the
// top-level value: a container is refused when maxNest containers surround
// it, and any value when more than maxDepth do. (Seayoo bounds containers
// only, maxNest = maxDepth; ZEGO bounds values, maxNest = maxDepth+1, so
// that an empty container may sit at the deepest level.)
type jsonScan[T jsonText] struct {
	s                 T
	i                 int
	maxNest, maxDepth int
}

// jsonVal is one scanned JSON value of a document.
type jsonVal struct {
	// kind is '"' string, '0' number, '{' object, '[' array, 'b' true or
	// false, 'n' null.
	kind byte
	// esc is set for a string with backslash escapes, isInt for a number
	// without fraction or exponent, unclean for a string holding a
	// character jsonCleanRune refuses.
	esc, isInt, unclean bool
	// start and end delimit the value; for a string, its contents between
	// the quotes, still escaped.
	start, end int
}

// inside returns a scanner over the members or elements of v, a container
// that s scanned: its next member or element call reads the first one.
func (s *jsonScan[T]) inside(v jsonVal) jsonScan[T] {
	return jsonScan[T]{s: s.s[:v.end], i: v.start + 1, maxNest: s.maxNest, maxDepth: s.maxDepth}
}

// ws skips insignificant white space.
func (s *jsonScan[T]) ws() {
	for s.i < len(s.s) {
		switch s.s[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// eat consumes c if it is next.
func (s *jsonScan[T]) eat(c byte) bool {
	if s.i < len(s.s) && s.s[s.i] == c {
		s.i++
		return true
	}
	return false
}

// open skips white space and consumes c ('{' or '[') if it is next: the
// start of a top-level container, read with member or element at depth 1.
func (s *jsonScan[T]) open(c byte) bool {
	s.ws()
	return s.enter(c, 0)
}

// end skips trailing white space and reports whether the document ends.
func (s *jsonScan[T]) end() bool {
	s.ws()
	return s.i == len(s.s)
}

// member reads the next member of an object whose '{' was consumed, its
// members being at depth, into k and v. more is false once the closing '}'
// was consumed. (Results are written through pointers: returning two
// jsonVals costs more than scanning a short member.)
func (s *jsonScan[T]) member(first bool, depth int, k, v *jsonVal) (more, ok bool) {
	if more, ok = s.key(first, k); more {
		ok = s.read(depth, v)
		more = ok
	}
	return more, ok
}

// key reads the name of the next member of an object whose '{' was
// consumed into k, and the colon after it; the value is next, for read, or
// enter to walk a container. more is false once the closing '}' was
// consumed.
func (s *jsonScan[T]) key(first bool, k *jsonVal) (more, ok bool) {
	s.ws()
	if s.eat('}') {
		return false, true
	}
	if !first {
		if !s.eat(',') {
			return false, false
		}
		s.ws()
	}
	if s.i >= len(s.s) || s.s[s.i] != '"' || !s.str(k) {
		return false, false
	}
	s.ws()
	if !s.eat(':') {
		return false, false
	}
	s.ws()
	return true, true
}

// enter consumes the opening c ('{' or '[') of a container value at depth,
// whose members or elements the caller then reads at depth+1, as read
// would.
func (s *jsonScan[T]) enter(c byte, depth int) bool {
	return depth <= s.maxDepth && depth < s.maxNest && s.eat(c)
}

// peek returns the next byte, or 0 at the end.
func (s *jsonScan[T]) peek() byte {
	if s.i < len(s.s) {
		return s.s[s.i]
	}
	return 0
}

// element reads the next element of an array whose '[' was consumed, its
// elements being at depth, into v. more is false once the closing ']' was
// consumed.
func (s *jsonScan[T]) element(first bool, depth int, v *jsonVal) (more, ok bool) {
	s.ws()
	if s.eat(']') {
		return false, true
	}
	if !first {
		if !s.eat(',') {
			return false, false
		}
		s.ws()
	}
	ok = s.read(depth, v)
	return ok, ok
}

// value reads one value at depth (the number of containers around it).
func (s *jsonScan[T]) value(depth int) (v jsonVal, ok bool) {
	ok = s.read(depth, &v)
	return v, ok
}

// read reads one value at depth into v.
func (s *jsonScan[T]) read(depth int, v *jsonVal) bool {
	*v = jsonVal{start: s.i}
	if s.i >= len(s.s) || depth > s.maxDepth {
		return false
	}
	ok := false
	switch c := s.s[s.i]; {
	case c == '"':
		return s.str(v)
	case c == '{' || c == '[':
		if !s.enter(c, depth) {
			return false
		}
		v.kind = c
		var k, e jsonVal
		for first := true; ; first = false {
			var more bool
			if c == '{' {
				more, ok = s.member(first, depth+1, &k, &e)
			} else {
				more, ok = s.element(first, depth+1, &e)
			}
			if !ok {
				return false
			}
			if !more {
				break
			}
		}
	case c == 't':
		v.kind, ok = 'b', s.literal("true")
	case c == 'f':
		v.kind, ok = 'b', s.literal("false")
	case c == 'n':
		v.kind, ok = 'n', s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		v.kind = '0'
		v.isInt, ok = s.number()
	}
	v.end = s.i
	return ok
}

// literal consumes lit if it is next.
func (s *jsonScan[T]) literal(lit string) bool {
	if len(s.s)-s.i >= len(lit) && string(s.s[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// number consumes -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *jsonScan[T]) number() (isInt, ok bool) {
	s.eat('-')
	switch {
	case s.eat('0'):
	case s.i < len(s.s) && '1' <= s.s[s.i] && s.s[s.i] <= '9':
		s.digits()
	default:
		return false, false
	}
	isInt = true
	if s.eat('.') {
		isInt = false
		if s.digits() == 0 {
			return false, false
		}
	}
	if s.eat('e') || s.eat('E') {
		isInt = false
		if !s.eat('+') {
			s.eat('-')
		}
		if s.digits() == 0 {
			return false, false
		}
	}
	return isInt, true
}

// digits consumes [0-9]* and returns how many.
func (s *jsonScan[T]) digits() int {
	i := s.i
	for s.i < len(s.s) && '0' <= s.s[s.i] && s.s[s.i] <= '9' {
		s.i++
	}
	return s.i - i
}

// str consumes a string whose opening quote is next into v: the span of
// its contents.
func (s *jsonScan[T]) str(v *jsonVal) bool {
	s.i++
	v.kind, v.start = '"', s.i
	esc, unclean := false, false
	for s.i < len(s.s) {
		c := s.s[s.i]
		if jsonPlain[c] {
			s.i++
			continue
		}
		switch {
		case c == '"':
			v.end, v.esc, v.unclean = s.i, esc, unclean
			s.i++
			return true
		case c == '\\':
			esc = true
			if s.i+1 < len(s.s) {
				if u := jsonUnquote[s.s[s.i+1]]; u != 0 {
					unclean = unclean || u < 0x20
					s.i += 2
					continue
				}
			}
			r, n := jsonEscape(s.s[s.i:])
			if n == 0 {
				return false
			}
			unclean = unclean || !jsonCleanRune(r)
			s.i += n
		case c < 0x20:
			return false
		case c == 0x7f:
			unclean = true
			s.i++
		default: // not ASCII
			r, n := jsonDecodeRune(s.s[s.i:])
			if r == utf8.RuneError && n == 1 {
				return false
			}
			unclean = unclean || !jsonCleanRune(r)
			s.i += n
		}
	}
	return false
}

// jsonPlain marks the bytes that stand for themselves in a JSON string
// and are clean: printable ASCII but the quote and the backslash.
var jsonPlain = func() (t [256]bool) {
	for c := ' '; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// jsonUnquote maps the character after the backslash of a two-character
// escape to the byte it stands for; it is 0 for 'u' and invalid escapes.
var jsonUnquote = [256]byte{
	'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t',
}

// jsonDecodeRune is utf8.DecodeRune for either representation.
func jsonDecodeRune[T jsonText](s T) (rune, int) {
	var b [utf8.UTFMax]byte
	return utf8.DecodeRune(b[:copy(b[:], s)])
}

// jsonCleanRune reports whether r is not a C0 or C1 control character,
// DEL, or a line or paragraph separator: safe in a header or a log line.
func jsonCleanRune(r rune) bool {
	return r >= 0x20 && (r < 0x7f || r > 0x9f) && r != 0x2028 && r != 0x2029
}

// jsonEscape decodes the escape sequence at the start of s (s[0] is a
// backslash). A \u escape of a high surrogate must be followed by one of a
// low surrogate; the pair makes one rune. n is 0 if the escape is invalid.
func jsonEscape[T jsonText](s T) (r rune, n int) {
	if len(s) < 2 {
		return 0, 0
	}
	if u := jsonUnquote[s[1]]; u != 0 {
		return rune(u), 2
	}
	if s[1] != 'u' {
		return 0, 0
	}
	r, ok := jsonHex4(s[2:])
	switch {
	case !ok || 0xdc00 <= r && r <= 0xdfff:
		return 0, 0
	case r < 0xd800 || r > 0xdbff:
		return r, 6
	}
	if len(s) < 8 || s[6] != '\\' || s[7] != 'u' {
		return 0, 0
	}
	lo, ok := jsonHex4(s[8:])
	if !ok || lo < 0xdc00 || lo > 0xdfff {
		return 0, 0
	}
	return 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00), 12
}

// jsonHex4 decodes the four hex digits at the start of s.
func jsonHex4[T jsonText](s T) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for i := range 4 {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// jsonNextRune decodes the rune at raw[i], raw being the contents of a
// scanned (so valid) JSON string.
func jsonNextRune[T jsonText](raw T, i int) (rune, int) {
	if raw[i] == '\\' {
		return jsonEscape(raw[i:])
	}
	if raw[i] < utf8.RuneSelf {
		return rune(raw[i]), 1
	}
	return jsonDecodeRune(raw[i:])
}

// str returns the string value v of doc, unescaped, and whether it is clean
// (see jsonCleanRune). It shares doc's memory unless v has escapes.
func (v jsonVal) str(doc string) jsonStr {
	raw := doc[v.start:v.end]
	if v.esc {
		raw = jsonUnescape(raw)
	}
	return jsonStr{val: raw, clean: !v.unclean}
}

// jsonStr is a decoded JSON string and whether it is safe in a header.
type jsonStr struct {
	val   string
	clean bool
}

// jsonUnescape returns the value of raw, the contents of a scanned JSON
// string.
func jsonUnescape(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for {
		j := strings.IndexByte(raw, '\\')
		if j < 0 {
			b.WriteString(raw)
			return b.String()
		}
		b.WriteString(raw[:j])
		r, n := jsonEscape(raw[j:])
		b.WriteRune(r)
		raw = raw[j+n:]
	}
}

// jsonAppendUnescaped appends the value of raw, the contents of a scanned
// JSON string, to dst.
func jsonAppendUnescaped[T jsonText](dst []byte, raw T) []byte {
	for i := 0; i < len(raw); {
		switch c := raw[i]; {
		case c != '\\':
			dst = append(dst, c)
			i++
		case jsonUnquote[raw[i+1]] != 0:
			dst = append(dst, jsonUnquote[raw[i+1]])
			i += 2
		default:
			r, n := jsonEscape(raw[i:])
			dst = utf8.AppendRune(dst, r)
			i += n
		}
	}
	return dst
}

// jsonRawEqual reports whether raw, the contents of a scanned JSON string
// (escaped if esc), equals want, without allocating. want must be valid
// UTF-8.
func jsonRawEqual[T jsonText](raw T, esc bool, want string) bool {
	if !esc {
		return string(raw) == want
	}
	i, j := 0, 0
	for i < len(raw) {
		r, n := jsonNextRune(raw, i)
		if j >= len(want) {
			return false
		}
		w, m := utf8.DecodeRuneInString(want[j:])
		if r != w {
			return false
		}
		i, j = i+n, j+m
	}
	return j == len(want)
}

// jsonInt reads v, a scanned value of doc, as an integer: a JSON number
// without fraction or exponent in int64 range (as strconv.ParseInt).
func jsonInt[T jsonText](doc T, v jsonVal) (int64, bool) {
	if v.kind != '0' || !v.isInt {
		return 0, false
	}
	lit := doc[v.start:v.end]
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	limit := uint64(1<<63 - 1)
	if neg {
		limit++
	}
	var n uint64
	for i := 0; i < len(lit); i++ {
		d := uint64(lit[i] - '0')
		if i >= 18 && n > (limit-d)/10 { // 18 digits cannot overflow
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}
