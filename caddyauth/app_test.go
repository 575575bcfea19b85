package caddyauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// TestBanDecisions drives the ban list's answers through the handler:
// status, challenge, Retry-After, nothing passed on and no identity left.
func TestBanDecisions(t *testing.T) {
	ctx := context.Background()
	iat := time.Now().Add(-time.Hour).Truncate(time.Second)
	v := accepts("seayoo", "1001", "age", "16")
	v.id.IssuedAt = iat
	v.id.Expires = time.Now().Add(time.Hour)
	h := newTestHandler(t, &Handler{}, v)
	list := h.bans.replica

	o := serve(h, get("/", bearer("t")...))
	o.passed(t, "seayoo", "1001")

	refused := func(t *testing.T, o served, status int, reason, retry string) {
		t.Helper()
		if o.status != status || o.next != nil {
			t.Fatalf("status %d (next called: %v), want %d and not passed on", o.status, o.next != nil, status)
		}
		if got := placeholder(o.repl, ErrorPlaceholder); got != reason {
			t.Errorf("reason %q, want %q", got, reason)
		}
		if !strings.Contains(o.rec.Header().Get("WWW-Authenticate"), `error_description="`+reason+`"`) {
			t.Errorf("challenge %q does not give the reason", o.rec.Header().Get("WWW-Authenticate"))
		}
		if got := o.rec.Header().Get("Retry-After"); got != retry {
			t.Errorf("Retry-After %q, want %q", got, retry)
		}
		if id := placeholder(o.repl, "http.auth.user.id"); id != "" {
			t.Errorf("{http.auth.user.id} = %q after a refusal", id)
		}
	}

	// A ban until a time: 403 with Retry-After in whole seconds, rounded up.
	until := time.Now().Add(90*time.Second + 300*time.Millisecond)
	if err := list.Ban(ctx, "seayoo", "1001", until, "cheating", "test"); err != nil {
		t.Fatal(err)
	}
	o = serve(h, get("/", bearer("t")...))
	refused(t, o, 403, verifiers.ReasonBanned, "91")

	// The same subject under another provider is another player.
	other := newTestHandler(t, &Handler{}, accepts("twilio", "1001"))
	other.bans = h.bans
	serve(other, get("/", bearer("t")...)).passed(t, "twilio", "1001")

	// For ever: no Retry-After.
	if err := list.Ban(ctx, "seayoo", "1001", time.Time{}, "", "test"); err != nil {
		t.Fatal(err)
	}
	refused(t, serve(h, get("/", bearer("t")...)), 403, verifiers.ReasonBanned, "")

	if err := list.Unban(ctx, "seayoo", "1001", "test"); err != nil {
		t.Fatal(err)
	}
	serve(h, get("/", bearer("t")...)).passed(t, "seayoo", "1001")

	// A revocation refuses tokens issued before it, and only those.
	if err := list.Revoke(ctx, "seayoo", "1001", iat.Add(time.Second), "test"); err != nil {
		t.Fatal(err)
	}
	refused(t, serve(h, get("/", bearer("t")...)), 401, verifiers.ReasonTokenRevoked, "")
	v.id.IssuedAt = iat.Add(time.Second)
	serve(h, get("/", bearer("t")...)).passed(t, "seayoo", "1001")
	// A token without an issue time cannot show it is newer.
	v.id.IssuedAt = time.Time{}
	refused(t, serve(h, get("/", bearer("t")...)), 401, verifiers.ReasonTokenRevoked, "")
}

// TestBanListUnavailable: a list never read refuses everyone with 503, and
// so does one older than fail_closed_after; without that bound a stale list
// stays in force.
func TestBanListUnavailable(t *testing.T) {
	h := newTestHandler(t, &Handler{}, accepts("seayoo", "1001"))
	now := time.Now()
	st := newBanState(&memStorage{m: map[string][]byte{}}, 100, defaultRevocationTTL, 10, func() time.Time { return now })
	h.bans = st
	o := serve(h, get("/", bearer("t")...))
	if o.status != 503 || o.next != nil || placeholder(o.repl, ErrorPlaceholder) != verifiers.ReasonBanListUnavailable {
		t.Fatalf("never synced: %d %q, want 503 %q", o.status, placeholder(o.repl, ErrorPlaceholder), verifiers.ReasonBanListUnavailable)
	}
	if ra := o.rec.Header().Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	if _, err := st.replica.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	serve(h, get("/", bearer("t")...)).passed(t, "seayoo", "1001")

	now = now.Add(time.Hour) // an hour without a sync
	serve(h, get("/", bearer("t")...)).passed(t, "seayoo", "1001")
	st.failClosed.Store(int64(time.Minute))
	if o := serve(h, get("/", bearer("t")...)); o.status != 503 {
		t.Errorf("stale beyond fail_closed_after: %d, want 503", o.status)
	}
}

// forgetfulVerifier is a TapTap-like verifier: its IssuedAt is when the
// backing service last confirmed the token, and Forget makes it ask again.
type forgetfulVerifier struct {
	fakeVerifier
	confirmedAt time.Time
	calls       int
	forgot      int
}

func (f *forgetfulVerifier) Verify(ctx context.Context, token string) (verifiers.Identity, error) {
	f.calls++
	id, err := f.fakeVerifier.Verify(ctx, token)
	id.IssuedAt = f.confirmedAt
	return id, err
}

func (f *forgetfulVerifier) Forget(string) {
	f.forgot++
	f.confirmedAt = time.Now().Truncate(time.Second).Add(time.Second)
}

// TestRevocationAsksTapTapAgain: a session confirmed before a revocation is
// checked with the backing service once more instead of being refused.
func TestRevocationAsksTapTapAgain(t *testing.T) {
	f := &forgetfulVerifier{fakeVerifier: *accepts("taptap", "u1"), confirmedAt: time.Now().Add(-time.Hour)}
	h := newTestHandler(t, &Handler{}, &f.fakeVerifier)
	h.verifiers[0] = f
	if err := h.bans.replica.Revoke(context.Background(), "taptap", "u1", time.Now(), "test"); err != nil {
		t.Fatal(err)
	}
	serve(h, get("/", bearer("t")...)).passed(t, "taptap", "u1")
	if f.forgot != 1 || f.calls != 2 {
		t.Errorf("forgot %d, verified %d times; want 1 and 2", f.forgot, f.calls)
	}
}

// TestIssuerRefusesListed: the issuer checks the list itself, whatever the
// handler before it did.
func TestIssuerRefusesListed(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	iss := &ZegoIssuer{AppID: 1234567890, Secret: "0123456789abcdef0123456789abcdef"}
	if err := iss.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	h := &IssuerHandler{User: DefaultIssuerUser}
	h.logger = zap.NewNop()
	h.setIssuer(ctx, iss)
	h.bans = standaloneState()
	if err := h.bans.replica.Ban(context.Background(), "seayoo", "1001", time.Time{}, "", "test"); err != nil {
		t.Fatal(err)
	}
	ask := func(subject string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/tokens/zego", strings.NewReader(`{"room_id":"r1"}`))
		r.Header.Set("Content-Type", "application/json")
		repl := caddyhttp.NewTestReplacer(r)
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
		id := verifiers.Identity{Provider: "seayoo", Subject: subject}
		setIdentity(repl, &id, nil)
		rec := httptest.NewRecorder()
		_ = h.ServeHTTP(rec, r, nil)
		return rec
	}
	rec := ask("1001")
	var body map[string]string
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != 403 || body["error_description"] != verifiers.ReasonBanned || body["token"] != "" {
		t.Errorf("banned player: %d %s, want 403 banned and no token", rec.Code, rec.Body)
	}
	if rec := ask("1002"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"token"`) {
		t.Errorf("another player: %d %s, want a token", rec.Code, rec.Body)
	}
	var _ issuers.Request // the issuer package is the one that minted
}

// TestGlobalOption: the Caddyfile's gameauth global option makes the app's
// JSON, and each bound fails caddy validate with the Caddyfile's word.
func TestGlobalOption(t *testing.T) {
	adapt := func(opts string) (map[string]any, error) {
		cf := "{\n\tgameauth {\n" + opts + "\n\t}\n}\nhttp://127.0.0.1:1 {\n\trespond ok\n}\n"
		b, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
		if err != nil {
			return nil, err
		}
		var cfg struct {
			Apps map[string]json.RawMessage `json:"apps"`
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			t.Fatal(err)
		}
		var app map[string]any
		_ = json.Unmarshal(cfg.Apps["gameauth"], &app)
		return app, nil
	}
	app, err := adapt("\t\tsync_interval 2s\n\t\tfail_closed_after 1m\n\t\tmax_entries 5000\n\t\trevocation_ttl 168h\n\t\tmax_live_sessions 77\n\t\tmax_live_sessions_per_player 5\n\t\tstorage file_system /tmp/x")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"sync_interval": 2e9, "fail_closed_after": 6e10, "max_entries": 5000.0,
		"revocation_ttl": 168 * 3600e9, "max_live_sessions": 77.0, "max_live_sessions_per_player": 5.0,
		"storage": map[string]any{"module": "file_system", "root": "/tmp/x"}}
	got, _ := json.Marshal(app)
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Errorf("adapted %s\nwant     %s", got, wantJSON)
	}
	for _, bad := range []string{"sync_interval", "max_entries 0", "max_entries -1", "max_entries x", "max_live_sessions_per_player 0", "max_live_sessions_per_player", "sync_interval soon", "bogus 1", "storage nosuchmodule"} {
		if _, err := adapt("\t\t" + bad); err == nil {
			t.Errorf("%q adapted, want an error", bad)
		}
	}
	for opts, word := range map[string]string{
		"sync_interval 500ms":                                       "sync_interval 500ms",
		"sync_interval 10m":                                         "sync_interval 10m",
		"sync_interval 5s\n\t\tfail_closed_after 9s":                "fail_closed_after 9s",
		"fail_closed_after 48h":                                     "fail_closed_after 48h",
		"max_entries 20000000":                                      "max_entries 20000000",
		"revocation_ttl 1h":                                         "revocation_ttl 1h",
		"max_live_sessions 20000000":                                "max_live_sessions 20000000",
		"max_live_sessions_per_player 10001":                        "max_live_sessions_per_player 10001",
		"max_live_sessions 10\n\t\tmax_live_sessions_per_player 11": "max_live_sessions_per_player 11",
	} {
		a := &App{}
		app, err := adapt("\t\t" + opts)
		if err != nil {
			t.Fatalf("%q: %v", opts, err)
		}
		b, _ := json.Marshal(app)
		if err := json.Unmarshal(b, a); err != nil {
			t.Fatal(err)
		}
		if err := a.Validate(); err == nil || !strings.Contains(err.Error(), word) {
			t.Errorf("%q: Validate = %v, want an error naming %q", opts, err, word)
		}
	}
	if err := (&App{}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	// The default share is max_live_sessions when that is lower than 16.
	if a := (&App{MaxLiveSessions: 5}); a.Validate() != nil || a.maxLivePerPlayer() != 5 {
		t.Errorf("max_live_sessions 5: Validate = %v, per player %d, want valid and 5", a.Validate(), a.maxLivePerPlayer())
	}
	if a := (&App{}); a.maxLivePerPlayer() != defaultMaxLiveSessionsPerPlayer {
		t.Errorf("default per player %d, want %d", a.maxLivePerPlayer(), defaultMaxLiveSessionsPerPlayer)
	}
}

// TestSyncCompacts: the sync loop folds change records into a snapshot once
// compactAfter of them are settled, and the list stays the same.
func TestSyncCompacts(t *testing.T) {
	st := &memStorage{m: map[string][]byte{}}
	now := time.Now()
	clock := func() time.Time { return now }
	writer := newBanState(st, 100_000, defaultRevocationTTL, 10, clock)
	ctx := context.Background()
	for i := range compactAfter {
		if err := writer.replica.Ban(ctx, "seayoo", fmt.Sprint(i), time.Time{}, "", "test"); err != nil {
			t.Fatal(err)
		}
	}
	changes := func() int {
		keys, _ := st.List(ctx, "gameauth/bans/changes", false)
		return len(keys)
	}
	s := newBanState(st, 100_000, defaultRevocationTTL, 10, clock)
	s.syncOnce(ctx)
	if n := changes(); n != compactAfter {
		t.Fatalf("young changes compacted: %d left, want %d", n, compactAfter)
	}
	now = now.Add(11 * time.Minute) // settled: every instance has read them
	s.syncOnce(ctx)
	if n := changes(); n != 0 {
		t.Errorf("%d change records left after a compaction, want 0", n)
	}
	fresh := newBanState(st, 100_000, defaultRevocationTTL, 10, clock)
	fresh.syncOnce(ctx)
	if fresh.replica.Len() != compactAfter || fresh.replica.Check("seayoo", "7", time.Time{}, now).Verdict.String() == "ok" {
		t.Errorf("after compaction a fresh replica holds %d entries and player 7 is %v", fresh.replica.Len(), fresh.replica.Check("seayoo", "7", time.Time{}, now).Verdict)
	}
}

// keyedStorage is a storage module with configuration and internal state.
type keyedStorage struct {
	memStorage
	Addr string `json:"addr"`
}

// unmarshallable is a storage whose configuration cannot be marshalled.
type unmarshallable struct {
	memStorage
	C chan int `json:"c"`
}

func (*keyedStorage) Exists(context.Context, string) bool { return false }
func (*keyedStorage) Stat(context.Context, string) (certmagic.KeyInfo, error) {
	return certmagic.KeyInfo{}, nil
}
func (*unmarshallable) Exists(context.Context, string) bool { return false }
func (*unmarshallable) Stat(context.Context, string) (certmagic.KeyInfo, error) {
	return certmagic.KeyInfo{}, nil
}

// TestStorageKey: two configs of the same storage share one list, two
// storages do not.
func TestStorageKey(t *testing.T) {
	a1, a2, b := &keyedStorage{Addr: "redis:6379"}, &keyedStorage{Addr: "redis:6379"}, &keyedStorage{Addr: "other:6379"}
	a2.m = map[string][]byte{"state": nil} // internal state does not count
	if storageKey(a1) != storageKey(a2) {
		t.Errorf("the same storage configured twice: %q and %q", storageKey(a1), storageKey(a2))
	}
	if storageKey(a1) == storageKey(b) {
		t.Errorf("two storages share the key %q", storageKey(a1))
	}
	if k1, k2 := storageKey(&certmagic.FileStorage{Path: "/a"}), storageKey(&certmagic.FileStorage{Path: "/b"}); k1 == k2 {
		t.Errorf("two directories share the key %q", k1)
	}
	u1, u2 := &unmarshallable{}, &unmarshallable{}
	if storageKey(u1) == storageKey(u2) {
		t.Errorf("two unmarshallable storages share the key %q", storageKey(u1))
	}
}

// failingStorage fails every call while fail is set.
type failingStorage struct {
	memStorage
	fail atomic.Bool
}

var errStorageDown = errors.New("storage down")

func (f *failingStorage) List(ctx context.Context, dir string, rec bool) ([]string, error) {
	if f.fail.Load() {
		return nil, errStorageDown
	}
	return f.memStorage.List(ctx, dir, rec)
}

// TestStorageDown: when the storage cannot be read, the last list read
// stays in force, the staleness gauge grows, the sync error counter counts,
// and a Warn log says how stale the list is, once a minute at most; the
// first sync that works again is logged at Info.
func TestStorageDown(t *testing.T) {
	st := &failingStorage{memStorage: memStorage{m: map[string][]byte{}}}
	now := time.Now()
	s := newBanState(st, 100, defaultRevocationTTL, 10, func() time.Time { return now })
	core, logs := observer.New(zap.InfoLevel)
	s.logger.Store(zap.New(core))
	reg := prometheus.NewRegistry()
	s.metrics.register(reg, s)
	ctx := context.Background()
	if err := s.replica.Ban(ctx, "seayoo", "1001", time.Time{}, "", "test"); err != nil {
		t.Fatal(err)
	}
	s.syncOnce(ctx)
	id := verifiers.Identity{Provider: "seayoo", Subject: "1001"}

	st.fail.Store(true)
	for range 3 { // three failed syncs within a minute: one Warn
		now = now.Add(10 * time.Second)
		s.syncOnce(ctx)
	}
	if err := s.admit(&id); verifiers.Reason(err) != verifiers.ReasonBanned {
		t.Errorf("storage down: %v, want the last list (banned) in force", err)
	}
	if n := logs.FilterMessageSnippet("sync failed").Len(); n != 1 {
		t.Errorf("%d Warn logs for 3 failed syncs within a minute, want 1", n)
	}
	if got := testutil.ToFloat64(s.metrics.syncs.WithLabelValues("error")); got != 3 {
		t.Errorf("sync errors counted %v, want 3", got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	stale := -1.0
	for _, mf := range mfs {
		if mf.GetName() == "caddy_gameauth_ban_list_staleness_seconds" {
			stale = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if stale != 30 {
		t.Errorf("staleness %v s, want 30", stale)
	}
	now = now.Add(time.Minute)
	s.syncOnce(ctx)
	if n := logs.FilterMessageSnippet("sync failed").Len(); n != 2 {
		t.Errorf("a minute later: %d Warn logs, want 2", n)
	}
	st.fail.Store(false)
	s.syncOnce(ctx)
	if n := logs.FilterMessageSnippet("sync works again").Len(); n != 1 {
		t.Errorf("recovery logged %d times, want 1", n)
	}
	for _, e := range logs.All() {
		if strings.Contains(fmt.Sprint(e.ContextMap()), "1001") && e.Level > zap.InfoLevel {
			t.Errorf("a Warn names a player: %v", e.ContextMap())
		}
	}
}
