package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	names := NewNames("sub", "identity", "room")
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		doc  string
		want error
	}{
		{`{}`, nil},
		{` {"sub":"a","x":[1,{"y":null}],"z":{"sub":1}} `, nil},
		{`{"a":"\ud83d\ude00","b":"\u00e9\"\\\/","c":-1.5e3,"d":true}`, nil},
		{`{"ıat":1,"İdentity":"x","identitY2":1}`, nil}, // no simple case folding to known names
		{`{"deep":` + deep(31) + `}`, nil},
		{`{"deep":` + deep(32) + `}`, ErrDepth},
		{`{"a":1,"a":2}`, ErrDuplicate},
		{`{"a":1,"\u0061":2}`, ErrDuplicate},
		{`{"ab":1,"AB":2}`, ErrDuplicate},
		{`{"x":{"s":1,"ſ":2}}`, ErrDuplicate},
		{`{"x":[{"k":1},{"k":1}]}`, nil}, // one member each
		{`{"SUB":"a"}`, ErrFoldedName},
		{`{"ſub":"a"}`, ErrFoldedName},
		{`{"x":[{"Room":1}]}`, ErrFoldedName},
		{`{"\u0053ub":"a"}`, ErrFoldedName},
		{`[]`, ErrNotObject},
		{`null`, ErrNotObject},
		{`"x"`, ErrNotObject},
		{``, ErrSyntax},
		{`{}x`, ErrSyntax},
		{`{}{}`, ErrSyntax},
		{`{"a":01}`, ErrSyntax},
		{"{\"a\":\"\x01\"}", ErrSyntax},
		{"{\"a\":\"\xff\"}", ErrUTF8},
		{"{\"a\":\"\xed\xa0\x80\"}", ErrUTF8},
		{`{"a":"\ud800"}`, ErrSurrogate},
		{`{"a":"\udc00"}`, ErrSurrogate},
		{`{"a":"\ud800\u0041"}`, ErrSurrogate},
		{`{"\ud800x":1}`, ErrSurrogate},
		{`{"a":"\\ud800"}`, nil}, // an escaped backslash, then text
	}
	for _, tt := range tests {
		if got := Check([]byte(tt.doc), names, nil); !errors.Is(got, tt.want) {
			t.Errorf("%q: %v, want %v", tt.doc, got, tt.want)
		}
	}
}

func TestCheckMembers(t *testing.T) {
	var got []string
	err := Check([]byte(` { "alg" : "HS\u0032", "x":{"alg":1}, "n" :null,"a":[1, 2] } `), nil, func(name, value string) {
		got = append(got, name+"="+value)
	})
	want := []string{`alg="HS\u0032"`, `x={"alg":1}`, `n=null`, `a=[1, 2]`}
	if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("%v %q", err, got)
	}
	if s, ok := String(`"HS\u0032"`); !ok || s != "HS2" {
		t.Errorf("String = %q %v", s, ok)
	}
	if _, ok := String(`12`); ok {
		t.Error("String accepts a number")
	}
}

func TestFold(t *testing.T) {
	for _, tt := range [][2]string{{"sub", "sub"}, {"SUB", "sub"}, {"ſub", "sub"}, {"\u212aid", "kid"}, {"Ü", "ü"}} {
		if f := fold(tt[0]); f != tt[1] && fold(tt[1]) != f {
			t.Errorf("fold(%q) = %q, fold(%q) = %q", tt[0], f, tt[1], fold(tt[1]))
		}
		if !strings.EqualFold(tt[0], tt[1]) {
			t.Errorf("%q and %q are not equal under folding", tt[0], tt[1])
		}
	}
}

// FuzzCheck compares Check with encoding/json: whatever Check accepts,
// encoding/json reads as an object without repeated or case-folded names
// (so a case-insensitive and a case-sensitive reader agree), and fold
// agrees with strings.EqualFold on every pair of names.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":"\u00e9"}],"A":1}`, `{"sub":1,"ſub":2}`, `{"a":"\ud83d\ude00"}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	names := NewNames("sub", "exp")
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := Check(doc, names, nil)
		if err != nil {
			return
		}
		if !utf8.Valid(doc) {
			t.Fatal("accepted invalid UTF-8")
		}
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var walk func(depth int) error
		walk = func(depth int) error {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			d, ok := tok.(json.Delim)
			if !ok {
				if s, ok := tok.(string); ok && strings.ContainsRune(s, utf8.RuneError) && !strings.Contains(string(doc), "\ufffd") && !strings.Contains(strings.ToLower(string(doc)), `\ufffd`) {
					t.Fatalf("a string reads as U+FFFD: %q", doc)
				}
				return nil
			}
			if depth >= MaxDepth {
				t.Fatalf("accepted depth %d", depth+1)
			}
			var seen []string
			for dec.More() {
				if d == '{' {
					k, err := dec.Token()
					if err != nil {
						return err
					}
					name := k.(string)
					for _, s := range seen {
						if strings.EqualFold(s, name) {
							t.Fatalf("accepted %q beside %q", name, s)
						}
					}
					for _, n := range []string{"sub", "exp"} {
						if name != n && strings.EqualFold(name, n) {
							t.Fatalf("accepted %q for %q", name, n)
						}
					}
					seen = append(seen, name)
				}
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		if err := walk(0); err != nil {
			t.Fatalf("encoding/json refuses an accepted document: %v", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("encoding/json sees more after the object: %v", err)
		}
	})
}
