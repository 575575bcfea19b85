package cloudbasekey

import (
	"strings"
	"testing"
)

func TestCheckID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"env-1a2b3c", true},
		{"cloud1-0gxyz12345abcdef", true},
		{"key_1.2:3", true},
		{"環境", true},
		{strings.Repeat("k", MaxIDLength), true},
		{"", false},
		{strings.Repeat("k", MaxIDLength+1), false},
		{"a/@@/b", false},
		{"a b", false},
		{"a\tb", false},
		{`a"b`, false},
		{`a\b`, false},
		{"a\x7fb", false},
		{"a\u0085b", false},
		{"a\u2028b", false},
		{"a\xffb", false},
	}
	for _, tc := range tests {
		if err := CheckID(tc.id); (err == nil) != tc.ok {
			t.Errorf("CheckID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

func TestValidUID(t *testing.T) {
	allowed := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-#@~=*(){}[]:.,<>+"
	for c := 0; c < 256; c++ {
		uid := "abc" + string([]byte{byte(c)})
		if got, want := ValidUID(uid), strings.IndexByte(allowed, byte(c)) >= 0; got != want {
			t.Errorf("ValidUID(%q) = %v, want %v", uid, got, want)
		}
	}
	for n, want := range map[int]bool{0: false, 3: false, 4: true, 32: true, 33: false} {
		if got := ValidUID(strings.Repeat("a", n)); got != want {
			t.Errorf("ValidUID(%d chars) = %v", n, got)
		}
	}
}

func TestLooksLikeJSON(t *testing.T) {
	for in, want := range map[string]bool{`{}`: true, " \n\t{": true, "": false, "-----BEGIN": false, "[{}]": false} {
		if LooksLikeJSON([]byte(in)) != want {
			t.Errorf("LooksLikeJSON(%q) != %v", in, want)
		}
	}
}
