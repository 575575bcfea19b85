package playtime

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var shanghai = mustLoc("Asia/Shanghai")

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// testCalendar holds part of the 2026 arrangement: 2026-10-06 (a Tuesday)
// a holiday, 2026-10-10 (a Saturday) a make-up workday; and 2026-12-31 (a
// Thursday) as its last date.
const testCalendar = `{
  "source": "test",
  "holidays": ["2026-10-01", "2026-10-06", "2026-12-31"],
  "workdays": ["2026-10-10"]
}`

func chinaPolicy(t testing.TB, cal string) *Policy {
	t.Helper()
	var c *Calendar
	if cal != "" {
		var err error
		if c, err = ParseCalendar("cal.json", []byte(cal)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := New(shanghai, 20*3600, 21*3600, []time.Weekday{time.Friday, time.Saturday, time.Sunday}, c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// at is a time in Shanghai, given as UTC to Decide: the policy must read
// it in its own timezone, whatever the clock's.
func at(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, shanghai).UTC()
}

func TestDecideEdges(t *testing.T) {
	p := chinaPolicy(t, testCalendar)
	fri := func(hh, mm, ss int) time.Time { return at(2026, 10, 16, hh, mm, ss) } // a Friday
	for _, tc := range []struct {
		name     string
		now      time.Time
		allowed  bool
		end      time.Time
		next     time.Time
		nextKnow bool
	}{
		{"friday 19:59:59", fri(19, 59, 59), false, time.Time{}, fri(20, 0, 0), true},
		{"friday 20:00:00", fri(20, 0, 0), true, fri(21, 0, 0), time.Time{}, false},
		{"friday 20:59:59", fri(20, 59, 59), true, fri(21, 0, 0), time.Time{}, false},
		{"friday 21:00:00", fri(21, 0, 0), false, time.Time{}, at(2026, 10, 17, 20, 0, 0), true},
		{"thursday noon: friday next", at(2026, 10, 15, 12, 0, 0), false, time.Time{}, fri(20, 0, 0), true},
		{"tuesday holiday inside", at(2026, 10, 6, 20, 30, 0), true, at(2026, 10, 6, 21, 0, 0), time.Time{}, false},
		{"tuesday holiday before", at(2026, 10, 6, 19, 59, 59), false, time.Time{}, at(2026, 10, 6, 20, 0, 0), true},
		{"ordinary tuesday", at(2026, 10, 13, 20, 30, 0), false, time.Time{}, fri(20, 0, 0), true},
		// 2026-10-10 is a make-up Saturday: the next window is Sunday's.
		{"make-up saturday", at(2026, 10, 10, 20, 30, 0), false, time.Time{}, at(2026, 10, 11, 20, 0, 0), true},
		{"last date of the calendar", at(2026, 12, 31, 20, 0, 0), true, at(2026, 12, 31, 21, 0, 0), time.Time{}, false},
		// Past the calendar's last date the next start is not known...
		{"after the calendar", at(2026, 12, 31, 21, 30, 0), false, time.Time{}, time.Time{}, false},
		// ... and the weekday rule still decides.
		{"weekday rule after the calendar", at(2027, 1, 1, 20, 30, 0), true, at(2027, 1, 1, 21, 0, 0), time.Time{}, false},
		{"weekday rule after the calendar, outside", at(2027, 1, 1, 19, 0, 0), false, time.Time{}, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allowed, end, next, known := p.Decide(tc.now)
			if allowed != tc.allowed || !end.Equal(tc.end) || !next.Equal(tc.next) || known != tc.nextKnow {
				t.Errorf("Decide = %v %v %v %v, want %v %v %v %v", allowed, end, next, known, tc.allowed, tc.end, tc.next, tc.nextKnow)
			}
		})
	}
}

func TestDecideWithoutCalendar(t *testing.T) {
	p := chinaPolicy(t, "")
	// 2026-10-10 is a Saturday: without the calendar it is a play day.
	if ok, _, _, _ := p.Decide(at(2026, 10, 10, 20, 30, 0)); !ok {
		t.Error("saturday refused without a calendar")
	}
	// A Tuesday holiday is an ordinary Tuesday without the calendar.
	allowed, _, next, known := p.Decide(at(2026, 10, 6, 20, 30, 0))
	if allowed || !known || !next.Equal(at(2026, 10, 9, 20, 0, 0)) {
		t.Errorf("tuesday: %v %v %v", allowed, next, known)
	}
}

// A timezone other than the host's and the clock's: Los Angeles, DST and all.
func TestDecideOtherTimezone(t *testing.T) {
	la := mustLoc("America/Los_Angeles")
	p, err := New(la, 20*3600, 21*3600, []time.Weekday{time.Friday}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 2026-03-13 is a Friday; 20:30 in LA is 03:30 UTC on Saturday.
	now := time.Date(2026, 3, 13, 20, 30, 0, 0, la).UTC()
	allowed, end, _, _ := p.Decide(now)
	if !allowed || !end.Equal(time.Date(2026, 3, 13, 21, 0, 0, 0, la)) {
		t.Errorf("LA friday 20:30: %v %v", allowed, end)
	}
	// The same instant read in Shanghai is Saturday 11:30: refused.
	if ok, _, _, _ := chinaPolicy(t, "").Decide(now); ok {
		t.Error("Shanghai policy allowed a Saturday morning")
	}
	// The next Friday window is after the DST change (2026-03-08 was the
	// last one; pick November: 2026-11-01 ends DST; Friday 2026-11-06).
	allowed, _, next, known := p.Decide(time.Date(2026, 10, 31, 12, 0, 0, 0, la))
	if allowed || !known || !next.Equal(time.Date(2026, 11, 6, 20, 0, 0, 0, la)) {
		t.Errorf("across the DST change: %v %v %v", allowed, next, known)
	}
}

// A window that crosses midnight opens on a play day and closes the next
// morning; the next day's play-day status does not matter.
func TestDecideCrossingMidnight(t *testing.T) {
	p, err := New(shanghai, 22*3600, 2*3600, []time.Weekday{time.Friday}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fri := func(d, hh, mm, ss int) time.Time { return at(2026, 10, d, hh, mm, ss) } // 16: Friday
	for _, tc := range []struct {
		now     time.Time
		allowed bool
		end     time.Time
		next    time.Time
	}{
		{fri(16, 21, 59, 59), false, time.Time{}, fri(16, 22, 0, 0)},
		{fri(16, 22, 0, 0), true, fri(17, 2, 0, 0), time.Time{}},
		{fri(16, 23, 59, 59), true, fri(17, 2, 0, 0), time.Time{}},
		{fri(17, 0, 0, 0), true, fri(17, 2, 0, 0), time.Time{}},
		{fri(17, 1, 59, 59), true, fri(17, 2, 0, 0), time.Time{}},
		{fri(17, 2, 0, 0), false, time.Time{}, fri(23, 22, 0, 0)},
		{fri(15, 23, 0, 0), false, time.Time{}, fri(16, 22, 0, 0)}, // Thursday night
	} {
		allowed, end, next, _ := p.Decide(tc.now)
		if allowed != tc.allowed || !end.Equal(tc.end) || !next.Equal(tc.next) {
			t.Errorf("%v: %v %v %v, want %v %v %v", tc.now.In(shanghai), allowed, end, next, tc.allowed, tc.end, tc.next)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct{ start, end int }{{60, 60}, {-1, 60}, {60, SecondsPerDay}} {
		if _, err := New(shanghai, tc.start, tc.end, nil, nil); err == nil {
			t.Errorf("New(%d, %d) accepted", tc.start, tc.end)
		}
	}
	if _, err := New(nil, 1, 2, nil, nil); err == nil {
		t.Error("New without a timezone accepted")
	}
}

func TestBands(t *testing.T) {
	for _, tc := range []struct {
		age  string
		want string
	}{
		{"", "unknown"}, {"0", "unknown"}, {"-1", "unknown"}, {"17.5", "16-17"}, {"16.0", "16-17"}, {"1.6e1", "16-17"}, {"+16", "16-17"}, {" 16", "16-17"}, {"1 6", "unknown"}, {"NaN", "unknown"}, {"Inf", "unknown"}, {"151.0", "unknown"}, {"0.5", "unknown"}, {"150.5", "adult"}, {"abc", "unknown"},
		{"151", "unknown"}, {"1000", "unknown"}, {"1", "under8"}, {"7", "under8"}, {"8", "8-15"},
		{"15", "8-15"}, {"16", "16-17"}, {"17", "16-17"}, {"18", "adult"}, {"150", "adult"},
	} {
		if got := BandOf(ParseAge(tc.age), 18).String(); got != tc.want {
			t.Errorf("age %q: %s, want %s", tc.age, got, tc.want)
		}
	}
	if BandOf(18, 19) != Band16to17 || BandOf(19, 19) != BandAdult {
		t.Error("adult age 19")
	}
	if !Band16to17.Minor() || BandAdult.Minor() || BandUnknown.Minor() {
		t.Error("Minor")
	}
}

func TestParseCalendarErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"not an object", `[]`, "cal.json:1: want a JSON object"},
		{"unknown member", "{\n \"source\": \"x\",\n \"holiday\": []\n}", `cal.json:3: unknown member "holiday"`},
		{"member twice", "{\"source\": \"x\",\n\"holidays\": [],\n\"holidays\": []}", "cal.json:3: holidays given twice"},
		{"bad date", "{\"source\": \"x\",\n\"holidays\": [\n\"2026-10-01\",\n\"2026-02-30\"]}", `cal.json:4: holidays: "2026-02-30" is not a date`},
		{"short date", `{"source": "x", "holidays": ["2026-1-01"]}`, "is not a date"},
		{"number date", `{"source": "x", "holidays": [20261001]}`, "want dates as strings"},
		{"date twice", "{\"source\": \"x\",\n\"workdays\": [\"2026-10-10\",\n\"2026-10-10\"]}", "cal.json:3: workdays: 2026-10-10 is listed twice"},
		{"in both", "{\"source\": \"x\",\n\"holidays\": [\"2026-10-10\"],\n\"workdays\": [\"2026-10-10\"]}", "cal.json:3: workdays: 2026-10-10 is both"},
		{"no source", `{"holidays": []}`, "source is required"},
		{"empty source", `{"source": ""}`, "source: want a non-empty string"},
		{"trailing", `{"source": "x"} {}`, "unexpected data after"},
		{"syntax", "{\"source\": \"x\",\n\n\"holidays\": [\"2026-10-10\",]}", "cal.json:3: not valid JSON"},
		{"truncated", "{\"source\": \"x\",\n\"holidays\": [", "unexpected end of file"},
		{"invalid utf-8", "{\"source\": \"x\xff\"}", "cal.json:1: invalid UTF-8"},
		{"not array", `{"source": "x", "holidays": "2026-10-10"}`, "want an array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCalendar("cal.json", []byte(tc.data))
			var ce *CalendarError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	big := make([]byte, MaxCalendarBytes+1)
	if _, err := ParseCalendar("big.json", big); err == nil || !strings.Contains(err.Error(), "big.json: larger than") {
		t.Errorf("big file: %v", err)
	}
}

func TestParseCalendar(t *testing.T) {
	c, err := ParseCalendar("cal.json", []byte(testCalendar))
	if err != nil {
		t.Fatal(err)
	}
	if c.Source() != "test" || c.Holidays() != 3 || c.Workdays() != 1 || !c.Last().Equal(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("%q %d %d %v", c.Source(), c.Holidays(), c.Workdays(), c.Last())
	}
	if _, err := ParseCalendar("empty.json", []byte(`{"source": "none yet"}`)); err != nil {
		t.Errorf("a calendar without dates: %v", err)
	}
}

func FuzzParseCalendar(f *testing.F) {
	f.Add([]byte(testCalendar))
	f.Add([]byte(`{"source":"x","holidays":["2026-02-29"]}`))
	f.Add([]byte("{\"source\":\"x\",\"workdays\":[\"9999-12-31\"],\"holidays\":[\"1970-01-01\"]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCalendar("fuzz.json", data)
		if err != nil {
			var ce *CalendarError
			if !errors.As(err, &ce) || ce.File != "fuzz.json" {
				t.Fatalf("error without the file: %v", err)
			}
			if ce.Line < 0 || ce.Line > strings.Count(string(data), "\n")+1 {
				t.Fatalf("line %d out of range", ce.Line)
			}
			return
		}
		if c.Source() == "" || c.Holidays()+c.Workdays() != len(c.days) {
			t.Fatalf("accepted an inconsistent calendar: %+v", c)
		}
		p, err := New(shanghai, 20*3600, 21*3600, []time.Weekday{time.Friday}, c)
		if err != nil {
			t.Fatal(err)
		}
		p.Decide(time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC))
	})
}

// BenchmarkDecide is the per-request cost of the rule for a minor.
func BenchmarkDecide(b *testing.B) {
	p := chinaPolicy(b, testCalendar)
	now := at(2026, 10, 6, 19, 30, 0) // a Tuesday holiday, before the window
	b.ReportAllocs()
	for b.Loop() {
		p.Decide(now)
	}
}

// BenchmarkDecideWorst searches the whole horizon: no play day at all.
func BenchmarkDecideWorst(b *testing.B) {
	p, err := New(shanghai, 20*3600, 21*3600, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := at(2026, 10, 13, 22, 0, 0)
	b.ReportAllocs()
	for b.Loop() {
		p.Decide(now)
	}
}
