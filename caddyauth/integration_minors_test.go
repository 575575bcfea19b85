package caddyauth_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issue 17's Done-when through a real Caddy, at the real time: each route
// configures a window relative to now (to the second) in Asia/Shanghai,
// whatever the host's timezone, so no clock is injected. The edges of the
// window are in the unit tests, with an injected clock.

// playWindow returns a minors block whose window opens at now+from and
// closes at now+to, in Beijing time, on days (all: every day).
func playWindow(now time.Time, from, to time.Duration, unknown, days, calendar string) string {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	b := fmt.Sprintf("minors {\n\t\t\ttimezone Asia/Shanghai\n\t\t\twindow %s %s\n\t\t\tdays %s\n",
		now.Add(from).In(loc).Format(time.TimeOnly), now.Add(to).In(loc).Format(time.TimeOnly), days)
	if unknown != "" {
		b += "\t\t\tunknown " + unknown + "\n"
	}
	if calendar != "" {
		b += "\t\t\tcalendar " + calendar + "\n"
	}
	return b + "\t\t}"
}

const allDays = "sun mon tue wed thu fri sat"

func TestMinorsThroughCaddy(t *testing.T) {
	up := newUpstream(t)
	ws := minorsWSUpstream(t)
	now := time.Now()
	loc, _ := time.LoadLocation("Asia/Shanghai")
	// The day the "inside" window opened on, in Beijing: a calendar entry
	// for it decides.
	openDay := now.Add(-time.Minute).In(loc)
	otherDay := strings.ToLower(openDay.Add(24 * time.Hour).Weekday().String()[:3])
	dir := t.TempDir()
	workday := writeFile(t, dir, "workday.json", fmt.Sprintf(`{"source": "test", "workdays": [%q]}`, openDay.Format(time.DateOnly)))
	holiday := writeFile(t, dir, "holiday.json", fmt.Sprintf(`{"source": "test", "holidays": [%q]}`, openDay.Format(time.DateOnly)))

	route := func(path, minors, then string) string {
		return fmt.Sprintf(`
	handle %s {
		gameauth {
			seayoo {
				secret sk_secret
				game_id xcom
			}
			claim_headers age_band
			%s
		}
		%s
	}`, path, minors, then)
	}
	proxy := "reverse_proxy {UPSTREAM}"
	site := "{ADDR} {" +
		route("/inside", playWindow(now, -time.Minute, 10*time.Minute, "", allDays, ""), proxy) +
		route("/outside", playWindow(now, time.Hour, 2*time.Hour, "", allDays, ""), proxy) +
		route("/outside-unknown-adult", playWindow(now, time.Hour, 2*time.Hour, "adult", allDays, ""), proxy) +
		route("/inside-unknown-deny", playWindow(now, -time.Minute, 10*time.Minute, "deny", allDays, ""), proxy) +
		route("/workday", playWindow(now, -time.Minute, 10*time.Minute, "", allDays, workday), proxy) +
		route("/holiday", playWindow(now, -time.Minute, 10*time.Minute, "", otherDay, holiday), proxy) +
		route("/token", playWindow(now, -time.Minute, 90*time.Second, "", allDays, ""), `gameauth_issuer twilio {
			account_sid AC0123456789abcdef0123456789abcdef
			api_key_sid SKfedcba9876543210fedcba9876543210
			api_key_secret demo-twilio-api-key-secret
		}`) +
		route("/ws", playWindow(now, -time.Minute, 4*time.Second, "", allDays, ""), "reverse_proxy "+ws) +
		"\n}\n"
	base := runCaddyfile(t, site, up)

	ageTok := func(age any) string {
		return seayooToken(t, "p-"+fmt.Sprint(age), func(c jwt.MapClaims) {
			if age == nil {
				delete(c, "age")
			} else {
				c["age"] = age
			}
		})
	}
	minor, adult, zero := ageTok(16), ageTok(18), ageTok(0)

	pass := func(path, tok, band string) {
		t.Helper()
		r := get(t, base+path, bearer(tok))
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %q, want it passed", path, r.status, r.body)
		}
		seen := up.take()
		if len(seen) != 1 || seen[0].Get("X-Auth-Age-Band") != band {
			t.Fatalf("%s: upstream saw %v, want one request with X-Auth-Age-Band %s", path, seen, band)
		}
	}
	refuse := func(path, tok, reason string, retryAfter bool) response {
		t.Helper()
		r := get(t, base+path, bearer(tok))
		if r.status != http.StatusForbidden || !strings.Contains(r.header.Get("WWW-Authenticate"), `error_description="`+reason+`"`) {
			t.Fatalf("%s: %d %q %q, want 403 %s", path, r.status, r.header.Get("WWW-Authenticate"), r.body, reason)
		}
		if (r.header.Get("Retry-After") != "") != retryAfter {
			t.Fatalf("%s: Retry-After %q", path, r.header.Get("Retry-After"))
		}
		if seen := up.take(); len(seen) != 0 {
			t.Fatalf("%s: a refused request reached the upstream", path)
		}
		return r
	}

	pass("/inside", minor, "16-17")
	r := refuse("/outside", minor, "minor play time", true)
	if s, _ := strconv.Atoi(r.header.Get("Retry-After")); s < 3590 || s > 3601 {
		t.Errorf("Retry-After %q, want about 3600 (the next window opens in an hour)", r.header.Get("Retry-After"))
	}
	pass("/outside", adult, "adult")
	pass("/inside", adult, "adult")
	// Age 0 follows unknown: minor (the default), adult, deny.
	pass("/inside", zero, "unknown")
	refuse("/outside", zero, "minor play time", true)
	pass("/outside-unknown-adult", zero, "unknown")
	refuse("/inside-unknown-deny", zero, "age unknown", false)
	pass("/inside-unknown-deny", minor, "16-17")
	// The calendar: a make-up workday is refused, a holiday allowed
	// whatever its weekday.
	// (No Retry-After: the next window is after the calendar's last date,
	// beyond its horizon.)
	refuse("/workday", minor, "minor play time", false)
	pass("/holiday", minor, "16-17")

	// The issued token stops at the window's end.
	tr := get(t, base+"/token", bearer(minor))
	if tr.status != http.StatusOK {
		t.Fatalf("/token: %d %q", tr.status, tr.body)
	}
	ans := mustJSON(t, tr.body)
	in, _ := ans["expires_in"].(float64)
	at, _ := ans["expires_at"].(float64)
	end := now.Add(90 * time.Second).Unix()
	if in < 80 || in > 90 || int64(at) > end {
		t.Errorf("minor's token: expires_in %v, expires_at %v; want at most 90 and at most %d", in, at, end)
	}
	if tr := get(t, base+"/token", bearer(adult)); !strings.Contains(tr.body, `"expires_in":3600`) {
		t.Errorf("adult's token: %q, want the issuer's 1h", tr.body)
	}

	// A minor's WebSocket is closed at the window's end with 1008 and the
	// reason; an adult's stays open.
	minorWS := dialMinorsWS(t, base, minor)
	adultWS := dialMinorsWS(t, base, adult)
	minorWS.SetDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(minorWS)
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("minor's WebSocket: %v before a close frame", err)
	}
	payload := make([]byte, h[1]&0x7f)
	if _, err := io.ReadFull(br, payload); err != nil || h[0] != 0x88 || len(payload) < 2 ||
		binary.BigEndian.Uint16(payload) != 1008 || string(payload[2:]) != "minor play time" {
		t.Fatalf("minor's WebSocket: frame % x %q (%v), want close 1008 minor play time", h, payload, err)
	}
	if time.Until(now.Add(4*time.Second)) > time.Second {
		t.Errorf("closed before the window's end")
	}
	adultWS.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := adultWS.Read(h[:1]); err == nil || !err.(net.Error).Timeout() {
		t.Errorf("adult's WebSocket: %v, want it still open", err)
	}
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := dir + "/" + name
	if err := writeFileBytes(p, data); err != nil {
		t.Fatal(err)
	}
	return p
}

// minorsWSUpstream answers a WebSocket handshake and holds the
// connection, writing nothing, until the proxy closes it.
func minorsWSUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				fmt.Fprint(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
				io.Copy(io.Discard, br)
			}()
		}
	}()
	return ln.Addr().String()
}

// dialMinorsWS opens a WebSocket to base/ws with tok and returns the
// connection after the 101.
func dialMinorsWS(t *testing.T, base, tok string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer %s\r\n\r\n", tok)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || br.Buffered() != 0 {
		t.Fatalf("WebSocket handshake: %v %v", resp, err)
	}
	c.SetDeadline(time.Time{})
	return c
}

func writeFileBytes(p, data string) error { return os.WriteFile(p, []byte(data), 0o600) }
