package caddyauth

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// TestMetricReasonLabels drives every kind of refusal through the handler
// and checks that the reason label takes its values from verifiers.Reasons
// and nothing else: a require rule counts as "claim rule failed" whatever
// the rule (its description, naming the rule, goes only to the
// placeholder and the challenge), and an error from outside the list as
// "internal error".
func TestMetricReasonLabels(t *testing.T) {
	room := accepts("first", "alice", "room_id", "arena-7")
	room.opts = []string{"room"}
	room.rs = []rule{claimEquals("room_id", "{http.request.uri.path.1}", verifiers.ReasonNoRoomInRequest, verifiers.ReasonWrongRoom)}
	cases := []struct {
		cfg    Handler
		v      *fakeVerifier
		target string
		header []string
		label  string
		desc   string
	}{
		{v: accepts("first", "alice"), target: "/", label: verifiers.ReasonMissingToken},
		{v: accepts("first", "alice"), target: "/", header: []string{"Authorization", "Bearer"}, label: verifiers.ReasonMalformedToken},
		{v: accepts("first", "alice"), target: "/", header: bearer(strings.Repeat("x", verifiers.MaxTokenLength+1)), label: verifiers.ReasonTokenTooLong},
		{v: accepts("first", ""), target: "/", header: bearer("t"), label: verifiers.ReasonBadClaim},
		{v: refuses(verifiers.Invalid(verifiers.ReasonTokenExpired)), target: "/", header: bearer("t"), label: verifiers.ReasonTokenExpired},
		{v: refuses(errors.New("boom")), target: "/", header: bearer("t"), label: verifiers.ReasonInternal},
		{v: refuses(verifiers.Invalid("a reason outside the list")), target: "/", header: bearer("t"), label: verifiers.ReasonInternal,
			desc: "a reason outside the list"},
		{cfg: Handler{Require: []ClaimRule{{Claim: "age", Op: ">=", Value: "18"}}}, v: accepts("first", "alice", "age", "16"),
			target: "/", header: bearer("t"), label: verifiers.ReasonClaimRuleFailed, desc: "claim rule failed: age >= 18"},
		{cfg: Handler{Require: []ClaimRule{{Claim: "idp", OneOf: []string{"seayoo", "{http.request.header.X-Idp}"}}}},
			v: accepts("first", "alice", "idp", "guest"), target: "/", header: bearer("t"), label: verifiers.ReasonClaimRuleFailed,
			desc: "claim rule failed: idp one of seayoo {http.request.header.X-Idp}"},
		{v: room, target: "/rooms/arena-8", header: bearer("t"), label: verifiers.ReasonWrongRoom},
		{v: room, target: "/rooms/arena-7/%2e%2e/arena-8", header: bearer("t"), label: verifiers.ReasonAmbiguousPath},
	}
	reg := prometheus.NewRegistry()
	m := newMetrics()
	reg.MustRegister(m.verifications)
	for i, c := range cases {
		cfg := c.cfg
		h := newTestHandler(t, &cfg, c.v)
		h.metrics = m
		before := labels(t, reg)
		o := serve(h, get(c.target, c.header...))
		desc := c.desc
		if desc == "" {
			desc = c.label
		}
		if got := placeholder(o.repl, ErrorPlaceholder); got != desc {
			t.Errorf("case %d: {%s} %q, want %q", i, ErrorPlaceholder, got, desc)
		}
		after := labels(t, reg)
		if after[c.label] != before[c.label]+1 {
			t.Errorf("case %d: reason label %q not counted (%v)", i, c.label, after)
		}
	}
	known := verifiers.Reasons()
	for l := range labels(t, reg) {
		if l != "" && !slices.Contains(known, l) {
			t.Errorf("reason label %q is not one of verifiers.Reasons", l)
		}
	}
}

// labels sums the verification counters of reg by reason label.
func labels(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "reason" {
					out[lp.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// TestNoReasonLiterals checks that the production files build refusals
// only from the verifiers.Reason* constants: no string literal given to
// verifiers.Invalid, Forbidden or Unavailable, as an Error's Reason, or as
// a reason of claimEquals and claimListHas.
func TestNoReasonLiterals(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				var fn string
				switch f := n.Fun.(type) {
				case *ast.SelectorExpr:
					fn = f.Sel.Name
				case *ast.Ident:
					fn = f.Name
				}
				var args []ast.Expr
				switch fn {
				case "Invalid", "Forbidden", "Unavailable":
					args = n.Args
				case "claimEquals", "claimListHas":
					if len(n.Args) == 4 {
						args = n.Args[2:]
					}
				}
				for _, a := range args {
					if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING && lit.Value != `""` {
						t.Errorf("%s: %s(... %s ...): use a verifiers.Reason* constant", fset.Position(lit.Pos()), fn, lit.Value)
					}
				}
			case *ast.KeyValueExpr:
				if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Reason" {
					if lit, ok := n.Value.(*ast.BasicLit); ok {
						t.Errorf("%s: Reason: %s: use a verifiers.Reason* constant", fset.Position(lit.Pos()), lit.Value)
					}
				}
			}
			return true
		})
	}
}

// TestOptionError checks that a library's FieldError is reported with the
// option's name, by its field and not by its text.
func TestOptionError(t *testing.T) {
	items := secretOptions("sk_one", []string{"sk_two"})
	tests := []struct {
		err  error
		want string
	}{
		{check.Field("seayoo", "GameID", "is required"), "seayoo: game_id is required"},
		{check.Item("seayoo", "Secrets", 1, "is too short"), "seayoo: secrets #1 is too short"},
		{check.Item("twilio", "Keys.SID", 2, "is a duplicate"), "seayoo: key sid #3 is a duplicate"},
		{errors.New("other"), "seayoo: other"},
	}
	for _, tt := range tests {
		got := optionError("seayoo", tt.err, map[string]string{"GameID": "game_id", "Keys.SID": "key sid"}, items)
		if got.Error() != tt.want {
			t.Errorf("%v: got %q, want %q", tt.err, got, tt.want)
		}
	}
}
