package tokenhash

import (
	"crypto/sha256"
	"strings"
	"testing"
)

func TestSum(t *testing.T) {
	for _, tok := range []string{"", "a", strings.Repeat("x", bufLen), strings.Repeat("y", bufLen+1)} {
		if Sum(tok) != sha256.Sum256([]byte(tok)) {
			t.Errorf("Sum of a %d-byte token differs from SHA-256", len(tok))
		}
	}
	if s := Short("token"); len(s) != 12 {
		t.Errorf("Short = %q", s)
	}
	if n := testing.AllocsPerRun(100, func() { Sum("some token") }); n != 0 {
		t.Errorf("Sum allocates %v times", n)
	}
}
