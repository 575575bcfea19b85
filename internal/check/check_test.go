package check

import (
	"errors"
	"strings"
	"testing"
)

func TestFieldError(t *testing.T) {
	tests := []struct {
		err  *FieldError
		want string
	}{
		{Field("seayoo", "GameID", "is required"), "seayoo: GameID is required"},
		{Item("seayoo", "Secrets", 1, `must start with "sk_"`), `seayoo: Secrets[1] must start with "sk_"`},
		{Item("twilio", "Keys.SID", 0, "is a duplicate"), "twilio: Keys[0].SID is a duplicate"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%q, want %q", got, tt.want)
		}
		var fe *FieldError
		if !errors.As(error(tt.err), &fe) || fe.Problem == "" {
			t.Errorf("%v is not a FieldError", tt.err)
		}
	}
}

func TestRules(t *testing.T) {
	for s, want := range map[string]string{
		"sk_secret": "", "sk_12345": "is too short", "TOPSECRET": "must start", "sk_secret\n": "must not contain",
	} {
		if got := SeayooSecret(s); !strings.HasPrefix(got, want) || (want == "") != (got == "") {
			t.Errorf("SeayooSecret(%q) = %q, want %q", s, got, want)
		}
	}
	for s, want := range map[string]string{
		"16-byte-secret!!": "", "short": "is too short", "": "is required", "sixteen bytes ok": "must not contain",
	} {
		if got := TwilioSecret(s); !strings.HasPrefix(got, want) || (want == "") != (got == "") {
			t.Errorf("TwilioSecret(%q) = %q, want %q", s, got, want)
		}
	}
	if SeayooGameID("xcom") != "" || SeayooGameID("") == "" || SeayooGameID(" xcom") == "" || SeayooGameID("x\x00") == "" {
		t.Error("SeayooGameID")
	}
	for in, want := range map[string]string{"": SeayooDefaultIssuer, "https://api.seayoo.io/": "https://api.seayoo.io", "http://127.0.0.1:8080": "http://127.0.0.1:8080"} {
		if got, ok := SeayooIssuer(in); !ok || got != want {
			t.Errorf("SeayooIssuer(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"api.seayoo.com", "ftp://x", "https://a b", "https://", "/"} {
		if _, ok := SeayooIssuer(in); ok {
			t.Errorf("SeayooIssuer(%q) accepted", in)
		}
	}
	if !TwilioSID("AC0123456789abcdef0123456789abcdef", "AC") || TwilioSID("AC0123456789ABCDEF0123456789abcdef", "AC") ||
		TwilioSID("SK0123456789abcdef0123456789abcdef", "AC") || TwilioSID("AC0123", "AC") {
		t.Error("TwilioSID")
	}
	if !ClaimName("reg_time") || ClaimName("Reg") || ClaimName("") || ClaimName(strings.Repeat("a", 65)) || ClaimName("a-b") {
		t.Error("ClaimName")
	}
	for _, s := range []string{"a\nb", "\x7f", "a\u0085", "a\u2028", "\xff"} {
		if CleanText(s) {
			t.Errorf("CleanText(%q)", s)
		}
	}
	if !CleanText("玩家 😀 \"q\"") || !CleanText("") {
		t.Error("CleanText refuses clean text")
	}
	if !TwilioRegion("ie1") || TwilioRegion("") || TwilioRegion("IE1") || TwilioRegion("us-east") || TwilioRegion(strings.Repeat("a", 17)) {
		t.Error("TwilioRegion")
	}
	if ZegoSecret(strings.Repeat("a", 32)) != "" || ZegoSecret(strings.Repeat("a", 31)) == "" || ZegoSecret(strings.Repeat("a", 31)+"\n") == "" {
		t.Error("ZegoSecret")
	}
	if !PrintableASCII("abc~!") || PrintableASCII("") || PrintableASCII("a b") || PrintableASCII("é") {
		t.Error("PrintableASCII")
	}
}
