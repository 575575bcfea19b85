// Package playtime decides when minors may play: a daily window in one
// timezone, on play weekdays, amended by a calendar of holidays (play days
// whatever their weekday) and make-up workdays (never play days). It is
// plain Go: the Caddy side (package caddyauth) builds a Policy once and
// asks it on every request of a minor.
//
// A window is [start, end) in local wall-clock time. When end is not after
// start the window crosses midnight: it opens on a play day and closes on
// the next day, and whether it opens is the play day's question alone.
package playtime

import (
	"errors"
	"fmt"
	"time"
	_ "time/tzdata" // the timezone works on machines without a zoneinfo database
)

// Horizon is how far ahead Decide looks for the next window: a minor is
// told when to come back only if a window opens within it (and, with a
// calendar, not after the calendar's last date).
const Horizon = 14

// SecondsPerDay bounds the times of day of a window, in seconds.
const SecondsPerDay = 24 * 60 * 60

// Policy is one play-time rule. It is immutable and safe for concurrent
// use.
type Policy struct {
	loc        *time.Location
	start, end int // seconds of day; end <= start crosses midnight
	days       [7]bool
	cal        *Calendar
}

// New returns the policy of a window from start to end (seconds of day,
// 0 to 86399; equal values are refused) in loc, on the given weekdays,
// amended by cal (nil: none).
func New(loc *time.Location, start, end int, days []time.Weekday, cal *Calendar) (*Policy, error) {
	if loc == nil {
		return nil, errors.New("playtime: no timezone")
	}
	if start < 0 || start >= SecondsPerDay || end < 0 || end >= SecondsPerDay {
		return nil, errors.New("playtime: window times must be between 00:00:00 and 23:59:59")
	}
	if start == end {
		return nil, errors.New("playtime: the window must not start and end at the same time")
	}
	p := &Policy{loc: loc, start: start, end: end, cal: cal}
	for _, d := range days {
		if d < time.Sunday || d > time.Saturday {
			return nil, fmt.Errorf("playtime: weekday %d out of range", d)
		}
		p.days[d] = true
	}
	return p, nil
}

// Location returns the policy's timezone.
func (p *Policy) Location() *time.Location { return p.loc }

// Calendar returns the policy's calendar, nil if none.
func (p *Policy) Calendar() *Calendar { return p.cal }

// crosses reports whether the window ends on the day after it starts.
func (p *Policy) crosses() bool { return p.end <= p.start }

// civil is a date as the number of days since 1970-01-01.
type civil int64

// civilOf returns the date of y-m-d.
func civilOf(y int, m time.Month, d int) civil {
	return civil(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// ymd returns the year, month and day of c.
func (c civil) ymd() (int, time.Month, int) {
	return time.Unix(int64(c)*86400, 0).UTC().Date()
}

// playDay reports whether a window opens on c.
func (p *Policy) playDay(c civil) bool {
	if p.cal != nil {
		switch p.cal.days[c] {
		case holiday:
			return true
		case workday:
			return false
		}
	}
	// 1970-01-01 was a Thursday.
	return p.days[(int64(c)%7+7+4)%7]
}

// window returns when the window that opens on c opens and closes.
func (p *Policy) window(c civil) (time.Time, time.Time) {
	y, m, d := c.ymd()
	open := time.Date(y, m, d, p.start/3600, p.start/60%60, p.start%60, 0, p.loc)
	if p.crosses() {
		d++
	}
	return open, time.Date(y, m, d, p.end/3600, p.end/60%60, p.end%60, 0, p.loc)
}

// Decide says whether now is inside a window. If it is, windowEnd is when
// that window closes. If it is not, nextStart is when the next window
// opens and known says whether one opens within the horizon: Horizon days
// from today, and with a calendar not after its last date (beyond it the
// arrangement of holidays is not known). Decide does not allocate.
func (p *Policy) Decide(now time.Time) (allowed bool, windowEnd, nextStart time.Time, known bool) {
	y, m, d := now.In(p.loc).Date()
	today := civilOf(y, m, d)
	first := today
	if p.crosses() {
		first-- // yesterday's window may still be open
	}
	last := today + Horizon
	if p.cal != nil && p.cal.last < last {
		last = p.cal.last
	}
	for c := first; c <= today+Horizon; c++ {
		if !p.playDay(c) {
			continue
		}
		open, end := p.window(c)
		if !now.Before(end) {
			continue
		}
		if !now.Before(open) {
			return true, end, time.Time{}, false
		}
		if c > last {
			return false, time.Time{}, time.Time{}, false
		}
		return false, time.Time{}, open, true
	}
	return false, time.Time{}, time.Time{}, false
}
