package caddyauth_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"
)

// adminCaddy is an in-process Caddy with the admin API on a loopback
// port, a gameauth route for Seayoo tokens, and the ban list in a
// file-system storage directory.
type adminCaddy struct {
	addr, admin, site, dir string
}

// startAdminCaddy starts the in-process Caddy for a test.
func startAdminCaddy(t *testing.T) adminCaddy { t.Helper(); return startAdminCaddyApp(t, `{}`) }

// startAdminCaddyApp is startAdminCaddy with the gameauth app's JSON.
func startAdminCaddyApp(t *testing.T, app string) adminCaddy {
	t.Helper()
	c := adminCaddy{dir: t.TempDir()}
	c.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c.admin = "http://" + c.addr
	sitePort := freePort(t)
	c.site = fmt.Sprintf("http://127.0.0.1:%d/", sitePort)
	dir, _ := json.Marshal(c.dir)
	startCaddy(t, fmt.Appendf(nil, `{
	"admin": {"listen": %q, "config": {"persist": false}},
	"logging": {"logs": {"default": {"writer": {"output": "discard"}}}},
	"storage": {"module": "file_system", "root": %s},
	"apps": {"gameauth": %s, "http": {"servers": {"s": {"listen": ["127.0.0.1:%d"], "routes": [{"handle": [
		{"handler": "gameauth", "verifiers": [{"verifier": "seayoo", "secret": %q, "game_id": %q}]},
		{"handler": "static_response", "body": "ok"}]}]}}}}}`, c.addr, dir, app, sitePort, seayooSecret, seayooGame))
	return c
}

// api sends a request to the admin API; a refusal must be a JSON error.
func (c adminCaddy) api(t *testing.T, method, path, body string) response {
	t.Helper()
	r := do(t, method, c.admin+path, nil, body)
	if r.status >= 400 {
		if e, _ := mustJSON(t, r.body)["error"].(string); e == "" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d without a JSON error: %q", method, path, r.status, r.body)
		}
	}
	return r
}

// changes counts the change records in storage.
func (c adminCaddy) changes(t *testing.T) int {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(c.dir, "gameauth", "bans", "changes", "*.json"))
	return len(names)
}

// adminPage is a page of GET /gameauth/bans.
type adminPage struct {
	Bans        []map[string]string `json:"bans"`
	Revocations []map[string]string `json:"revocations"`
	Next        string              `json:"next"`
}

// list gets one page of GET /gameauth/bans.
func (c adminCaddy) list(t *testing.T, query string) adminPage {
	t.Helper()
	r := c.api(t, "GET", "/gameauth/bans?"+query, "")
	if r.status != 200 {
		t.Fatalf("GET %s: %d %s", query, r.status, r.body)
	}
	var p adminPage
	if err := json.Unmarshal([]byte(r.body), &p); err != nil || p.Bans == nil || p.Revocations == nil {
		t.Fatalf("page %q: %v", r.body, err)
	}
	return p
}

// TestAdminBanUnbanRevoke bans, lifts and revokes through the API and
// checks the gameauth route enforces each at once.
func TestAdminBanUnbanRevoke(t *testing.T) {
	c := startAdminCaddy(t)
	until := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	r := c.api(t, "POST", "/gameauth/bans", `{"provider":"seayoo","subject":"1001","until":"`+until+`","reason":"cheating"}`)
	if r.status != 201 {
		t.Fatalf("POST ban: %d %s", r.status, r.body)
	}
	got := mustJSON(t, r.body)
	if got["provider"] != "seayoo" || got["subject"] != "1001" || got["until"] != until ||
		got["reason"] != "cheating" || got["created_by"] != "admin api" || got["created_at"] == nil {
		t.Errorf("stored ban %v", got)
	}
	if p := c.list(t, ""); len(p.Bans) != 1 || p.Bans[0]["subject"] != "1001" || p.Bans[0]["until"] != until || p.Next != "" {
		t.Errorf("list after ban: %+v", p)
	}
	// Enforced at once on this instance: no sync to wait for.
	r = get(t, c.site, bearer(seayooToken(t, "1001", nil)))
	if r.status != 403 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error_description="banned"`) || r.header.Get("Retry-After") == "" {
		t.Errorf("banned player: %d %v", r.status, r.header)
	}
	if r = get(t, c.site, bearer(seayooToken(t, "1002", nil))); r.status != 200 {
		t.Errorf("other player: %d", r.status)
	}

	if r = c.api(t, "DELETE", "/gameauth/bans/seayoo/1001?created_by=ops", ""); r.status != 200 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if got := mustJSON(t, r.body); got["subject"] != "1001" || got["created_by"] != "ops" {
		t.Errorf("unban answer %v", got)
	}
	if r = get(t, c.site, bearer(seayooToken(t, "1001", nil))); r.status != 200 {
		t.Errorf("after unban: %d", r.status)
	}
	if p := c.list(t, ""); len(p.Bans) != 0 {
		t.Errorf("list after unban: %+v", p)
	}
	n := c.changes(t)
	if r = c.api(t, "DELETE", "/gameauth/bans/seayoo/1001", ""); r.status != 404 || c.changes(t) != n {
		t.Errorf("second DELETE: %d %s, %d changes, want 404 and none", r.status, r.body, c.changes(t)-n)
	}

	// A subject with a '/' is lifted with it escaped as %2F.
	if r = c.api(t, "POST", "/gameauth/bans", `{"provider":"seayoo","subject":"a/b","created_by":"ops"}`); r.status != 201 {
		t.Fatalf("POST a/b: %d %s", r.status, r.body)
	}
	if got := mustJSON(t, r.body); got["until"] != nil || got["created_by"] != "ops" {
		t.Errorf("ban forever: %v", got)
	}
	if r = c.api(t, "DELETE", "/gameauth/bans/seayoo/a%2Fb", ""); r.status != 200 {
		t.Errorf("DELETE a%%2Fb: %d %s", r.status, r.body)
	}

	old := seayooToken(t, "1002", func(c jwt.MapClaims) { c["iat"] = time.Now().Add(-time.Minute).Unix() })
	if r = c.api(t, "POST", "/gameauth/revocations", `{"provider":"seayoo","subject":"1002"}`); r.status != 201 {
		t.Fatalf("POST revocation: %d %s", r.status, r.body)
	}
	before := mustJSON(t, r.body)["before"].(string)
	if r = get(t, c.site, bearer(old)); r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "token revoked") {
		t.Errorf("revoked token: %d %v", r.status, r.header)
	}
	if p := c.list(t, "subject=1002"); len(p.Revocations) != 1 || p.Revocations[0]["before"] != before || len(p.Bans) != 0 {
		t.Errorf("list of revocations: %+v", p)
	}
}

// TestAdminPaging pages the list with several limits: every entry comes
// exactly once, in order, in the fewest pages.
func TestAdminPaging(t *testing.T) {
	c := startAdminCaddy(t)
	want := map[string]bool{}
	for i := range 23 {
		p, s := []string{"seayoo", "zego"}[i%2], fmt.Sprintf("u%02d", 22-i)
		if r := c.api(t, "POST", "/gameauth/bans", fmt.Sprintf(`{"provider":%q,"subject":%q}`, p, s)); r.status != 201 {
			t.Fatalf("ban %d: %d %s", i, r.status, r.body)
		}
		want[p+"\x00"+s+"\x00ban"] = true
		if i%3 == 0 { // the same key holds a ban and a revocation
			if r := c.api(t, "POST", "/gameauth/revocations", fmt.Sprintf(`{"provider":%q,"subject":%q}`, p, s)); r.status != 201 {
				t.Fatalf("revoke %d: %d %s", i, r.status, r.body)
			}
			want[p+"\x00"+s+"\x00revoke"] = true
		}
	}
	for _, limit := range []int{1, 4, 7, len(want), len(want) + 1, 1000} {
		seen, pages, last, query := map[string]bool{}, 0, "", fmt.Sprintf("limit=%d", limit)
		for {
			p := c.list(t, query)
			pages++
			var keys []string // provider, subject, op: the order of the pages
			for _, b := range p.Bans {
				keys = append(keys, b["provider"]+"\x00"+b["subject"]+"\x00ban")
			}
			for _, r := range p.Revocations {
				keys = append(keys, r["provider"]+"\x00"+r["subject"]+"\x00revoke")
			}
			slices.Sort(keys)
			if len(keys) > limit || p.Next != "" && len(keys) != limit || len(keys) > 0 && keys[0] <= last {
				t.Fatalf("limit %d: page of %d from %q after %q, next %q", limit, len(keys), keys, last, p.Next)
			}
			for _, k := range keys {
				if seen[k] || !want[k] {
					t.Fatalf("limit %d: %q twice or unknown", limit, k)
				}
				seen[k] = true
				last = k
			}
			if p.Next == "" {
				break
			}
			query = fmt.Sprintf("limit=%d&after=%s", limit, url.QueryEscape(p.Next))
		}
		if len(seen) != len(want) || pages != (len(want)+limit-1)/limit {
			t.Errorf("limit %d: %d entries of %d in %d pages", limit, len(seen), len(want), pages)
		}
	}
	if p := c.list(t, "provider=zego&limit=1000"); len(p.Bans) != 11 || len(p.Revocations) != 4 {
		t.Errorf("zego: %d bans, %d revocations", len(p.Bans), len(p.Revocations))
	}
	if p := c.list(t, "provider=seayoo&subject=u22"); len(p.Bans) != 1 || len(p.Revocations) != 1 {
		t.Errorf("seayoo/u22: %+v", p)
	}
}

// TestAdminAttacks sends bad requests: each is refused with a JSON error
// and changes nothing, in storage or in the list.
func TestAdminAttacks(t *testing.T) {
	c := startAdminCaddy(t)
	if r := c.api(t, "POST", "/gameauth/bans", `{"provider":"seayoo","subject":"1001"}`); r.status != 201 {
		t.Fatal(r.status, r.body)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	ban := func(fields string) string { return `{"provider":"seayoo","subject":"x"` + fields + `}` }
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"unknown provider", "POST", "/gameauth/bans", `{"provider":"nope","subject":"1"}`, 400},
		{"provider missing", "POST", "/gameauth/bans", `{"subject":"1"}`, 400},
		{"empty subject", "POST", "/gameauth/bans", `{"provider":"seayoo","subject":""}`, 400},
		{"subject with NUL", "POST", "/gameauth/bans", `{"provider":"seayoo","subject":"a\u0000b"}`, 400},
		{"subject with newline", "POST", "/gameauth/bans", `{"provider":"seayoo","subject":"a\nb"}`, 400},
		{"subject with bidi override", "POST", "/gameauth/bans", `{"provider":"seayoo","subject":"a\u202eb"}`, 400},
		{"300-byte subject", "POST", "/gameauth/bans", `{"provider":"seayoo","subject":"` + strings.Repeat("s", 300) + `"}`, 400},
		{"reason too long", "POST", "/gameauth/bans", ban(`,"reason":"` + strings.Repeat("r", 201) + `"`), 400},
		{"created_by with tab", "POST", "/gameauth/bans", ban(`,"created_by":"a\tb"`), 400},
		{"until in the past", "POST", "/gameauth/bans", ban(`,"until":"2020-01-01T00:00:00Z"`), 400},
		{"until not RFC 3339", "POST", "/gameauth/bans", ban(`,"until":"2030-01-01"`), 400},
		{"until after 2200", "POST", "/gameauth/bans", ban(`,"until":"2300-01-01T00:00:00Z"`), 400},
		{"before in the future", "POST", "/gameauth/revocations", `{"provider":"seayoo","subject":"x","before":"` + future + `"}`, 400},
		{"before too old", "POST", "/gameauth/revocations", `{"provider":"seayoo","subject":"x","before":"2001-01-01T00:00:00Z"}`, 400},
		{"until on a revocation", "POST", "/gameauth/revocations", ban(`,"until":"` + future + `"`), 400},
		{"1 MiB body", "POST", "/gameauth/bans", ban(`,"reason":"` + strings.Repeat("r", 1<<20) + `"`), 400},
		{"bad JSON", "POST", "/gameauth/bans", `{"provider":`, 400},
		{"JSON array", "POST", "/gameauth/bans", `[{"provider":"seayoo","subject":"x"}]`, 400},
		{"unknown field", "POST", "/gameauth/bans", ban(`,"admin":true`), 400},
		{"case-folded field", "POST", "/gameauth/bans", `{"provider":"seayoo","Subject":"x"}`, 400},
		{"trailing garbage", "POST", "/gameauth/bans", ban(``) + `x`, 400},
		{"two objects", "POST", "/gameauth/bans", ban(``) + ban(``), 400},
		{"duplicate subject", "POST", "/gameauth/bans", `{"provider":"seayoo","subject":"x","subject":"1001"}`, 400},
		{"number for a string", "POST", "/gameauth/bans", `{"provider":"seayoo","subject":1001}`, 400},
		{"null", "POST", "/gameauth/bans", `null`, 400},
		{"empty body", "POST", "/gameauth/bans", ``, 400},
		{"null subject", "POST", "/gameauth/bans", `{"provider":"seayoo","subject":null}`, 400},
		{"query on POST", "POST", "/gameauth/bans?subject=x", ban(``), 400},
		{"PUT", "PUT", "/gameauth/bans", ban(``), 405},
		{"GET revocations", "GET", "/gameauth/revocations", "", 405},
		{"PATCH a ban", "PATCH", "/gameauth/bans/seayoo/1001", "", 405},
		{"unknown path", "GET", "/gameauth/players", "", 404},
		{"path traversal", "DELETE", "/gameauth/bans/seayoo/..%2F..", "", 404},
		{"traversal to the banned", "DELETE", "/gameauth/bans/seayoo/x%2F..%2F1001", "", 404},
		{"DELETE missing subject", "DELETE", "/gameauth/bans/seayoo", "", 400},
		{"DELETE empty subject", "DELETE", "/gameauth/bans/seayoo/", "", 400},
		{"DELETE raw slash", "DELETE", "/gameauth/bans/seayoo/10/01", "", 400},
		{"DELETE invalid UTF-8", "DELETE", "/gameauth/bans/seayoo/%C3%28", "", 400},
		{"DELETE control", "DELETE", "/gameauth/bans/seayoo/a%00b", "", 400},
		{"DELETE bad provider", "DELETE", "/gameauth/bans/SEAYOO/1001", "", 400},
		{"DELETE unknown query", "DELETE", "/gameauth/bans/seayoo/1001?force=1", "", 400},
		{"limit 0", "GET", "/gameauth/bans?limit=0", "", 400},
		{"limit too big", "GET", "/gameauth/bans?limit=1001", "", 400},
		{"bad cursor", "GET", "/gameauth/bans?after=..%2F..", "", 400},
		{"limit twice", "GET", "/gameauth/bans?limit=1&limit=2", "", 400},
	}
	before, changes := c.list(t, "limit=1000"), c.changes(t)
	for _, tc := range tests {
		if r := c.api(t, tc.method, tc.path, tc.body); r.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.status, r.body, tc.status)
		}
	}
	if after := c.list(t, "limit=1000"); fmt.Sprint(after) != fmt.Sprint(before) || c.changes(t) != changes {
		t.Errorf("the list changed: %+v, then %+v; %d change records, then %d", before, after, changes, c.changes(t))
	}
}

// runBanCommand runs caddy gameauth-ban in-process against the admin
// listener at addr.
func runBanCommand(t *testing.T, addr string, args ...string) (string, error) {
	t.Helper()
	c, ok := caddycmd.Commands()["gameauth-ban"]
	if !ok {
		t.Fatal("gameauth-ban not registered")
	}
	cmd := &cobra.Command{Use: c.Name, SilenceUsage: true}
	c.CobraFunc(cmd)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(append(args, "--address", addr))
	err := cmd.Execute()
	return out.String(), err
}

// TestAdminCommand runs caddy gameauth-ban add, list, remove and revoke,
// and its refusals.
func TestAdminCommand(t *testing.T) {
	c := startAdminCaddy(t)
	out, err := runBanCommand(t, c.addr, "add", "seayoo", "1001", "--for", "72h", "--reason", "cheating", "--by", "alice")
	if err != nil || !strings.Contains(out, `"reason": "cheating"`) || !strings.Contains(out, `"created_by": "alice"`) {
		t.Fatalf("add: %v %s", err, out)
	}
	if _, err := runBanCommand(t, c.addr, "add", "seayoo", "a/b"); err != nil {
		t.Fatal(err)
	}
	if out, err = runBanCommand(t, c.addr, "revoke", "zego", "7", "--before", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)); err != nil {
		t.Fatalf("revoke: %v %s", err, out)
	}
	out, err = runBanCommand(t, c.addr, "list")
	if err != nil || !strings.Contains(out, "cheating") || !strings.Contains(out, "a/b") || !strings.Contains(out, "zego") || strings.Count(out, "\n") != 4 {
		t.Errorf("list: %v\n%s", err, out)
	}
	out, err = runBanCommand(t, c.addr, "list", "--json", "--all", "--limit", "1")
	var p adminPage
	if err != nil || json.Unmarshal([]byte(out), &p) != nil || len(p.Bans) != 2 || len(p.Revocations) != 1 || p.Next != "" {
		t.Errorf("list --json --all: %v %s", err, out)
	}
	if out, err = runBanCommand(t, c.addr, "list", "--limit", "1"); err != nil || !strings.Contains(out, "--after ") {
		t.Errorf("list of one page: %v %s", err, out)
	}
	if out, err = runBanCommand(t, c.addr, "remove", "seayoo", "a/b"); err != nil || !strings.Contains(out, `"subject": "a/b"`) {
		t.Errorf("remove: %v %s", err, out)
	}
	if p := c.list(t, ""); len(p.Bans) != 1 {
		t.Errorf("after remove: %+v", p)
	}
	for _, args := range [][]string{
		{"add", "nope", "1"},
		{"remove", "seayoo", "a/b"},
		{"revoke", "seayoo", "1", "--before", "2999-01-01T00:00:00Z"},
		{"add", "seayoo", "1", "--for", "1h", "--until", "2030-01-01T00:00:00Z"},
		{"add", "seayoo"},
		{"frob"},
	} {
		if out, err := runBanCommand(t, c.addr, args...); err == nil {
			t.Errorf("%v: no error: %s", args, out)
		} else if args[0] == "add" && args[1] == "nope" && !strings.Contains(err.Error(), `HTTP 400: unknown provider "nope"`) {
			t.Errorf("%v: %v", args, err)
		}
	}
	if _, err := runBanCommand(t, "127.0.0.1:1", "list"); err == nil {
		t.Error("no admin listener: no error")
	}
}

// TestAdminFull: once the list holds max_entries players, a ban of another
// player is refused (507) and nothing is stored, since no instance would
// enforce it; changes to players it holds still go through.
func TestAdminFull(t *testing.T) {
	c := startAdminCaddyApp(t, `{"max_entries": 2}`)
	for _, sub := range []string{"a", "b"} {
		if r := c.api(t, "POST", "/gameauth/bans", `{"provider":"seayoo","subject":"`+sub+`"}`); r.status != 201 {
			t.Fatalf("ban %s: %d %s", sub, r.status, r.body)
		}
	}
	before := c.changes(t)
	if r := c.api(t, "POST", "/gameauth/bans", `{"provider":"seayoo","subject":"c"}`); r.status != 507 || !strings.Contains(r.body, "max_entries") {
		t.Errorf("ban beyond max_entries: %d %s, want 507 naming max_entries", r.status, r.body)
	}
	if n := c.changes(t); n != before {
		t.Errorf("%d change records after a refused ban, want %d", n, before)
	}
	if r := c.api(t, "DELETE", "/gameauth/bans/seayoo/a", ""); r.status != 200 {
		t.Errorf("unban of a held player while full: %d %s", r.status, r.body)
	}
	if r := c.api(t, "POST", "/gameauth/revocations", `{"provider":"seayoo","subject":"b"}`); r.status != 201 {
		t.Errorf("revocation of a held player while full: %d %s", r.status, r.body)
	}
}

// TestAdminStorageDown: a change the storage refuses is a 503 JSON error
// that names no path or secret, and nothing is applied: the player still
// passes and the list is unchanged.
func TestAdminStorageDown(t *testing.T) {
	c := startAdminCaddy(t)
	// A file where the change records' directory goes: every Store fails.
	bansDir := filepath.Join(c.dir, "gameauth", "bans")
	if err := os.MkdirAll(bansDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bansDir, "changes"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := c.api(t, "POST", "/gameauth/bans", `{"provider":"seayoo","subject":"1001"}`)
	if r.status != 503 || !strings.Contains(r.body, "not applied") || strings.Contains(r.body, c.dir) {
		t.Errorf("ban with the storage down: %d %s, want 503 saying it was not applied, without the path", r.status, r.body)
	}
	if p := c.list(t, ""); len(p.Bans) != 0 {
		t.Errorf("list after a failed store: %+v", p)
	}
	if r := get(t, c.site, bearer(seayooToken(t, "1001", nil))); r.status != 200 {
		t.Errorf("player after a failed ban: %d, want 200 (nothing applied)", r.status)
	}
	if r := c.api(t, "POST", "/gameauth/revocations", `{"provider":"seayoo","subject":"1001"}`); r.status != 503 {
		t.Errorf("revocation with the storage down: %d %s, want 503", r.status, r.body)
	}
}
