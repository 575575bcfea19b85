package bans

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gameauth/caddy-gameauth/internal/strictjson"
)

// The former ParseRecord, kept as the reference FuzzRecordDifferential holds
// record_parse.go's parser to.

var wireNames = strictjson.NewNames("v", "op", "provider", "subject", "until", "before", "reason", "created_by", "created_at")

// parseRecordReference is ParseRecord as it was before record_parse.go:
// encoding/json's Decoder after strictjson.Check. It reads one stored
// record strictly: at most MaxRecordSize bytes, one JSON object in valid
// UTF-8 with no duplicate, case-folded or unknown member, version 1, and a
// Record that passes Validate.
func parseRecordReference(b []byte) (Record, error) {
	if len(b) > MaxRecordSize {
		return Record{}, recordErr("too large")
	}
	if err := strictjson.Check(b, wireNames, nil); err != nil {
		return Record{}, recordErr("%v", err)
	}
	var w wire
	if err := decodeStrict(b, &w); err != nil {
		return Record{}, err
	}
	if w.V != 1 {
		return Record{}, recordErr("version %d", w.V)
	}
	r := Record{Op: w.Op, Provider: w.Provider, Subject: w.Subject, Reason: w.Reason, CreatedBy: w.CreatedBy}
	var err error
	if r.Until, err = parseTime(w.Until, "until"); err != nil {
		return Record{}, err
	}
	if r.Before, err = parseTime(w.Before, "before"); err != nil {
		return Record{}, err
	}
	if r.CreatedAt, err = parseTime(w.CreatedAt, "created_at"); err != nil {
		return Record{}, err
	}
	if err := r.Validate(); err != nil {
		return Record{}, err
	}
	return r, nil
}

// differentialSeeds are records on the edges of what the two parsers must
// agree on: escapes, surrogates, nulls, numbers, whitespace, member names,
// UTF-8, sizes and times.
func differentialSeeds() []string {
	ok := recordOK
	full := `{"v":1,"op":"ban","provider":"seayoo","subject":"1001","until":"2026-12-31T00:00:00Z","reason":"cheating","created_by":"gm","created_at":"2026-12-03T12:00:00.5Z"}`
	rev := `{"v":1,"op":"revoke","provider":"zego","subject":"z","before":"2026-12-03T12:05:00Z","created_at":"2026-12-03T12:00:00Z"}`
	sub := func(v string) string { return strings.Replace(ok, `"subject":"s"`, `"subject":`+v, 1) }
	at := func(v string) string { return strings.Replace(ok, `"2026-12-03T12:00:00Z"`, `"`+v+`"`, 1) }
	seeds := []string{
		ok, full, rev, "", " ", "{}", "{", "}", "null", `"x"`, "1", "[]", `{"v":1}`,
		" \t\r\n" + ok + " \t\r\n", ok + "\n\n", ok + "\v", ok + "\x00", ok + ",", ok + "}", "\ufeff" + ok,
		`{ "v" : 1 , "op" : "ban" , "provider" : "seayoo" , "subject" : "s" , "created_at" : "2026-12-03T12:00:00Z" }`,
		"{\n\t\"v\":\r1,\"op\":\"ban\",\"provider\":\"seayoo\",\"subject\":\"s\",\"created_at\":\"2026-12-03T12:00:00Z\"\n}",
		strings.Replace(ok, `}`, `,}`, 1),
		strings.Replace(ok, `,`, `,,`, 1),
		strings.Replace(ok, `:`, `::`, 1),
		strings.Replace(ok, `"v":1`, `"v" 1`, 1),
		strings.Replace(ok, `"v":1,`, ``, 1),
		strings.Replace(ok, `"v":1,`, ``, 1) + `,"v":1`,
		strings.Replace(ok, `"v":1,`, `"op":"ban",`, 1) + `,"v":1`,
		strings.Replace(ok, `"v":1,`, `"created_at":"2026-12-03T12:00:00Z","v":1,`, 1),
	}
	for _, v := range []string{"1.0", "1e0", "1E0", "10", "-1", "01", "1.", "+1", `"1"`, "true", "false", "null", "{}", "[]", "[1]", "1 1", "0", "-0", "1.5", "99999999999999999999", "nul", "nulls"} {
		seeds = append(seeds, strings.Replace(ok, `"v":1`, `"v":`+v, 1))
	}
	for _, name := range []string{`"\u0076"`, `"\u0056"`, `"V"`, `"v "`, `"v\u0000"`, `"\/v"`, `""`, `"admin"`} {
		seeds = append(seeds, strings.Replace(ok, `"v"`, name, 1))
	}
	for _, name := range []string{`"s\u0075bject"`, `"\u0073\u0075\u0062\u006a\u0065\u0063\u0074"`, `"Subject"`, `"SUBJECT"`, `"ſubject"`, `"subjecT"`, `"subject\u0000"`, `"s\ud800ubject"`} {
		seeds = append(seeds, strings.Replace(ok, `"subject"`, name, 1))
	}
	for _, m := range []string{"op", "provider", "subject", "until", "before", "reason", "created_by", "created_at"} {
		for _, v := range []string{`null`, `"x"`, `""`, `1`, `true`, `{}`, `[]`, `["x"]`, `{"a":"\ud800"}`, `nul`} {
			seeds = append(seeds, strings.Replace(ok, `}`, `,"`+m+`":`+v+`}`, 1), `{"`+m+`":`+v+`,`+ok[1:])
		}
		seeds = append(seeds, strings.Replace(full, `"`+m+`":`, `"`+m+`":null,"`+m+`":`, 1))
	}
	for _, v := range []string{
		`null`, `""`, `"a\"b"`, `"a\\b"`, `"a\/b"`, `"a\bb"`, `"a\fb"`, `"a\nb"`, `"a\rb"`, `"a\tb"`, `"a\u0041b"`, `"\u00e9"`, `"\u00E9"`,
		`"\u73a9\u5bb6"`, `"\ud83d\ude00"`, `"\uD83D\uDE00"`, `"\ud83d"`, `"\ude00"`, `"\ud83d\u0041"`, `"\ud83dx"`, `"\ud83d\\"`,
		`"\ud83d\ud83d"`, `"\ude00\ud83d"`, `"\udbff\udfff"`, `"\ud800\udc00"`, `"\uffff"`, `"\ufffd"`, `"\ufeff"`, `"\u2028"`, `"\u202e"`,
		`"\u0000"`, `"\u001f"`, `"\u007f"`, `"\u00a0"`, `"\u0020"`, `"\u00"`, `"\u00g0"`, `"\x"`, `"\'"`, `"\U0041"`, `"\"`, `"a`, `"\u"`,
		"\"a\x00b\"", "\"a\x1fb\"", "\"a\x7fb\"", "\"a\tb\"", "\"\xef\xbf\xbd\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
		"\"\xf4\x90\x80\x80\"", "\"\xe2\x80\xae\"", "\"\xe2\x80\xa8\"", "\"é\"", "\"\U0001F600\"", `"\\u0041"`, `"\\\u0041"`, `1001`, `"1001"`,
		`"` + strings.Repeat("x", MaxSubjectLen) + `"`, `"` + strings.Repeat("é", MaxSubjectLen/2) + `"`, `"` + strings.Repeat(`\u00e9`, MaxSubjectLen/2+1) + `"`,
	} {
		seeds = append(seeds, sub(v))
	}
	for _, v := range []string{
		"2026-12-03T12:00:00.000000001Z", "2026-12-03T12:00:00.0000000001Z", "2026-12-03T12:00:00.1Z", "2026-12-03T12:00:00.100Z",
		"2026-12-03T12:00:00.Z", "2026-12-03T12:00:00,5Z", "2026-12-03t12:00:00z", "2026-12-03T12:00:00z", "2026-12-03 12:00:00Z",
		"2026-12-03T12:00:00+00:00", "2026-12-03T12:00:00-00:00", "2026-12-03T13:00:00+01:00", "2026-12-03T12:00Z", "2026-12-03T12:00:00",
		"2026-02-29T12:00:00Z", "2024-02-29T12:00:00Z", "2026-12-31T24:00:00Z", "2026-12-31T23:59:60Z", "2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z", "2026-12-00T00:00:00Z", "2026-12-32T00:00:00Z", "2026-1-03T12:00:00Z", "+2026-12-03T12:00:00Z",
		"1999-12-31T23:59:59.999999999Z", "2000-01-01T00:00:00Z", "2199-12-31T23:59:59.999999999Z", "2200-01-01T00:00:00Z",
		"0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-12-03T12:00:00\\u005a", "2026-12-03T12:00:00\\u005A", " 2026-12-03T12:00:00Z",
		"2026-12-03T12:00:00Z ", "２026-12-03T12:00:00Z", "2026-12-03T12:00:00.５Z",
	} {
		seeds = append(seeds, at(v))
	}
	for _, v := range []string{"2026-12-03T12:05:00.000000001Z", "2026-12-03T12:04:59.999999999Z", "2026-12-03T11:00:00Z", ""} {
		seeds = append(seeds, strings.Replace(rev, "2026-12-03T12:05:00Z", v, 1))
	}
	for _, n := range []int{MaxRecordSize, MaxRecordSize + 1} {
		pad := strings.Repeat(" ", n-len(full))
		seeds = append(seeds, full+pad, pad+full, strings.Replace(full, ",", ","+pad, 1))
	}
	return seeds
}

// FuzzRecordDifferential: ParseRecord accepts what parseRecordReference
// accepts, and reads the same Record from it, which does not share b's
// memory.
func FuzzRecordDifferential(f *testing.F) {
	for _, r := range roundTripRecords() {
		b, err := AppendRecord(nil, r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seeds := append(append(append([]string{recordOK}, refusedRecords()...), fuzzRecordSeeds...), differentialSeeds()...)
	for _, row := range redteam16HostileRows() {
		seeds = append(seeds, row.raw)
	}
	for _, seed := range seeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := parseRecordReference(b)
		c := bytes.Clone(b)
		got, err := ParseRecord(c)
		for i := range c {
			c[i] = 'x' // what ParseRecord returned must not change
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: ParseRecord: %v; reference: %v", b, err, wantErr)
		}
		if err != nil {
			if !errors.Is(err, ErrRecord) {
				t.Fatalf("%q: error not ErrRecord: %v", b, err)
			}
			return
		}
		if got != want {
			t.Fatalf("%q: ParseRecord: %+v; reference: %+v", b, got, want)
		}
	})
}

// TestDifferentialSeedsAccepted: the seeds reach the parsers' depths: some
// of them are accepted, escapes and nulls among them.
func TestDifferentialSeedsAccepted(t *testing.T) {
	var n int
	for _, s := range differentialSeeds() {
		if _, err := ParseRecord([]byte(s)); err == nil {
			n++
		}
	}
	if n < 40 {
		t.Errorf("%d seeds accepted", n)
	}
}

// BenchmarkParseRecordReference is BenchmarkParseRecord with the former
// parser, for comparison.
func BenchmarkParseRecordReference(b *testing.B) {
	recs := benchRecords(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := parseRecordReference(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}

var (
	composedN    = flag.Int("composed", 20_000, "records TestRecordDifferentialComposed composes")
	composedSeed = flag.Uint64("composed-seed", 1, "the seed of TestRecordDifferentialComposed")
)

// TestRecordDifferentialComposed holds ParseRecord to parseRecordReference
// on records composed of likely pieces (which byte-level fuzzing reaches
// slowly): members in any order, repeated or missing, names and values
// spelled with escapes, nulls, whitespace, edge values.
func TestRecordDifferentialComposed(t *testing.T) {
	n, seed := *composedN, *composedSeed
	if testing.Short() {
		n = 3_000
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	ws := func() string {
		if rng.IntN(400) == 0 {
			return pick("\v", "\u00a0", "\x00")
		}
		return pick("", "", "", "", "", " ", "\n", "\t ", "\r\n")
	}
	// escape spells s with some of its runes escaped.
	escape := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			switch k := rng.IntN(8); {
			case r < 0x20 && k != 0: // a control is escaped, but for some
				if k == 1 && r == '\t' {
					b.WriteString(`\t`)
				} else {
					fmt.Fprintf(&b, `\u%04x`, r)
				}
			case k == 0:
				if r > 0xffff {
					fmt.Fprintf(&b, `\u%04x\u%04X`, 0xd800+(r-0x10000)>>10, 0xdc00+(r-0x10000)&0x3ff)
				} else {
					fmt.Fprintf(&b, `\u%04x`, r)
				}
			case k == 1:
				if r == '/' {
					b.WriteString(`\/`)
					continue
				}
				fallthrough
			default:
				switch r {
				case '"', '\\':
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	names := []string{"v", "op", "provider", "subject", "until", "before", "reason", "created_by", "created_at"}
	values := map[string][]string{
		"v":          {"1", "1", "1", "2", "0", "1.0", "null", `"1"`, "-1", "10"},
		"op":         {"ban", "ban", "unban", "revoke", "BAN", "", "ban "},
		"provider":   {"seayoo", "zego", "a-b_9", "Seayoo", "9a", "", strings.Repeat("a", MaxProviderLen+1)},
		"subject":    {"1001", "玩家 7", "a/b", "\"q\"", "a\\b", "\U0001F600", "\u00e9", "\u202e", "\ufffd", "\u007f", "\u0000", "", " ", strings.Repeat("x", MaxSubjectLen)},
		"until":      {"", "2026-12-31T00:00:00Z", "2026-12-31T00:00:00.5Z", "2026-12-31T00:00:00.50Z", "2026-12-31T00:00:00+00:00", "2200-01-01T00:00:00Z", "x"},
		"before":     {"", "2026-12-03T12:00:00Z", "2026-12-03T12:05:00Z", "2026-12-03T12:05:00.000000001Z", "1999-12-31T23:59:59Z"},
		"reason":     {"", "cheating", "a\nb", "é/ü", "\u2028", strings.Repeat("r", MaxReasonLen+1)},
		"created_by": {"", "gm", "gm\t", "管理员"},
		"created_at": {"2026-12-03T12:00:00Z", "2026-12-03T12:00:00.123456789Z", "2026-12-03T12:00:00.1234567890Z", "2026-12-03T12:00:00z", "", "2199-12-31T23:59:59.999999999Z", "2200-01-01T00:00:00Z"},
	}
	var accepted int
	for range n {
		var b strings.Builder
		b.WriteString(ws() + "{")
		good := map[string]string{"v": "1", "op": "ban", "provider": pick("seayoo", "zego"), "subject": pick(values["subject"][:6]...),
			"until": pick("", "2026-12-31T00:00:00.5Z"), "before": "", "reason": pick(values["reason"][:5]...), "created_by": pick(values["created_by"]...),
			"created_at": pick(values["created_at"][:2]...)}
		switch rng.IntN(3) {
		case 0:
			good["op"], good["until"], good["reason"] = "unban", "", ""
		case 1:
			good["op"], good["until"], good["reason"], good["before"] = "revoke", "", "", pick(values["before"][1:3]...)
		}
		perm := rng.Perm(len(names))
		k := 0
		for _, i := range perm {
			name := names[i]
			optional := name == "until" || name == "before" || name == "reason" || name == "created_by"
			if optional && rng.IntN(3) == 0 || rng.IntN(60) == 0 {
				continue
			}
			for rep := 0; rep < 1 || rng.IntN(30) == 0 && rep < 2; rep++ {
				if k > 0 {
					b.WriteString(ws() + "," + ws())
				}
				k++
				spelled := name
				if rng.IntN(40) == 0 {
					spelled = pick(strings.ToUpper(name), name+" ", "ſubject", "x")
				}
				b.WriteString(ws() + `"` + escape(spelled) + `"` + ws() + ":" + ws())
				v := values[name][rng.IntN(len(values[name]))]
				if rng.IntN(8) != 0 { // mostly a value that fits the op
					v = good[name]
				}
				switch {
				case name == "v":
					b.WriteString(v)
				case rng.IntN(20) == 0:
					b.WriteString(pick("null", "1", "true", "[]", "{}", `"\ud800"`))
				default:
					b.WriteString(`"` + escape(v) + `"`)
				}
			}
		}
		if rng.IntN(50) == 0 {
			b.WriteString(",")
		}
		b.WriteString("}" + ws())
		doc := []byte(b.String())
		want, wantErr := parseRecordReference(doc)
		got, err := ParseRecord(doc)
		if (err == nil) != (wantErr == nil) || got != want {
			t.Fatalf("%q: ParseRecord: %+v, %v; reference: %+v, %v", doc, got, err, want, wantErr)
		}
		if err == nil {
			accepted++
		} else if testing.Verbose() && rng.IntN(20000) == 0 {
			t.Logf("refused %q: %v", doc, err)
		}
	}
	if accepted < n/20 {
		t.Errorf("%d of %d accepted: the pieces miss the parsers' depths", accepted, n)
	}
	t.Logf("%d of %d accepted", accepted, n)
}
