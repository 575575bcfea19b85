package caddyauth

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/internal/playtime"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// This file is the minors block of the gameauth handler (issue 17): a
// minor — a player whose verified age is below adult_age — passes only
// inside the play window; outside it the answer is 403 minor play time
// with Retry-After to the next window. Inside it, the window's end is the
// deadline of the minor's live connections and the latest expiry of the
// tokens gameauth_issuer mints for them. The rule itself is plain Go
// (internal/playtime); this file reads the options and asks it.

// MinorsPolicy is the play-time rule for minors of a gameauth handler.
// The defaults are mainland China's rule (NPPA, 2021-08-30): 20:00 to
// 21:00 Beijing time on Fridays, Saturdays, Sundays and statutory
// holidays, which a calendar file adds.
type MinorsPolicy struct {
	// AgeClaim is the claim that holds the player's age in whole years
	// (Seayoo's age, where 0 means unknown). Default: age
	AgeClaim string `json:"age_claim,omitempty"`

	// AdultAge is the age from which a player is an adult, 1 to 30.
	// Default: 18
	AdultAge int `json:"adult_age,omitempty"`

	// Unknown is what a player is whose age is absent, 0 or not a whole
	// number: "minor" (the play window applies), "adult" (passes) or
	// "deny" (403 age unknown). Default: minor
	Unknown string `json:"unknown,omitempty"`

	// Timezone is the IANA name of the timezone of the window and of the
	// calendar's dates; the timezone database is built in, so it works on
	// any machine. Default: Asia/Shanghai
	Timezone string `json:"timezone,omitempty"`

	// Window is the play window's start and end, local time, HH:MM or
	// HH:MM:SS; an end not after the start is the next day's (a window
	// across midnight opens on a play day). Default: ["20:00", "21:00"]
	Window []string `json:"window,omitempty"`

	// Days are the play weekdays: sun, mon, tue, wed, thu, fri, sat.
	// Default: ["fri", "sat", "sun"]
	Days []string `json:"days,omitempty"`

	// Calendar is the path of a JSON file of extra play days and make-up
	// workdays, {"source": "...", "holidays": ["2026-10-01", ...],
	// "workdays": ["2026-10-10", ...]}, read when the config is loaded (at
	// most 256 KiB; a malformed file fails caddy validate, naming the file
	// and the line). Default: none
	Calendar string `json:"calendar,omitempty"`

	policy  *playtime.Policy
	unknown int              // unknownMinor, unknownAdult or unknownDeny
	now     func() time.Time // injectable for tests
}

// The unknown policies.
const (
	unknownMinor = iota
	unknownAdult
	unknownDeny
)

// Defaults and bounds of the minors block.
const (
	defaultAgeClaim = "age"
	defaultAdultAge = 18
	defaultTimezone = "Asia/Shanghai"
	maxAdultAge     = 30
	// calendarWarnAhead: a calendar that ends sooner than this is logged
	// at provision, so that next year's arrangement is added in time.
	calendarWarnAhead = 30 * 24 * time.Hour
)

var (
	defaultWindow = []string{"20:00", "21:00"}
	defaultDays   = []string{"fri", "sat", "sun"}
	weekdayNames  = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
)

// errAgeUnknown refuses a player of unknown age under unknown deny.
var errAgeUnknown = verifiers.Forbidden(verifiers.ReasonAgeUnknown)

// provision checks the options, each error naming the Caddyfile word, and
// builds the policy, reading the calendar file.
func (m *MinorsPolicy) provision(logger *zap.Logger) error {
	const mod = "gameauth: minors"
	if m.AgeClaim == "" {
		m.AgeClaim = defaultAgeClaim
	}
	if !check.ClaimName(m.AgeClaim) || len(m.AgeClaim) > 64 || reservedClaim(m.AgeClaim) {
		return fmt.Errorf("%s: age_claim %q is not a claim name (lower case, digits and _, at most 64)", mod, m.AgeClaim)
	}
	if m.AdultAge == 0 {
		m.AdultAge = defaultAdultAge
	}
	if m.AdultAge < 1 || m.AdultAge > maxAdultAge {
		return fmt.Errorf("%s: adult_age %d is out of range: want 1 to %d", mod, m.AdultAge, maxAdultAge)
	}
	switch m.Unknown {
	case "", "minor":
		m.unknown = unknownMinor
	case "adult":
		m.unknown = unknownAdult
	case "deny":
		m.unknown = unknownDeny
	default:
		return fmt.Errorf("%s: unknown %q: want minor, adult or deny", mod, m.Unknown)
	}
	if m.Timezone == "" {
		m.Timezone = defaultTimezone
	}
	if m.Timezone == "Local" {
		return fmt.Errorf("%s: timezone Local depends on the machine: name the zone, such as Asia/Shanghai", mod)
	}
	loc, err := time.LoadLocation(m.Timezone)
	if err != nil {
		return fmt.Errorf("%s: timezone %q is not a known IANA timezone (such as Asia/Shanghai)", mod, m.Timezone)
	}
	if len(m.Window) == 0 {
		m.Window = slices.Clone(defaultWindow)
	}
	if len(m.Window) != 2 {
		return fmt.Errorf("%s: window takes a start and an end, such as 20:00 21:00", mod)
	}
	start, ok1 := parseClock(m.Window[0])
	end, ok2 := parseClock(m.Window[1])
	if !ok1 || !ok2 {
		return fmt.Errorf("%s: window %s %s: want times HH:MM or HH:MM:SS, 00:00 to 23:59:59", mod, quoteWord(m.Window[0]), quoteWord(m.Window[1]))
	}
	if start == end {
		return fmt.Errorf("%s: window %s %s is empty: the start and the end are the same", mod, m.Window[0], m.Window[1])
	}
	if len(m.Days) == 0 {
		m.Days = slices.Clone(defaultDays)
	}
	days, err := parseWeekdays(m.Days)
	if err != nil {
		return fmt.Errorf("%s: days: %v", mod, err)
	}
	var cal *playtime.Calendar
	if m.Calendar != "" {
		if cal, err = readCalendar(m.Calendar); err != nil {
			return fmt.Errorf("%s: calendar: %w", mod, err)
		}
	}
	if m.policy, err = playtime.New(loc, start, end, days, cal); err != nil {
		return fmt.Errorf("%s: %v", mod, err)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if cal != nil && logger != nil {
		last := cal.Last()
		fields := []zap.Field{zap.String("calendar", m.Calendar), zap.String("source", cal.Source()),
			zap.Int("holidays", cal.Holidays()), zap.Int("workdays", cal.Workdays())}
		if !last.IsZero() {
			fields = append(fields, zap.String("last_date", last.Format(time.DateOnly)))
		}
		if last.Before(m.now().Add(calendarWarnAhead)) {
			logger.Warn("the minors' play calendar ends within 30 days or has ended: after its last date the weekday rule alone decides "+
				"and Retry-After is not sent; add the next arrangement", fields...)
		} else {
			logger.Info("minors' play calendar loaded", fields...)
		}
	}
	return nil
}

// readCalendar reads and parses a calendar file, bounded in size.
func readCalendar(path string) (*playtime.Calendar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > playtime.MaxCalendarBytes {
		return nil, fmt.Errorf("%s: not a regular file of at most %d KiB", path, playtime.MaxCalendarBytes>>10)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return playtime.ParseCalendar(path, data)
}

// parseClock reads HH:MM or HH:MM:SS as seconds of day.
func parseClock(s string) (int, bool) {
	if len(s) != 5 && len(s) != 8 {
		return 0, false
	}
	num := func(i int) (int, bool) {
		a, b := s[i], s[i+1]
		if a < '0' || a > '9' || b < '0' || b > '9' {
			return 0, false
		}
		return int(a-'0')*10 + int(b-'0'), true
	}
	h, ok1 := num(0)
	mi, ok2 := num(3)
	sec, ok3 := 0, true
	if len(s) == 8 {
		if s[5] != ':' {
			return 0, false
		}
		sec, ok3 = num(6)
	}
	if !ok1 || !ok2 || !ok3 || s[2] != ':' || h > 23 || mi > 59 || sec > 59 {
		return 0, false
	}
	return h*3600 + mi*60 + sec, true
}

// parseWeekdays reads weekday names (sun ... sat, any case), each once.
func parseWeekdays(names []string) ([]time.Weekday, error) {
	var out []time.Weekday
	for _, n := range names {
		i := slices.Index(weekdayNames, strings.ToLower(n))
		if i < 0 {
			return nil, fmt.Errorf("%s is not a weekday: want sun, mon, tue, wed, thu, fri or sat", quoteWord(n))
		}
		if slices.Contains(out, time.Weekday(i)) {
			return nil, fmt.Errorf("%s is named twice", weekdayNames[i])
		}
		out = append(out, time.Weekday(i))
	}
	return out, nil
}

// quoteWord quotes an operator's word for an error, cut to 32 bytes.
func quoteWord(s string) string {
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return strconv.Quote(s)
}

// ageVerdict is what the minors rule says of one verified identity.
type ageVerdict struct {
	band  playtime.Band
	until time.Time // a minor's window end; zero for a player who passes at any time
}

// check applies the rule to id at the policy's now: an adult (or an
// unknown age under unknown adult) passes; a minor passes inside the
// window, until its end, and is refused outside it with Retry-After to
// the next window when one is known.
func (m *MinorsPolicy) check(id *verifiers.Identity) (ageVerdict, error) {
	raw, _ := id.Claim(m.AgeClaim)
	v := ageVerdict{band: playtime.BandOf(playtime.ParseAge(raw), m.AdultAge)}
	if v.band == playtime.BandAdult {
		return v, nil
	}
	if v.band == playtime.BandUnknown {
		switch m.unknown {
		case unknownAdult:
			return v, nil
		case unknownDeny:
			return v, errAgeUnknown
		}
	}
	now := m.now()
	allowed, end, next, known := m.policy.Decide(now)
	if allowed {
		v.until = end
		return v, nil
	}
	return v, m.outside(now, next, known)
}

// outside is the refusal of a minor outside the window at now.
func (m *MinorsPolicy) outside(now, next time.Time, known bool) error {
	e := &verifiers.Error{Kind: verifiers.ErrForbidden, Reason: verifiers.ReasonMinorPlayTime}
	if known {
		e.RetryAfter = max(next.Sub(now), time.Second)
	}
	return e
}

// refuseNear is the refusal of a token request by a minor whose window
// ends within a second (or has ended) at now: a token that short is no
// use, and the next window is what to wait for.
func (m *MinorsPolicy) refuseNear(now time.Time) error {
	allowed, _, next, known := m.policy.Decide(now.Add(time.Second))
	if allowed {
		// A window that opens as this one closes (a calendar of
		// adjacent windows cannot make one, but be exact).
		return verifiers.Forbidden(verifiers.ReasonMinorPlayTime)
	}
	return m.outside(now, next, known)
}

// parseMinors reads a minors block of the gameauth directive:
//
//	minors {
//		age_claim <claim>
//		adult_age <years>
//		unknown   minor|adult|deny
//		timezone  <IANA name>
//		window    <HH:MM> <HH:MM>
//		days      <weekday>...
//		calendar  <file>
//	}
func parseMinors(d *caddyfile.Dispenser) (*MinorsPolicy, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	m := new(MinorsPolicy)
	p := newOptionParser(d)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "age_claim":
			err = p.str(&m.AgeClaim)
		case "adult_age":
			err = p.positiveInt(&m.AdultAge)
		case "unknown":
			err = p.str(&m.Unknown)
		case "timezone":
			err = p.str(&m.Timezone)
		case "calendar":
			err = p.str(&m.Calendar)
		case "window", "days":
			if err = p.once(); err != nil {
				break
			}
			args := d.RemainingArgs()
			if opt == "window" {
				m.Window = args
				if len(args) != 2 {
					err = d.Errf("window takes a start and an end, such as 20:00 21:00")
				}
			} else if m.Days = args; len(args) == 0 {
				err = d.ArgErr()
			}
		default:
			err = p.unknown("minors")
		}
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// errNoMinors is the error of claim_headers age_band without a minors block.
var errNoMinors = errors.New("gameauth: claim_headers: age_band is given by a minors block, and there is none")

// minors returns the handler's minors block, nil for a nil handler or
// none.
func (h *Handler) minors() *MinorsPolicy {
	if h == nil {
		return nil
	}
	return h.Minors
}
