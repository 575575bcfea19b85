package playtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// Bounds of a calendar file: a year's arrangement is a few dozen dates.
const (
	// MaxCalendarBytes bounds the size of a calendar file.
	MaxCalendarBytes = 256 << 10
	// MaxCalendarDates bounds the dates of a calendar, both lists together.
	MaxCalendarDates = 4096
	// maxSource bounds the source text.
	maxSource = 1024
)

type dayKind uint8

const (
	ordinary dayKind = iota
	holiday
	workday
)

// Calendar amends the weekday rule: a holiday is a play day whatever its
// weekday, a workday (a make-up workday, 调休) is not, whatever the play
// weekdays say. Dates are civil dates in the policy's timezone. It is
// immutable after Parse.
type Calendar struct {
	source      string
	days        map[civil]dayKind
	first, last civil
	holidays    int
	workdays    int
}

// Source returns where the calendar's dates come from, as the file says.
func (c *Calendar) Source() string { return c.source }

// Holidays and Workdays return how many dates each list holds.
func (c *Calendar) Holidays() int { return c.holidays }

// Workdays returns how many make-up workdays the calendar lists.
func (c *Calendar) Workdays() int { return c.workdays }

// Last returns the calendar's last date (of either list), midnight UTC;
// the zero time if it lists none.
func (c *Calendar) Last() time.Time {
	if len(c.days) == 0 {
		return time.Time{}
	}
	y, m, d := c.last.ymd()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// CalendarError is an error of a calendar file: the file, the line (from
// 1; 0 when not known) and what is wrong.
type CalendarError struct {
	File string
	Line int
	Msg  string
}

func (e *CalendarError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// ParseCalendar reads a calendar file, named file in errors:
//
//	{"source": "State Council notice of 2025-11-04",
//	 "holidays": ["2026-10-01", ...], "workdays": ["2026-10-10", ...]}
//
// source is required and non-empty; the lists may be empty or absent. No
// other member is allowed, nor a member given twice, a date that is not a
// valid YYYY-MM-DD, a date listed twice or in both lists, invalid UTF-8,
// or anything after the object. Errors name the file and the line.
func ParseCalendar(file string, data []byte) (*Calendar, error) {
	fail := func(off int64, format string, args ...any) error {
		return &CalendarError{File: file, Line: lineOf(data, off), Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) > MaxCalendarBytes {
		return nil, &CalendarError{File: file, Msg: fmt.Sprintf("larger than %d KiB", MaxCalendarBytes>>10)}
	}
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, fail(int64(off), "invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	c := &Calendar{days: make(map[civil]dayKind)}
	seen := map[string]bool{}
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(file, data, dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fail(dec.InputOffset(), "want a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(file, data, dec, err)
		}
		key, _ := tok.(string)
		keyOff := dec.InputOffset()
		switch key {
		case "source", "holidays", "workdays":
		default:
			return nil, fail(keyOff, "unknown member %s (want source, holidays and workdays)", quoteShort(key))
		}
		if seen[key] {
			return nil, fail(keyOff, "%s given twice", key)
		}
		seen[key] = true
		if key == "source" {
			tok, err := dec.Token()
			if err != nil {
				return nil, syntaxError(file, data, dec, err)
			}
			s, ok := tok.(string)
			if !ok || s == "" || len(s) > maxSource {
				return nil, fail(dec.InputOffset(), "source: want a non-empty string of at most %d bytes saying where the dates come from", maxSource)
			}
			c.source = s
			continue
		}
		kind := holiday
		if key == "workdays" {
			kind = workday
		}
		if err := c.readDates(dec, data, file, key, kind); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, syntaxError(file, data, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fail(dec.InputOffset(), "unexpected data after the calendar object")
	}
	if c.source == "" {
		return nil, &CalendarError{File: file, Line: 1, Msg: "source is required: say where the dates come from"}
	}
	return c, nil
}

// readDates reads the array of dates of the member key.
func (c *Calendar) readDates(dec *json.Decoder, data []byte, file, key string, kind dayKind) error {
	fail := func(format string, args ...any) error {
		return &CalendarError{File: file, Line: lineOf(data, dec.InputOffset()), Msg: fmt.Sprintf(format, args...)}
	}
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(file, data, dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fail("%s: want an array of dates", key)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(file, data, dec, err)
		}
		s, ok := tok.(string)
		if !ok {
			return fail("%s: want dates as strings YYYY-MM-DD", key)
		}
		day, ok := parseDate(s)
		if !ok {
			return fail("%s: %s is not a date YYYY-MM-DD", key, quoteShort(s))
		}
		switch c.days[day] {
		case kind:
			return fail("%s: %s is listed twice", key, s)
		case holiday, workday:
			return fail("%s: %s is both a holiday and a workday", key, s)
		}
		if len(c.days) >= MaxCalendarDates {
			return fail("more than %d dates", MaxCalendarDates)
		}
		if len(c.days) == 0 || day < c.first {
			c.first = day
		}
		if len(c.days) == 0 || day > c.last {
			c.last = day
		}
		c.days[day] = kind
		if kind == holiday {
			c.holidays++
		} else {
			c.workdays++
		}
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return syntaxError(file, data, dec, err)
	}
	return nil
}

// parseDate reads YYYY-MM-DD, a valid date of the years 1970 to 9999.
func parseDate(s string) (civil, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Year() < 1970 {
		return 0, false
	}
	return civilOf(t.Date()), true
}

// syntaxError turns a decoder's error into a CalendarError at its line.
func syntaxError(file string, data []byte, dec *json.Decoder, err error) error {
	off := dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	msg := "not valid JSON"
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "unexpected end of file"
	} else if se != nil {
		msg = "not valid JSON: " + se.Error()
	}
	return &CalendarError{File: file, Line: lineOf(data, off), Msg: msg}
}

// lineOf returns the line (from 1) of the byte at off, or of the last byte
// before it when off is just past a token.
func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	// The offset is just past the token: the token ends on the line of
	// the byte before it.
	end := off
	if end > 0 {
		end--
	}
	return bytes.Count(data[:end], []byte{'\n'}) + 1
}

// quoteShort quotes s for an error, cut to 40 bytes: the file is the
// operator's, but an error should stay one line.
func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return fmt.Sprintf("%q", s)
}
