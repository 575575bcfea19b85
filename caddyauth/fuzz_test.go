package caddyauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzTokenSources feeds attacker-controlled header values and query
// strings to the token extractors: they must never panic, and a token they
// return is non-empty, free of white space and control characters.
func FuzzTokenSources(f *testing.F) {
	for _, s := range []string{
		"Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "bearer  abc", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz",
		"Bearerabc", "Bearer a b", "Bearer\tabc", "token=abc&token=def", "a=1&token=%zz", "token=a%20b",
		"to%6Ben=abc", "access_token.abc, game.v1",
	} {
		f.Add(s)
	}
	srcs := []TokenSource{{From: sourceBearer}, {From: sourceHeader, Name: "X-Game-Token"},
		{From: sourceQuery, Name: "token"}, {From: sourceCookie, Name: "game_session"}, {From: sourceWS}}
	for i := range srcs {
		if err := srcs[i].normalize(); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/", RawQuery: in}, Header: http.Header{
			"Authorization":          {in},
			"X-Game-Token":           {in},
			"Cookie":                 {"game_session=" + in},
			"Upgrade":                {"websocket"},
			"Sec-Websocket-Protocol": {in},
		}}
		for i := range srcs {
			tok, res := srcs[i].extract(r)
			if res == tokenFound {
				if tok == "" || strings.ContainsAny(tok, " \t\r\n\x00\x7f") {
					t.Fatalf("%s returned unusable token %q", srcs[i], tok)
				}
			} else if tok != "" {
				t.Fatalf("%s returned %q with result %d", srcs[i], tok, res)
			}
			// Removing must not panic either, and leaves no token behind.
			r2 := r.Clone(r.Context())
			srcs[i].remove(r2)
			if res == tokenFound {
				if tok2, res2 := srcs[i].extract(r2); res2 == tokenFound && tok2 == tok {
					t.Fatalf("%s: token still present after remove", srcs[i])
				}
			}
		}
	})
}

// FuzzIssuerRequest feeds arbitrary bodies and query strings to the token
// request parser: no panic, and never a user chosen by the request.
func FuzzIssuerRequest(f *testing.F) {
	for _, s := range []string{`{"room_id":"r1","publish":true,"stream_ids":["a","b"]}`, `{"user_id":"admin"}`,
		`room_id=r1&publish=1`, `stream_ids=a,b&stream_ids=c`, `{"room":"x","room_id":"y"}`, `{`, `[]`, `null`} {
		f.Add(s)
	}
	h := &IssuerHandler{fields: issuerFields{room: true, streams: true, publish: true}}
	f.Fuzz(func(t *testing.T, in string) {
		var a, b tokenRequest
		errJSON := h.fromJSON(&a, []byte(in))
		errForm := h.fromValues(&b, in)
		for _, tr := range []struct {
			tr  tokenRequest
			err error
		}{{a, errJSON}, {b, errForm}} {
			if tr.err != nil {
				if _, ok := tr.err.(*requestProblem); !ok {
					t.Fatalf("error of type %T", tr.err)
				}
				continue
			}
			if len(tr.tr.StreamIDs) > 1<<16 {
				t.Fatalf("unbounded stream list")
			}
		}
		if strings.Contains(strings.ToLower(in), "user_id") && errJSON == nil && strings.Contains(in, `"user_id"`) {
			t.Fatalf("a JSON body naming user_id was accepted: %q", in)
		}
	})
}
