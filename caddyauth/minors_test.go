package caddyauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// cst is a time in Beijing, given to the handler in UTC: the rule reads
// it in its own timezone, whatever the clock's and the host's.
func cst(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, shanghai).UTC()
}

// testPlayCalendar: 2026-10-06 (a Tuesday) a holiday, 2026-10-10 (a
// Saturday) a make-up workday; it ends on 2026-12-31.
const testPlayCalendar = `{"source": "test", "holidays": ["2026-10-01", "2026-10-06", "2026-12-31"], "workdays": ["2026-10-10"]}`

func writeCalendar(t *testing.T, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "play-calendar.json")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// minorsHandler provisions a handler with the China defaults, the test
// calendar and the clock *now, accepting every token as a player of age
// (no age claim when age is "").
func minorsHandler(t *testing.T, unknown string, now *time.Time, age string, cfg *Handler) *Handler {
	t.Helper()
	if cfg == nil {
		cfg = &Handler{}
	}
	if cfg.Minors == nil {
		cfg.Minors = &MinorsPolicy{Unknown: unknown, Calendar: writeCalendar(t, testPlayCalendar)}
	}
	cfg.Minors.now = func() time.Time { return *now }
	claims := []string{"idp", "seayoo"}
	if age != "" {
		claims = append(claims, "age", age)
	}
	return newTestHandler(t, cfg, accepts("seayoo", "1001", claims...))
}

func TestMinorsDecisions(t *testing.T) {
	fri := func(hh, mm, ss int) time.Time { return cst(2026, 10, 16, hh, mm, ss) }
	const pass, refuse = true, false
	for _, tc := range []struct {
		name       string
		age        string // "" : no age claim
		unknown    string
		now        time.Time
		pass       bool
		reason     string
		retryAfter string
		until      time.Time
		band       string
	}{
		{"16 friday 19:59:59", "16", "", fri(19, 59, 59), refuse, "minor play time", "1", time.Time{}, "16-17"},
		{"16 friday 20:00:00", "16", "", fri(20, 0, 0), pass, "", "", fri(21, 0, 0), "16-17"},
		{"17 friday 20:59:59", "17", "", fri(20, 59, 59), pass, "", "", fri(21, 0, 0), "16-17"},
		{"17 friday 21:00:00", "17", "", fri(21, 0, 0), refuse, "minor play time", "82800", time.Time{}, "16-17"},
		{"17 tuesday holiday", "17", "", cst(2026, 10, 6, 20, 30, 0), pass, "", "", cst(2026, 10, 6, 21, 0, 0), "16-17"},
		{"17 make-up saturday", "17", "", cst(2026, 10, 10, 20, 30, 0), refuse, "minor play time", "84600", time.Time{}, "16-17"},
		{"7 ordinary tuesday", "7", "", cst(2026, 10, 13, 12, 0, 0), refuse, "minor play time", "288000", time.Time{}, "under8"},
		{"12 friday inside", "12", "", fri(20, 30, 0), pass, "", "", fri(21, 0, 0), "8-15"},
		{"18 tuesday noon", "18", "", cst(2026, 10, 13, 12, 0, 0), pass, "", "", time.Time{}, "adult"},
		{"18 make-up saturday", "18", "", cst(2026, 10, 10, 20, 30, 0), pass, "", "", time.Time{}, "adult"},
		{"0 unknown minor outside", "0", "minor", fri(19, 0, 0), refuse, "minor play time", "3600", time.Time{}, "unknown"},
		{"0 unknown minor inside", "0", "minor", fri(20, 0, 0), pass, "", "", fri(21, 0, 0), "unknown"},
		{"0 unknown default", "0", "", fri(19, 0, 0), refuse, "minor play time", "3600", time.Time{}, "unknown"},
		{"absent unknown minor", "", "", fri(19, 0, 0), refuse, "minor play time", "3600", time.Time{}, "unknown"},
		{"0 unknown adult", "0", "adult", fri(19, 0, 0), pass, "", "", time.Time{}, "unknown"},
		{"0 unknown deny", "0", "deny", fri(20, 30, 0), refuse, "age unknown", "", time.Time{}, "unknown"},
		{"garbage age is unknown", "seventeen", "deny", fri(20, 30, 0), refuse, "age unknown", "", time.Time{}, "unknown"},
		{"18 unknown deny", "18", "deny", fri(19, 0, 0), pass, "", "", time.Time{}, "adult"},
		// Past the calendar's last date: refused, no Retry-After.
		{"17 after the calendar", "17", "", cst(2026, 12, 31, 22, 0, 0), refuse, "minor play time", "", time.Time{}, "16-17"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			h := minorsHandler(t, tc.unknown, &now, tc.age, &Handler{ClaimHeaders: []string{"age_band"}})
			o := serve(h, get("/", bearer("tok")...))
			if !tc.pass {
				o.refused(t, http.StatusForbidden, tc.reason)
				if got := o.rec.Header().Get("Retry-After"); got != tc.retryAfter {
					t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
				}
				if s := slotOf(o.repl, false); s != nil && s.set {
					t.Error("an identity is set on a refusal")
				}
				return
			}
			o.passed(t, "seayoo", "1001")
			if got := o.next.Header.Get("X-Auth-Age-Band"); got != tc.band {
				t.Errorf("X-Auth-Age-Band %q, want %q", got, tc.band)
			}
			if got := placeholder(o.repl, "http.auth.user.age_band"); got != tc.band {
				t.Errorf("{http.auth.user.age_band} %q, want %q", got, tc.band)
			}
			if s := slotOf(o.repl, false); !s.until.Equal(tc.until) {
				t.Errorf("window end in the slot %v, want %v", s.until, tc.until)
			}
		})
	}
}

// A window across midnight (another market's rule) in another timezone:
// 22:00 to 02:00 in Los Angeles, Fridays.
func TestMinorsCrossingMidnight(t *testing.T) {
	la, _ := time.LoadLocation("America/Los_Angeles")
	now := time.Date(2026, 10, 17, 1, 30, 0, 0, la) // Saturday 01:30, Friday's window
	h := minorsHandler(t, "", &now, "15", &Handler{Minors: &MinorsPolicy{Timezone: "America/Los_Angeles",
		Window: []string{"22:00", "02:00"}, Days: []string{"fri"}}})
	o := serve(h, get("/", bearer("tok")...))
	o.passed(t, "seayoo", "1001")
	if s := slotOf(o.repl, false); !s.until.Equal(time.Date(2026, 10, 17, 2, 0, 0, 0, la)) {
		t.Errorf("until %v", s.until)
	}
	now = time.Date(2026, 10, 17, 2, 0, 0, 0, la)
	o = serve(h, get("/", bearer("tok")...))
	o.refused(t, http.StatusForbidden, "minor play time")
	if got := o.rec.Header().Get("Retry-After"); got != "590400" { // 6 days 20 hours
		t.Errorf("Retry-After %q", got)
	}
}

// Without claim_headers age_band the band stays a placeholder; a claim of
// the token named age_band never speaks for it.
func TestMinorsBandPrivateByDefault(t *testing.T) {
	now := cst(2026, 10, 16, 20, 30, 0)
	h := minorsHandler(t, "", &now, "", &Handler{Minors: &MinorsPolicy{Unknown: "adult"}})
	h.verifiers[0].(*fakeVerifier).id.Claims = append(h.verifiers[0].(*fakeVerifier).id.Claims, verifiers.Claim{Name: "age_band", Value: "adult"})
	o := serve(h, get("/", bearer("tok")...))
	o.passed(t, "seayoo", "1001")
	if got := o.next.Header.Get("X-Auth-Age-Band"); got != "" {
		t.Errorf("X-Auth-Age-Band %q sent without claim_headers", got)
	}
	if got := placeholder(o.repl, "http.auth.user.age_band"); got != "unknown" {
		t.Errorf("{http.auth.user.age_band} %q, want unknown", got)
	}
	all := minorsHandler(t, "", &now, "", &Handler{ClaimHeaders: []string{"all"}, Minors: &MinorsPolicy{Unknown: "adult"}})
	all.verifiers[0].(*fakeVerifier).id.Claims = append(all.verifiers[0].(*fakeVerifier).id.Claims, verifiers.Claim{Name: "age_band", Value: "adult"})
	o = serve(all, get("/", bearer("tok")...))
	if got := o.next.Header.Values("X-Auth-Age-Band"); len(got) != 1 || got[0] != "unknown" {
		t.Errorf("claim_headers all: X-Auth-Age-Band %q, want [unknown]", got)
	}
}

// A minor's event stream ends at the window's end, counted as minor play
// time; an adult's has no deadline.
func TestMinorsLiveSessionEndsAtWindowEnd(t *testing.T) {
	now := cst(2026, 10, 16, 20, 59, 45) // 15s: not the test registry's fallback of 10s
	h := minorsHandler(t, "", &now, "16", nil)
	l, timers := testRegistry(t, 10)
	l.now = func() time.Time { return now }
	h.bans.live = l
	r := get("/events", append(bearer("tok"), "Accept", "text/event-stream")...)
	ctxs := make(chan context.Context, 1)
	go func() {
		_ = h.ServeHTTP(httptest.NewRecorder(), r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddyhttp.NewTestReplacer(r))),
			caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
				ctxs <- r.Context()
				<-r.Context().Done()
				return nil
			}))
	}()
	ctx := <-ctxs
	tm := timers.get(t, 0)
	if tm.d != 15*time.Second {
		t.Errorf("deadline in %v, want 15s (21:00)", tm.d)
	}
	tm.fire()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream was not ended at the window's end")
	}
	if got := metricValue(t, l.m.closed.WithLabelValues(verifiers.ReasonMinorPlayTime)); got != 1 {
		t.Errorf("closed{reason=minor play time} = %v, want 1", got)
	}
	waitFor(t, "session done", func() bool { return l.len() == 0 })
}

// A token gameauth_issuer mints for a minor expires at the window's end
// at the latest, and expires_in says so; within the last second no token
// is minted.
func TestMinorsIssuedTokenCapped(t *testing.T) {
	now := cst(2026, 10, 16, 20, 30, 0)
	h := minorsHandler(t, "", &now, "16", nil)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	tw := &TwilioIssuer{AccountSID: "AC0123456789abcdef0123456789abcdef",
		APIKeySID: "SKfedcba9876543210fedcba9876543210", APIKeySecret: "demo-twilio-api-key-secret"}
	if err := tw.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	var err error
	if tw.iss, err = issuers.NewTwilio(issuers.TwilioConfig{AccountSID: tw.AccountSID, APIKeySID: tw.APIKeySID,
		APIKeySecret: tw.APIKeySecret, Clock: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	iss := &IssuerHandler{User: DefaultIssuerUser, logger: zap.NewNop(), bans: h.bans}
	iss.setIssuer(ctx, tw)
	issue := func() *httptest.ResponseRecorder {
		r := get("/token", bearer("tok")...)
		rec := httptest.NewRecorder()
		repl := caddyhttp.NewTestReplacer(r)
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
		if err := h.ServeHTTP(rec, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return iss.ServeHTTP(w, r, nil)
		})); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	var ans tokenAnswer
	rec := issue()
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if ans.ExpiresIn != 1800 || ans.ExpiresAt != cst(2026, 10, 16, 21, 0, 0).Unix() {
		t.Errorf("minor at 20:30: expires_in %d, expires_at %d; want 1800 and 21:00", ans.ExpiresIn, ans.ExpiresAt)
	}
	now = cst(2026, 10, 16, 20, 59, 59).Add(500 * time.Millisecond)
	rec = issue()
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "minor play time") || rec.Header().Get("Retry-After") != "82801" {
		t.Errorf("half a second before 21:00: %d %q Retry-After %q", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	// An adult's token has the issuer's own lifetime.
	adult := minorsHandler(t, "", &now, "30", nil)
	h = adult
	now = cst(2026, 10, 16, 20, 30, 0)
	ans = tokenAnswer{}
	rec = issue()
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || ans.ExpiresIn != 3600 {
		t.Errorf("adult: %d %s", rec.Code, rec.Body)
	}
}

func TestMinorsCaddyfile(t *testing.T) {
	cal := writeCalendar(t, testPlayCalendar)
	d := caddyfile.NewTestDispenser(`gameauth {
		seayoo {
			secret sk_secret
			game_id xcom
		}
		minors {
			age_claim years
			adult_age 19
			unknown deny
			timezone Asia/Tokyo
			window 22:00 02:00:30
			days Fri sat
			calendar ` + cal + `
		}
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	m := h.Minors
	if m == nil || m.AgeClaim != "years" || m.AdultAge != 19 || m.Unknown != "deny" || m.Timezone != "Asia/Tokyo" ||
		strings.Join(m.Window, " ") != "22:00 02:00:30" || strings.Join(m.Days, " ") != "Fri sat" || m.Calendar != cal {
		t.Fatalf("%+v", m)
	}
	if err := m.provision(zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"minors {\n unknown maybe\n}", "minors {\n window 20:00\n}", "minors {\n days\n}", "minors {\n colour red\n}",
		"minors {\n adult_age x\n}", "minors {\n timezone A\n timezone B\n}", "minors x {\n}",
	} {
		d := caddyfile.NewTestDispenser("gameauth {\n seayoo {\n secret sk_secret\n game_id xcom\n }\n" + bad + "\n}")
		var h Handler
		err := h.UnmarshalCaddyfile(d)
		if err == nil && h.Minors != nil {
			err = h.Minors.provision(nil)
		}
		if err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Every bound and value error names the Caddyfile word.
func TestMinorsProvisionErrors(t *testing.T) {
	bad := writeCalendar(t, "{\n\"source\": \"x\",\n\"holidays\": [\"2026-02-30\"]\n}")
	for _, tc := range []struct {
		m    MinorsPolicy
		want string
	}{
		{MinorsPolicy{AdultAge: 31}, "adult_age 31 is out of range: want 1 to 30"},
		{MinorsPolicy{AdultAge: -1}, "adult_age -1"},
		{MinorsPolicy{AgeClaim: "Age"}, "age_claim"},
		{MinorsPolicy{AgeClaim: "id"}, "age_claim"},
		{MinorsPolicy{Unknown: "child"}, "unknown \"child\": want minor, adult or deny"},
		{MinorsPolicy{Timezone: "Mars/Olympus"}, "timezone \"Mars/Olympus\""},
		{MinorsPolicy{Timezone: "Local"}, "timezone Local"},
		{MinorsPolicy{Window: []string{"20:00"}}, "window takes a start and an end"},
		{MinorsPolicy{Window: []string{"24:00", "21:00"}}, "window \"24:00\" \"21:00\""},
		{MinorsPolicy{Window: []string{"8:00", "21:00"}}, "window"},
		{MinorsPolicy{Window: []string{"21:00", "21:00:00"}}, "is empty"},
		{MinorsPolicy{Days: []string{"fri", "friday"}}, "days: \"friday\" is not a weekday"},
		{MinorsPolicy{Days: []string{"fri", "FRI"}}, "days: fri is named twice"},
		{MinorsPolicy{Calendar: bad}, bad + ":3: holidays: \"2026-02-30\" is not a date"},
		{MinorsPolicy{Calendar: filepath.Join(t.TempDir(), "none.json")}, "calendar: open"},
		{MinorsPolicy{Calendar: t.TempDir()}, "not a regular file"},
	} {
		err := tc.m.provision(nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "gameauth: minors: ") {
			t.Errorf("%+v: %v, want %q", tc.m, err, tc.want)
		}
	}
	// claim_headers age_band needs a minors block.
	if _, err := tryTestHandler(t, &Handler{ClaimHeaders: []string{"age_band"}}, accepts("seayoo", "1")); err != errNoMinors {
		t.Errorf("age_band without minors: %v", err)
	}
}

// BenchmarkMinorsCheck is the per-request cost of the rule for a minor
// (the age read, the band, the decision) outside the window.
func BenchmarkMinorsCheck(b *testing.B) {
	m := &MinorsPolicy{now: func() time.Time { return cst(2026, 10, 16, 20, 30, 0) }}
	if err := m.provision(nil); err != nil {
		b.Fatal(err)
	}
	id := verifiers.Identity{Provider: "seayoo", Subject: "1001", Claims: []verifiers.Claim{{Name: "idp", Value: "taptap"}, {Name: "age", Value: "16"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.check(&id); err != nil {
			b.Fatal(err)
		}
	}
}

// The shipped example calendar loads and says what the 2026 notice says:
// 2026-02-14 (a Saturday) is a make-up workday, 2026-02-18 (a Wednesday)
// a play day, and 2026-10-10 (a Saturday) a workday.
func TestMinorsExampleCalendar(t *testing.T) {
	m := &MinorsPolicy{Calendar: "../demo/play-calendar.example.json"}
	if err := m.provision(nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Time
		play bool
	}{
		{cst(2026, 2, 14, 20, 30, 0), false},
		{cst(2026, 2, 18, 20, 30, 0), true},
		{cst(2026, 10, 10, 20, 30, 0), false},
		{cst(2026, 10, 7, 20, 30, 0), true},
		{cst(2026, 10, 9, 20, 30, 0), true}, // an ordinary Friday
	} {
		if ok, _, _, _ := m.policy.Decide(tc.at); ok != tc.play {
			t.Errorf("%v: play %v, want %v", tc.at.In(shanghai), ok, tc.play)
		}
	}
}
