package caddyauth

import (
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

func testStripper() *headerStripper {
	return &headerStripper{prefix: normalizeHeaderName("X-Auth-"), names: []string{normalizeHeaderName("X-Player")}}
}

func TestStripConnection(t *testing.T) {
	cases := []struct {
		in   []string
		want []string // nil: header deleted
	}{
		{[]string{"X-Auth-User-Id, X-Auth-Age"}, nil},
		{[]string{"keep-alive, x_auth_provider"}, []string{"keep-alive"}},
		{[]string{"close", "X.Auth.User.Id"}, []string{"close"}},
		{[]string{"Upgrade"}, []string{"Upgrade"}},
		{[]string{"Upgrade, X-Player, X-Other"}, []string{"Upgrade, X-Other"}},
		{[]string{" , X-Auth-Age ,, "}, nil},
	}
	s := testStripper()
	for _, c := range cases {
		h := http.Header{"Connection": slices.Clone(c.in)}
		s.stripConnection(h)
		if got := h["Connection"]; !slices.Equal(got, c.want) {
			t.Errorf("Connection %q: got %q, want %q", c.in, got, c.want)
		}
	}
}

// trailingBody plays net/http's part: it fills the request's trailers when
// the body reaches EOF.
type trailingBody struct {
	io.Reader
	r   *http.Request
	add http.Header
}

func (b *trailingBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF {
		for k, v := range b.add {
			b.r.Trailer[k] = v
		}
	}
	return n, err
}

func (b *trailingBody) Close() error { return nil }

func TestGuardTrailers(t *testing.T) {
	r := &http.Request{ContentLength: -1, Header: http.Header{"Trailer": {"X-Auth-User-Id, X-Checksum"}},
		Trailer: http.Header{"X-Auth-User-Id": nil, "X-Checksum": nil}}
	r.Body = &trailingBody{Reader: strings.NewReader("body"), r: r, add: http.Header{
		"X-Auth-User-Id": {"admin"}, "X_auth_age": {"30"}, "X-Player": {"admin"}, "X-Checksum": {"abc"}}}
	s := testStripper()
	s.guardTrailers(r)
	if _, ok := r.Trailer["X-Auth-User-Id"]; ok {
		t.Fatal("declared identity trailer kept")
	}
	if got := r.Header["Trailer"]; !slices.Equal(got, []string{"X-Checksum"}) {
		t.Fatalf("Trailer header %q", got)
	}
	if b, err := io.ReadAll(r.Body); err != nil || string(b) != "body" {
		t.Fatalf("body %q %v", b, err)
	}
	if len(r.Trailer) != 1 || r.Trailer.Get("X-Checksum") != "abc" {
		t.Fatalf("trailers after EOF: %v", r.Trailer)
	}

	// A body of known length with no declared trailer is not wrapped.
	r2 := &http.Request{ContentLength: 4, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("body"))}
	body := r2.Body
	s.guardTrailers(r2)
	if r2.Body != body {
		t.Fatal("known-length body wrapped")
	}
}

func TestPlainPath(t *testing.T) {
	plain := []string{"/rooms/arena-7/state", "/", "/a/b-c_d~e", "/rooms/%E4%B8%AD", "/a/b%20c"}
	ambiguous := []string{
		"/rooms/arena-7/..;/arena-8/state", "/rooms/arena-7/..%3B/arena-8", "/rooms/arena-7/..%3b/x",
		"/rooms/arena-7;jsessionid=1/state", "/rooms/arena-7%252F..%252Farena-8", "/rooms/arena-7%2F..%2Farena-8",
		"/rooms/arena-7%2f", "/rooms/arena-7%5C..", "/rooms/%2E%2E/x", "/rooms//arena-7", "/rooms/./arena-7",
		"/rooms/../arena-7", "/rooms/arena-7%00", `/rooms/a\b`,
	}
	for _, p := range plain {
		if !plainPath(reqFor(t, p)) {
			t.Errorf("%s refused", p)
		}
	}
	for _, p := range ambiguous {
		if plainPath(reqFor(t, p)) {
			t.Errorf("%s passed", p)
		}
	}
}

func reqFor(t *testing.T, p string) *http.Request {
	t.Helper()
	u, err := url.ParseRequestURI(p)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return (&http.Request{URL: u}).WithContext(t.Context())
}

func TestUsesPath(t *testing.T) {
	cases := map[string]bool{
		"arena-7":                           false,
		"{http.auth.user.id}":               false,
		"{env.ROOM}":                        false,
		"{http.request.header.X-Room}":      false,
		"{http.request.uri.path.1}":         true,
		"{http.request.orig_uri.path.1}":    true,
		"{http.regexp.room.1}":              true,
		"{http.vars.room}":                  true,
		"{http.request.uri.query.room}":     true,
		"{unknown}":                         true,
		"{http.auth.user.}":                 true,
		`\{http.request.uri.path.1}`:        false,
		"room-{http.request.uri.path.1":     true,
		"{env.A}-{http.request.uri.path.1}": true,
	}
	for tmpl, want := range cases {
		if got := usesPath(tmpl); got != want {
			t.Errorf("usesPath(%q) = %v, want %v", tmpl, got, want)
		}
	}
}

func TestStreamPolicy(t *testing.T) {
	allowed := []streamPattern{{value: "1001_", prefix: true}, {value: "lobby"}, {value: "ab*"}}
	for id, want := range map[string]bool{"1001_main": true, "1001_": false, "10010_main": false, "lobby": true, "lobby2": false,
		"ab*": true, "abc": false} {
		if got := streamAllowed(allowed, id); got != want {
			t.Errorf("%s: %v", id, got)
		}
	}
	for tmpl, ok := range map[string]bool{
		"{http.auth.user.id}": true, "game:{http.auth.user.id}": true, "admin": false,
		"{http.request.header.X-User}": false, "{env.USER}": false, "{http.auth.user.id}{http.request.uri.path.1}": false,
	} {
		if err := checkUserTemplate(tmpl); (err == nil) != ok {
			t.Errorf("user %q: %v", tmpl, err)
		}
	}
}

func TestIdentitySlotLastWins(t *testing.T) {
	repl := caddy.NewReplacer()
	setIdentity(repl, &verifiers.Identity{Provider: "seayoo", Subject: "1001"}, nil)
	clearIdentity(repl, http.Header{})
	if v, ok := repl.Get("http.auth.user.id"); ok {
		t.Fatalf("cleared identity still answers %v", v)
	}
	setIdentity(repl, &verifiers.Identity{Provider: "zego", Subject: "2002"}, nil)
	if v, _ := repl.GetString("http.auth.user.id"); v != "2002" {
		t.Fatalf("id %q", v)
	}
	if got := repl.ReplaceAll("{"+slotKey+"}", ""); got != "" {
		t.Fatalf("slot placeholder evaluates to %q", got)
	}
}

// FuzzPlainPath checks plainPath against what an upstream may do with a
// path it accepts: decoding once more, cleaning it, or cutting path
// parameters must all leave it the same.
func FuzzPlainPath(f *testing.F) {
	for _, s := range []string{"/rooms/arena-7/state", "/rooms/arena-7/..;/arena-8", "/a%252F", "/a%2e%2e/b", "/x//y", "/%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		u, err := url.ParseRequestURI(p)
		if err != nil || u.Path == "" {
			return
		}
		r := (&http.Request{URL: u}).WithContext(t.Context())
		if !plainPath(r) {
			return
		}
		raw := u.EscapedPath()
		if strings.ContainsAny(u.Path, ";\\") {
			t.Fatalf("%q: path parameter or backslash passed", p)
		}
		if twice, err := url.PathUnescape(u.Path); err == nil && twice != u.Path && strings.ContainsAny(twice, "/.;\\") {
			t.Fatalf("%q: decodes again to %q", raw, twice)
		}
		if c := path.Clean(u.Path); c != strings.TrimSuffix(u.Path, "/") && c != u.Path {
			t.Fatalf("%q: cleans to %q", u.Path, c)
		}
	})
}

// FuzzStripConnection feeds arbitrary Connection values: no token that
// names an identity header survives, and every other token does, in order.
func FuzzStripConnection(f *testing.F) {
	for _, s := range []string{"X-Auth-User-Id, X-Auth-Age", "keep-alive", "Upgrade, x_auth_x", ",,", "X-Player"} {
		f.Add(s)
	}
	s := testStripper()
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{"Connection": {v}}
		s.stripConnection(h)
		var want []string
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.Trim(tok, " \t\r\n"); tok != "" && !s.matches(tok) {
				want = append(want, tok)
			}
		}
		var got []string
		for _, gv := range h["Connection"] {
			for tok := range strings.SplitSeq(gv, ",") {
				if tok = strings.Trim(tok, " \t\r\n"); tok != "" {
					got = append(got, tok)
					if s.matches(tok) {
						t.Fatalf("%q kept identity token %q", v, tok)
					}
				}
			}
		}
		dirty := false
		for tok := range strings.SplitSeq(v, ",") {
			dirty = dirty || s.matches(strings.Trim(tok, " \t\r\n"))
		}
		if dirty && !slices.Equal(got, want) {
			t.Fatalf("%q: kept %q, want %q", v, got, want)
		}
	})
}
