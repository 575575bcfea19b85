package verifiers

import (
	"strings"
	"testing"
)

func TestFoldedKey(t *testing.T) {
	names := []string{"identity", "sub", "grants", "room"}
	cases := map[string]bool{
		`{"sub":"a","grants":{"identity":"x","video":{"room":"r"}}}`: false,
		`{"sub":"a","SUB":"b"}`: true,
		`{"Sub":"a"}`:           true,
		`{"ſub":"a"}`:           true,
		`{"grants":{"identity":"a","IDENTITY":"b"}}`:                         true,
		`{"grants":{"video":{"ROOM":"r"}}}`:                                  true,
		`{"list":["SUB","Identity"],"sub":"SUB"}`:                            false, // values are not names
		`{"other":{"Other":1},"x":[{"y":{"Sub":1}}]}`:                        true,
		`{"x":1,"sub":"a"}`:                                                  false,
		`{"unterminated":`:                                                   true,
		`{"deep":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`: true,
		`{}`: false,
	}
	for doc, want := range cases {
		if got := foldedKey([]byte(doc), names); got != want {
			t.Errorf("foldedKey(%s) = %v, want %v", doc, got, want)
		}
	}
}
