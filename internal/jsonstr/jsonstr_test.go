package jsonstr

import (
	"encoding/json"
	"testing"
)

func marshal(t testing.TB, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAppendMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "alice", `"quoted"`, `back\slash`, "tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f",
		"<script>&amp;</script>", "ünïcødé 峰 🎮", "line\u2028sep\u2029", "bad \xff utf8 \xc3", "\xed\xa0\x80",
		`{"room_id":"r<1>","privilege":{"1":1,"2":0}}`,
	} {
		if got, want := string(Append(nil, s)), marshal(t, s); got != want {
			t.Errorf("Append(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	if got := string(Append([]byte(`{"a":`), "x<y")); got != `{"a":"x\u003cy"` {
		t.Errorf("got %s", got)
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "alice", "<>&", "\u2028", "\xff", "峰", `{"room_id":"r"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(Append(nil, s)), marshal(t, s); got != want {
			t.Fatalf("Append(%q) = %s, want %s", s, got, want)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	s := "91231223346130001-user<name>"
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], s)
	}
}

func BenchmarkEncodingJSONFloor(b *testing.B) {
	s := "91231223346130001-user<name>"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(s); err != nil {
			b.Fatal(err)
		}
	}
}
