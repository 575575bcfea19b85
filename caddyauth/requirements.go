package caddyauth

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// This file is the handler's requirement engine: what a verified identity
// must hold on a route before the request may pass. Its rules come from two
// places, both turned into rules at provision:
//
//   - the handler's require lines (ClaimRule), for whichever verifier
//     accepted the token;
//   - the requirement options of a verifier's own block (ZEGO room, stream
//     and publish; Twilio room), for that verifier only: a guest module
//     declares the options it accepts and turns them into rules
//     (requirer), and never checks them itself.
//
// The rules run once a verifier has accepted the token and the identity is
// usable; a failed rule is a 403 with the rule's fixed reason, and no other
// verifier is tried.

// requirer is implemented by the verifiers whose block takes route
// requirements of its own.
type requirer interface {
	// requirementOptions names the options of the verifier's block that
	// are route requirements, as the Caddyfile and JSON spell them.
	requirementOptions() []string
	// rules turns the requirement options that are set into rules of the
	// handler's engine, in the order they are checked.
	rules() []rule
}

// ruleTest is how a rule compares a claim with the route's value.
type ruleTest uint8

const (
	// testEqual: the claim equals the value of the one template, which
	// the request must give (a room in the path).
	testEqual ruleTest = iota
	// testInList: the claim, a comma-separated list, holds the value of
	// the one template, which the request must give; a token without the
	// claim holds every value (ZEGO: no stream list, every stream).
	testInList
	// testOneOf: the claim equals the value of one of the templates;
	// templates that evaluate to nothing are skipped.
	testOneOf
	// testCompare: the claim, a decimal integer, compares with the value.
	testCompare
)

// rule is one requirement of the engine. Its errors are built once, at
// provision.
type rule struct {
	claim  string // a claim name, or "id" (the subject) or "provider"
	test   ruleTest
	values []string // templates; one for testEqual, testInList, testCompare
	op     string   // testCompare: >=, >, <=, <, ==, !=
	num    int64    // testCompare: values[0] when it holds no placeholder
	static bool     // num is set
	// allowUnknown lets an absent claim, or one that is "" or "0", pass.
	allowUnknown bool
	// fail is the refusal when the claim fails the test (a
	// *verifiers.Error, or a *ruleRefusal for a require line); need, when
	// the request gives no value to compare with (nil: the rule fails).
	fail error
	need *verifiers.Error
}

// ruleRefusal is the refusal of a require line. Its reason, the metric
// label, is the fixed verifiers.ReasonClaimRuleFailed; its description,
// for {http.auth.gameauth.error} and the challenge, names the rule:
// "claim rule failed: age >= 18".
type ruleRefusal struct {
	err  *verifiers.Error
	desc string
}

func newRuleRefusal(desc string) *ruleRefusal {
	return &ruleRefusal{err: verifiers.Forbidden(verifiers.ReasonClaimRuleFailed), desc: desc}
}

func (e *ruleRefusal) Error() string { return e.err.Kind.Error() + ": " + e.desc }

// Unwrap returns the *verifiers.Error, so verifiers.Reason and errors.Is
// see the fixed reason and the kind.
func (e *ruleRefusal) Unwrap() error { return e.err }

// claimEquals is the rule of a room option: the claim must equal the
// template's value. need is the reason when the template evaluates to
// nothing (verifiers.ReasonNoRoomInRequest); reason, when the claim is
// absent or differs (verifiers.ReasonWrongRoom).
func claimEquals(claim, template, need, reason string) rule {
	return newRule(claim, testEqual, []string{template}, need, verifiers.Forbidden(reason))
}

// claimListHas is the rule of a stream option: the claim, a comma-separated
// list, must hold the template's value; a token without the claim holds
// every value.
func claimListHas(claim, template, need, reason string) rule {
	return newRule(claim, testInList, []string{template}, need, verifiers.Forbidden(reason))
}

// newRule builds a rule that refuses with fail, and with the reason need
// (when not "") if the request gives no value to compare with.
func newRule(claim string, test ruleTest, values []string, need string, fail error) rule {
	ru := rule{claim: claim, test: test, values: values, fail: fail}
	if need != "" {
		ru.need = verifiers.Forbidden(need)
	}
	return ru
}

// readsPath reports whether a template of the rule may carry path-derived
// request data (see usesPath).
func (ru *rule) readsPath() bool {
	for _, v := range ru.values {
		if usesPath(v) {
			return true
		}
	}
	return false
}

// verdict is what a rule finds.
type verdict uint8

const (
	holds   verdict = iota
	fails           // the claim fails the test: ru.fail
	unasked         // the request gives no value to compare with: ru.need
)

// judge applies the rule to a verified identity, with the request's
// placeholders.
func (ru *rule) judge(id *verifiers.Identity, repl *caddy.Replacer) verdict {
	got, ok := claimValue(id, ru.claim)
	switch ru.test {
	case testEqual, testInList:
		want := expand(ru.values[0], repl)
		switch {
		case want == "" && ru.need != nil:
			return unasked
		case want == "":
			return fails
		case ru.test == testEqual && (!ok || got != want):
			return fails
		case ru.test == testInList && ok && !listHas(got, want):
			return fails
		}
		return holds
	}
	if ru.allowUnknown && (!ok || got == "" || got == "0") {
		return holds
	}
	if !ok {
		return fails
	}
	if ru.test == testOneOf {
		for _, t := range ru.values {
			if want := expand(t, repl); want != "" && got == want {
				return holds
			}
		}
		return fails
	}
	have, err := strconv.ParseInt(got, 10, 64)
	if err != nil {
		// Floats and numbers beyond int64 do not compare.
		return fails
	}
	want := ru.num
	if !ru.static {
		if want, err = strconv.ParseInt(repl.ReplaceAll(ru.values[0], ""), 10, 64); err != nil {
			return fails
		}
	}
	if !compare(have, ru.op, want) {
		return fails
	}
	return holds
}

// expand evaluates a template as the replacer does; one without a brace is
// its own value, without a call.
func expand(template string, repl *caddy.Replacer) string {
	if !strings.ContainsAny(template, "{}") {
		return template
	}
	return repl.ReplaceAll(template, "")
}

func compare(have int64, op string, want int64) bool {
	switch op {
	case ">=":
		return have >= want
	case ">":
		return have > want
	case "<=":
		return have <= want
	case "<":
		return have < want
	case "==":
		return have == want
	case "!=":
		return have != want
	}
	return false
}

// listHas reports whether the comma-separated list holds s exactly.
func listHas(list, s string) bool {
	for list != "" {
		item, rest, _ := strings.Cut(list, ",")
		if item == s {
			return true
		}
		list = rest
	}
	return false
}

// claimValue returns a claim of id by name; "id" is the subject and
// "provider" the provider.
func claimValue(id *verifiers.Identity, name string) (string, bool) {
	switch name {
	case "id":
		return id.Subject, id.Subject != ""
	case "provider":
		return id.Provider, id.Provider != ""
	}
	return id.Claim(name)
}

// requirements is the engine of one handler: for each of its verifiers,
// the rules that apply when that verifier accepted the token.
type requirements struct {
	sets []ruleSet // by verifier index
}

// ruleSet is the rules of one verifier: its own options' rules, then the
// require lines.
type ruleSet struct {
	rules     []rule
	readsPath bool // a rule's template may read the request path
}

// newRequirements builds the engine of a handler from its verifiers and
// its compiled require lines.
func newRequirements(vs []TokenVerifier, require []rule) requirements {
	e := requirements{sets: make([]ruleSet, len(vs))}
	for i, v := range vs {
		var rs []rule
		if rq, ok := v.(requirer); ok {
			rs = rq.rules()
		}
		rs = append(rs, require...)
		set := ruleSet{rules: rs}
		for j := range rs {
			set.readsPath = set.readsPath || rs[j].readsPath()
		}
		e.sets[i] = set
	}
	return e
}

// check returns nil if the identity verifier vi accepted meets every rule
// of the route, or the refusal. A route whose rules read the path is first
// refused on a path that is not plain (verifiers.ReasonAmbiguousPath); then
// a rule whose value the request does not give refuses
// (verifiers.ReasonNoRoomInRequest); then the first rule the claims fail.
func (e *requirements) check(vi int, r *http.Request, id *verifiers.Identity, repl *caddy.Replacer) error {
	set := &e.sets[vi]
	if len(set.rules) == 0 {
		return nil
	}
	if set.readsPath && !plainPath(r) {
		return errAmbiguousPath
	}
	var failed *rule
	for i := range set.rules {
		ru := &set.rules[i]
		if failed != nil && ru.need == nil {
			continue // only a missing value can still come first
		}
		switch ru.judge(id, repl) {
		case unasked:
			return ru.need
		case fails:
			if failed == nil {
				failed = ru
			}
		}
	}
	if failed != nil {
		return failed.fail
	}
	return nil
}
