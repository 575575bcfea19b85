package bans

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// roundTripRecords are records AppendRecord writes and ParseRecord reads.
func roundTripRecords() []Record {
	return []Record{
		{Op: OpBan, Provider: "seayoo", Subject: "1001", Until: t0.Add(time.Hour), Reason: "cheating <\"x\">", CreatedBy: "gm", CreatedAt: t0},
		{Op: OpBan, Provider: "cloudbase", Subject: "玩家 7", CreatedAt: t0.Add(123)},
		{Op: OpUnban, Provider: "twilio", Subject: "u", CreatedAt: t0},
		{Op: OpRevoke, Provider: "zego", Subject: "z", Before: t0, CreatedAt: t0},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range roundTripRecords() {
		b, err := AppendRecord(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseRecord(b)
		if err != nil || got != r {
			t.Fatalf("%s: got %+v, %v", b, got, err)
		}
	}
}

// recordOK is a record ParseRecord accepts; refusedRecords are variants of
// it that it refuses.
const recordOK = `{"v":1,"op":"ban","provider":"seayoo","subject":"s","created_at":"2026-12-03T12:00:00Z"}`

func refusedRecords() []string {
	ok := recordOK
	return []string{
		strings.Replace(ok, `"v":1`, `"v":2`, 1),
		strings.Replace(ok, `"v":1`, `"V":1`, 1),
		strings.Replace(ok, `"subject":"s"`, `"subject":"s","Subject":"t"`, 1),
		strings.Replace(ok, `"subject":"s"`, `"subject":""`, 1),
		strings.Replace(ok, `"subject":"s"`, `"subject":"a\nb"`, 1),
		strings.Replace(ok, `"subject":"s"`, `"subject":"\ud800"`, 1),
		strings.Replace(ok, `"subject":"s"`, `"subject":"`+strings.Repeat("x", MaxSubjectLen+1)+`"`, 1),
		strings.Replace(ok, `"provider":"seayoo"`, `"provider":"Seayoo"`, 1),
		strings.Replace(ok, `"op":"ban"`, `"op":"promote"`, 1),
		strings.Replace(ok, `"op":"ban"`, `"op":"revoke"`, 1), // no before
		strings.Replace(ok, `"op":"ban"`, `"op":"unban","reason":"x"`, 1),
		strings.Replace(ok, `2026-12-03T12:00:00Z`, `2026-12-03T12:00:00+00:00`, 1),
		strings.Replace(ok, `2026-12-03T12:00:00Z`, `2026-12-03T12:00:00.10Z`, 1),
		strings.Replace(ok, `2026-12-03T12:00:00Z`, `1900-12-03T12:00:00Z`, 1),
		strings.Replace(ok, `}`, `,"admin":true}`, 1),
		ok + `{}`,
		`[` + ok + `]`,
		`{"v":1,"op":"ban","provider":"seayoo","subject":"s"}`,
	}
}

func TestParseRecordRefuses(t *testing.T) {
	if _, err := ParseRecord([]byte(recordOK)); err != nil {
		t.Fatal(err)
	}
	for _, doc := range refusedRecords() {
		if _, err := ParseRecord([]byte(doc)); !errors.Is(err, ErrRecord) {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

// fuzzRecordSeeds are the records FuzzRecord starts from.
var fuzzRecordSeeds = []string{
	`{"v":1,"op":"ban","provider":"seayoo","subject":"1001","until":"2026-12-31T00:00:00Z","reason":"cheating","created_by":"gm","created_at":"2026-12-03T12:00:00.5Z"}`,
	`{"v":1,"op":"unban","provider":"twilio","subject":"\u73a9\u5bb6","created_at":"2026-12-03T12:00:00Z"}`,
	`{"v":1,"op":"revoke","provider":"zego","subject":"z","before":"2026-12-03T12:00:00Z","created_at":"2026-12-03T12:00:00Z"}`,
	`{"v":1,"op":"ban","provider":"seayoo","subject":"\"\\<>&","created_at":"2026-12-03T12:00:00Z"}`,
}

// FuzzRecord: the parser never panics, and what it accepts it writes back
// as a record that parses to the same value.
func FuzzRecord(f *testing.F) {
	for _, seed := range fuzzRecordSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			if !errors.Is(err, ErrRecord) {
				t.Fatalf("error not ErrRecord: %v", err)
			}
			return
		}
		out, err := AppendRecord(nil, r)
		if err != nil {
			t.Fatalf("accepted %q but cannot write it: %v", b, err)
		}
		if bytes.IndexByte(out, '\n') >= 0 {
			t.Fatalf("written record has a newline: %q", out)
		}
		r2, err := ParseRecord(out)
		if err != nil || r2 != r {
			t.Fatalf("round trip of %q: %q gives %+v, %v; want %+v", b, out, r2, err, r)
		}
	})
}
