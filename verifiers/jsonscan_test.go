package verifiers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The names the scanner tests of seayoo_test.go use, from before the
// scanner was shared.
type seayooScan = jsonScan[string]

func seayooRawEqual(raw string, esc bool, want string) bool { return jsonRawEqual(raw, esc, want) }

// jsonTestLimits are the nesting limits of the callers.
var jsonTestLimits = []struct {
	name              string
	maxNest, maxDepth int
}{
	{"seayoo", seayooMaxDepth, seayooMaxDepth},
	{"zego", zegoMaxDepth + 2, zegoMaxDepth + 1},
}

// jsonScanDoc scans doc as one JSON document (any value).
func jsonScanDoc[T jsonText](doc T, maxNest, maxDepth int) (jsonVal, bool) {
	s := jsonScan[T]{s: doc, maxNest: maxNest, maxDepth: maxDepth}
	s.ws()
	v, ok := s.value(0)
	return v, ok && s.end()
}

// jsonStream scans the next value at depth as ZEGO walks its payload:
// objects with key and enter, member by member, the rest with read.
func jsonStream[T jsonText](s *jsonScan[T], depth int) bool {
	if s.peek() != '{' {
		var v jsonVal
		return s.read(depth, &v)
	}
	if !s.enter('{', depth) {
		return false
	}
	var k jsonVal
	for first := true; ; first = false {
		more, ok := s.key(first, &k)
		if !ok || !more {
			return ok
		}
		if !jsonStream(s, depth+1) {
			return false
		}
	}
}

// jsonScanBoth scans doc as a string and as bytes, and by streaming, which
// must agree.
func jsonScanBoth(t *testing.T, doc string, maxNest, maxDepth int) (jsonVal, bool) {
	t.Helper()
	v, ok := jsonScanDoc(doc, maxNest, maxDepth)
	vb, okb := jsonScanDoc([]byte(doc), maxNest, maxDepth)
	if ok != okb || (ok && v != vb) {
		t.Fatalf("%q: string scan %v %+v, []byte scan %v %+v", doc, ok, v, okb, vb)
	}
	s := jsonScan[[]byte]{s: []byte(doc), maxNest: maxNest, maxDepth: maxDepth}
	s.ws()
	if streamed := jsonStream(&s, 0) && s.end(); streamed != ok {
		t.Fatalf("%q: scanned %v, streamed %v", doc, ok, streamed)
	}
	return v, ok
}

func TestJSONScan(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		kind byte // 0: refused
	}{
		{`{}`, '{'}, {` [ ] `, '['}, {"\t\r\n{\"a\" : [1, {\"b\":null}], \"c\":\"d\"}\n", '{'},
		{`"x"`, '"'}, {`-0.5e+7`, '0'}, {`true`, 'b'}, {`false`, 'b'}, {`null`, 'n'},
		{`"\u00e9\ud83d\ude00 峰"`, '"'}, {`{"a":1,"a":2}`, '{'}, // duplicates are the callers' business
		{``, 0}, {` `, 0}, {`{`, 0}, {`}`, 0}, {`{"a"}`, 0}, {`{"a":}`, 0}, {`{"a":1,}`, 0}, {`[1,]`, 0},
		{`[,1]`, 0}, {`{,}`, 0}, {`{1:2}`, 0}, {`{'a':1}`, 0}, {`{"a":1 "b":2}`, 0}, {`[1 2]`, 0},
		{`{} {}`, 0}, {`{}x`, 0}, {`tru`, 0}, {`True`, 0}, {`nul`, 0}, {`nullx`, 0}, {`NaN`, 0},
		{`01`, 0}, {`+1`, 0}, {`.5`, 0}, {`1.`, 0}, {`1e`, 0}, {`-`, 0}, {`0x1`, 0},
		{"\"\x00\"", 0}, {"\"a\nb\"", 0}, {"\"\x7f\"", '"'}, {`"\a"`, 0}, {`"\u12"`, 0}, {`"\U0041"`, 0},
		{"\u00a0{}", 0}, {"\ufeff{}", 0}, {"{}\x00", 0},
		// What encoding/json repairs: invalid UTF-8, lone surrogates.
		{"\"\xff\"", 0}, {"\"\xc3\"", 0}, {"\"\xc0\xaf\"", 0}, {"\"\xed\xa0\x80\"", 0}, {"\"\xf4\x90\x80\x80\"", 0},
		{`"\ud800"`, 0}, {`"\udc00"`, 0}, {`"\ude00\ud83d"`, 0}, {`"\ud83d\u0041"`, 0}, {`"\ud83d\ud83d"`, 0},
		{`"\ud83d"x`, 0}, {`"\ud83d\"`, 0}, {`{"\udfff":1}`, 0}, {"\"\xef\xbf\xbd\"", '"'}, {`"\ufffd"`, '"'},
	} {
		for _, l := range jsonTestLimits {
			v, ok := jsonScanBoth(t, tc.doc, l.maxNest, l.maxDepth)
			if ok != (tc.kind != 0) || (ok && v.kind != tc.kind) {
				t.Errorf("%s %q: ok %v kind %q, want kind %q", l.name, tc.doc, ok, v.kind, tc.kind)
			}
			if ok && (!json.Valid([]byte(tc.doc)) || !utf8.ValidString(tc.doc)) {
				t.Errorf("%q accepted, but it is not valid JSON in valid UTF-8", tc.doc)
			}
		}
	}
}

// TestJSONScanDepth checks both callers' nesting limits at their edges.
func TestJSONScanDepth(t *testing.T) {
	nest := func(n int, inner string) string {
		return strings.Repeat(`[`, n) + inner + strings.Repeat(`]`, n)
	}
	for _, tc := range []struct {
		doc               string
		maxNest, maxDepth int
		want              bool
	}{
		// Seayoo: 32 levels of containers, whatever they hold.
		{nest(32, ""), 32, 32, true},
		{nest(32, "1"), 32, 32, true},
		{nest(30, `{"a":{}}`), 32, 32, true},
		{nest(30, `{"a":{"b":1}}`), 32, 32, true},
		{nest(33, ""), 32, 32, false},
		{nest(32, "[]"), 32, 32, false},
		{nest(31, `{"a":{}}`), 32, 32, false},
		// ZEGO: a value within 17 containers; so an 18th must be empty.
		{nest(17, "1"), 18, 17, true},
		{nest(18, ""), 18, 17, true},
		{nest(16, `{"a":{}}`), 18, 17, true},
		{nest(18, "1"), 18, 17, false},
		{nest(19, ""), 18, 17, false},
		{nest(16, `{"a":{"b":1}}`), 18, 17, false},
		{nest(17, `{"a":1}`), 18, 17, false},
		{nest(17, `{}`), 18, 17, true},
		// The zero value takes no container.
		{`1`, 0, 0, true},
		{`[]`, 0, 0, false},
	} {
		if _, ok := jsonScanBoth(t, tc.doc, tc.maxNest, tc.maxDepth); ok != tc.want {
			t.Errorf("limits %d/%d, %s: ok = %v", tc.maxNest, tc.maxDepth, tc.doc, ok)
		}
	}
}

func TestJSONInt(t *testing.T) {
	for _, lit := range []string{
		"0", "-0", "1", "-1", "42", "9223372036854775807", "-9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616",
		"99999999999999999999", "100000000000000000000", "1.0", "1e3", "-1E0",
	} {
		v, ok := jsonScanBoth(t, lit, 0, 0)
		if !ok || v.kind != '0' {
			t.Fatalf("%s: not scanned as a number", lit)
		}
		want, err := strconv.ParseInt(lit, 10, 64)
		n, ok := jsonInt(lit, v)
		nb, okb := jsonInt([]byte(lit), v)
		if ok != (err == nil) || n != nb || ok != okb || (ok && n != want) {
			t.Errorf("%s: jsonInt = %d, %v (bytes %d, %v); strconv.ParseInt = %d, %v", lit, n, ok, nb, okb, want, err)
		}
		// ZEGO's integers are symmetric, as they always were.
		zn, zok := zegoInt([]byte(lit), v)
		if zwant := err == nil && want != math.MinInt64; zok != zwant || (zok && zn != want) {
			t.Errorf("%s: zegoInt = %d, %v", lit, zn, zok)
		}
	}
	if _, ok := jsonInt(`"1"`, jsonVal{kind: '"', start: 1, end: 2}); ok {
		t.Error("jsonInt read a string")
	}
}

// TestJSONStrings checks string decoding and comparison, in both
// representations, against encoding/json.
func TestJSONStrings(t *testing.T) {
	for _, lit := range []string{
		`""`, `"plain"`, `"\"\\\/\b\f\n\r\t"`, `"\u0000\u001f\u007f\u0080\u009f\u00a0"`, `"\u00e9\u5CF0"`,
		`"\ud83d\ude00"`, `"\uD83D\uDE00x"`, `"峰😀"`, `"a\u2028b"`, "\"a\u2029b\"", `"\ufffd"`, "\"\x7f\"",
		`"x\\"`, `"\\u0041"`, `"\/\/"`, `"ab\u0063de\u0066"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			t.Fatal(err)
		}
		v, ok := jsonScanBoth(t, lit, 0, 0)
		if !ok || v.kind != '"' {
			t.Fatalf("%s: not scanned as a string", lit)
		}
		if v.esc != strings.Contains(lit, `\`) || v.unclean == seayooCleanString(want) {
			t.Errorf("%s: esc %v unclean %v", lit, v.esc, v.unclean)
		}
		raw := lit[v.start:v.end]
		if got := v.str(lit); got.val != want || got.clean != seayooCleanString(want) {
			t.Errorf("%s: str = %+v, want %q", lit, got, want)
		}
		if got := string(jsonAppendUnescaped([]byte("pre"), []byte(raw))); got != "pre"+want {
			t.Errorf("%s: jsonAppendUnescaped = %q", lit, got)
		}
		for _, w := range []string{want, want + "x", "x" + want, strings.ToUpper(want), ""} {
			eq := w == want
			if jsonRawEqual(raw, v.esc, w) != eq || jsonRawEqual([]byte(raw), v.esc, w) != eq {
				t.Errorf("%s: jsonRawEqual(%q) != %v", lit, w, eq)
			}
		}
	}
}

// TestJSONScanAllocs: scanning and comparing allocate nothing, in either
// representation.
func TestJSONScanAllocs(t *testing.T) {
	doc := `{"a\u00e9":[1,-2.5e3,true,null,"x\ud83d\ude00峰"],"b":{"c":"\"HS256\""},"n":-9223372036854775808}`
	docB := []byte(doc)
	allocs := testing.AllocsPerRun(100, func() {
		for _, l := range jsonTestLimits {
			v, ok := jsonScanDoc(doc, l.maxNest, l.maxDepth)
			vb, okb := jsonScanDoc(docB, l.maxNest, l.maxDepth)
			if !ok || !okb || v != vb {
				panic("not scanned")
			}
		}
		s := jsonScan[[]byte]{s: docB, maxNest: 2, maxDepth: 2}
		if !s.open('{') {
			panic("no object")
		}
		var n int64
		var k, v jsonVal
		for first := true; ; first = false {
			more, ok := s.member(first, 1, &k, &v)
			if !ok {
				panic("bad member")
			}
			if !more {
				break
			}
			if jsonRawEqual(docB[k.start:k.end], k.esc, "aé") && jsonRawEqual(doc[k.start:k.end], k.esc, "aé") {
				n++
			}
			if i, ok := jsonInt(docB, v); ok && i == math.MinInt64 {
				n++
			}
		}
		if n != 2 {
			panic("wrong values")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
}

// TestJSONCallersRefuseDuplicates: the callers refuse duplicate members
// where their rules say so, escaped spellings included.
func TestJSONCallersRefuseDuplicates(t *testing.T) {
	for _, doc := range []string{
		`{"sub":"a","sub":"b"}`, `{"sub":"a","s\u0075b":"b"}`, `{"x":1,"\u0078":2}`, `{"exp":null,"exp":1}`,
	} {
		var c seayooClaims
		if err := c.parse(doc, "g"); err == nil || err.Reason != "duplicate claim" {
			t.Errorf("seayoo %s: %v", doc, err)
		}
	}
	for _, doc := range []string{`{"alg":"HS256","alg":"HS256"}`, `{"alg":"HS256","\u0061lg":"HS256"}`} {
		if err := seayooCheckHeader([]byte(doc)); err == nil {
			t.Errorf("seayoo header %s accepted", doc)
		}
	}
	plain := zegoPlainJSON("")
	if _, ok := zegoParsePlain([]byte(plain), nil); !ok {
		t.Fatal("zego plaintext refused")
	}
	for _, dup := range []string{`"nonce":1,`, `"n\u006fnce":1,`} {
		if _, ok := zegoParsePlain([]byte(strings.Replace(plain, "{", "{"+dup, 1)), nil); ok {
			t.Errorf("zego plaintext with %s accepted", dup)
		}
	}
	for _, doc := range []string{
		`{"room_id":"a","room_\u0069d":"a"}`, `{"privilege":null,"privilege":null}`,
		`{"stream_id_list":[],"stream_id_list":null}`, `{"privilege":{"1":1,"\u0031":1}}`,
	} {
		if zegoParsePayload([]byte(doc), nil, new(zegoPrivilege)) {
			t.Errorf("zego payload %s accepted", doc)
		}
	}
}

// jsonModel is what encoding/json, plus independent checks, says of a
// document that it reads as valid.
type jsonModel struct {
	value         any
	nest, depth   int             // most containers nested; most containers around a value
	dupKeys       bool            // some object has a member name twice
	topDups       map[string]bool // the names the top-level object repeats
	loneSurrogate bool
}

// jsonEscapeRE matches one escape sequence; in valid JSON, backslashes
// only start escapes.
var jsonEscapeRE = regexp.MustCompile(`\\(?:u([0-9a-fA-F]{4})|[^u])`)

// jsonReference models doc with encoding/json, or returns an error if it
// is not valid JSON.
func jsonReference(doc []byte) (*jsonModel, error) {
	if !json.Valid(doc) {
		return nil, errors.New("invalid")
	}
	m := &jsonModel{topDups: map[string]bool{}}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&m.value); err != nil {
		return nil, err
	}
	type frame struct {
		obj, key bool
		names    map[string]bool
	}
	var stack []frame
	dec = json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].obj {
			if top := &stack[n-1]; top.key {
				top.key = false
				name := tok.(string)
				if top.names[name] {
					m.dupKeys = true
					if n == 1 {
						m.topDups[name] = true
					}
				}
				top.names[name] = true
				continue
			}
			stack[n-1].key = true
		}
		m.depth = max(m.depth, len(stack))
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, frame{obj: d == '{', key: d == '{', names: map[string]bool{}})
			m.nest = max(m.nest, len(stack))
		}
	}
	esc := jsonEscapeRE.FindAllSubmatchIndex(doc, -1)
	for i := 0; i < len(esc); i++ {
		if esc[i][2] < 0 {
			continue
		}
		r, _ := strconv.ParseUint(string(doc[esc[i][2]:esc[i][3]]), 16, 32)
		switch {
		case 0xdc00 <= r && r <= 0xdfff:
			m.loneSurrogate = true
		case 0xd800 <= r && r <= 0xdbff:
			if i+1 == len(esc) || esc[i+1][0] != esc[i][1] || esc[i+1][2] < 0 {
				m.loneSurrogate = true
				continue
			}
			lo, _ := strconv.ParseUint(string(doc[esc[i+1][2]:esc[i+1][3]]), 16, 32)
			if lo < 0xdc00 || lo > 0xdfff {
				m.loneSurrogate = true
				continue
			}
			i++
		}
	}
	return m, nil
}

// jsonBuild decodes the value v that s scanned, checking the helpers on
// every string and number on the way. dup reports a repeated member name.
func jsonBuild(t *testing.T, s *jsonScan[string], v jsonVal, depth int) (val any, dup bool) {
	doc := s.s
	switch v.kind {
	case '"':
		str := v.str(doc)
		raw := doc[v.start:v.end]
		if str.clean != seayooCleanString(str.val) || v.esc != strings.Contains(raw, `\`) {
			t.Fatalf("%q: clean %v esc %v", raw, str.clean, v.esc)
		}
		if !jsonRawEqual(raw, v.esc, str.val) || jsonRawEqual(raw, v.esc, str.val+"x") ||
			!jsonRawEqual([]byte(raw), v.esc, str.val) || string(jsonAppendUnescaped(nil, []byte(raw))) != str.val {
			t.Fatalf("%q: the string helpers disagree on %q", raw, str.val)
		}
		return str.val, false
	case '0':
		lit := doc[v.start:v.end]
		if v.isInt == strings.ContainsAny(lit, ".eE") {
			t.Fatalf("%s: isInt %v", lit, v.isInt)
		}
		n, ok := jsonInt(doc, v)
		want, err := strconv.ParseInt(lit, 10, 64)
		if ok != (err == nil) || (ok && n != want) {
			t.Fatalf("%s: jsonInt %d %v, strconv %d %v", lit, n, ok, want, err)
		}
		return json.Number(lit), false
	case 'b':
		return doc[v.start:v.end] == "true", false
	case 'n':
		if doc[v.start:v.end] != "null" {
			t.Fatalf("%s scanned as null", doc[v.start:v.end])
		}
		return nil, false
	case '[':
		in := s.inside(v)
		arr := []any{}
		for first := true; ; first = false {
			var e jsonVal
			more, ok := in.element(first, depth+1, &e)
			if !ok {
				t.Fatalf("array %s does not scan again", doc[v.start:v.end])
			}
			if !more {
				return arr, dup
			}
			ev, d := jsonBuild(t, &in, e, depth+1)
			arr, dup = append(arr, ev), dup || d
		}
	case '{':
		in := s.inside(v)
		obj := map[string]any{}
		for first := true; ; first = false {
			var k, e jsonVal
			more, ok := in.member(first, depth+1, &k, &e)
			if !ok {
				t.Fatalf("object %s does not scan again", doc[v.start:v.end])
			}
			if !more {
				return obj, dup
			}
			name := k.str(doc).val
			if _, seen := obj[name]; seen {
				dup = true
			}
			ev, d := jsonBuild(t, &in, e, depth+1)
			obj[name], dup = ev, dup || d // the last one wins, as in encoding/json
		}
	}
	t.Fatalf("kind %q", v.kind)
	return nil, false
}

// FuzzJSONScan checks the scanner against encoding/json: on valid JSON in
// valid UTF-8 without unpaired surrogate escapes, within the nesting
// limits, it must agree; it must refuse everything else. The callers must
// refuse a repeated top-level member.
func FuzzJSONScan(f *testing.F) {
	for _, seed := range []string{
		`{"a":[1,-2.5e3,true,false,null,"x"],"b":{"c":{}},"\u0064":"\ud83d\ude00\u2028\n"}`,
		`{"a":1,"a":2}`, `{"a":1,"\u0061":{"b":1,"b":2}}`, `[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		"\"\xff\"", `"\ud800"`, `"\udc00\ud800"`, `"\\ud800"`, `"\\\ud800"`, `-0`, `1e400`, `-9223372036854775808`,
		` {"iss":"https:\/\/api.seayoo.com","exp":1,"sub":"1","Sub":"2"} `,
		`{"room_id":"r1","privilege":{"1":1,"2":0,"1":1},"stream_id_list":["a"]}`,
		zegoPlainJSON(""), `{`, `[1,]`, `tru`, "{}\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) > 16<<10 {
			return
		}
		ref, refErr := jsonReference(doc)
		strict := refErr == nil && utf8.Valid(doc) && !ref.loneSurrogate
		for _, l := range jsonTestLimits {
			v, ok := jsonScanBoth(t, string(doc), l.maxNest, l.maxDepth)
			if !strict {
				if ok {
					t.Fatalf("%s: accepted %q (encoding/json: %v, UTF-8 %v, lone surrogate %v)",
						l.name, doc, refErr, utf8.Valid(doc), ref != nil && ref.loneSurrogate)
				}
				continue
			}
			within := ref.nest <= l.maxNest && ref.depth <= l.maxDepth
			if ok != within {
				t.Fatalf("%s: ok = %v for %q, nesting %d, depth %d", l.name, ok, doc, ref.nest, ref.depth)
			}
			if !ok {
				continue
			}
			s := jsonScan[string]{s: string(doc), maxNest: l.maxNest, maxDepth: l.maxDepth}
			got, dup := jsonBuild(t, &s, v, 0)
			if dup != ref.dupKeys {
				t.Fatalf("%q: repeated names %v, encoding/json tokens %v", doc, dup, ref.dupKeys)
			}
			if !reflect.DeepEqual(got, ref.value) {
				t.Fatalf("%q:\n scanner %#v\nencoding/json %#v", doc, got, ref.value)
			}
		}
		if ref == nil || len(ref.topDups) == 0 {
			return
		}
		// Seayoo claims and ZEGO plaintexts refuse any repeated member;
		// a Seayoo header a repeated alg, a ZEGO payload its known ones.
		var c seayooClaims
		if err := c.parse(string(doc), "g"); err == nil {
			t.Fatalf("seayoo accepted claims with a repeated member: %q", doc)
		}
		if _, ok := zegoParsePlain(doc, nil); ok {
			t.Fatalf("zego accepted a plaintext with a repeated member: %q", doc)
		}
		if ref.topDups["alg"] && seayooCheckHeader(doc) == nil {
			t.Fatalf("seayoo accepted a header with a repeated alg: %q", doc)
		}
		if (ref.topDups["room_id"] || ref.topDups["privilege"] || ref.topDups["stream_id_list"]) &&
			zegoParsePayload(doc, nil, new(zegoPrivilege)) {
			t.Fatalf("zego accepted a payload with a repeated known member: %q", doc)
		}
	})
}
