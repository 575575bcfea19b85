package caddyauth

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// ClaimRule is a require line: a requirement the verified identity must
// meet on a route, whichever verifier accepted the token; failing it is a
// 403 whose reason names the rule. It becomes a rule of the handler's
// requirement engine at provision.
type ClaimRule struct {
	// Claim is the claim name (snake_case, as in the X-Auth-* headers), or
	// "id" for the subject or "provider".
	Claim string `json:"claim"`
	// OneOf lists accepted values; each may be a template with
	// placeholders. Exactly one of OneOf and Op is set.
	OneOf []string `json:"one_of,omitempty"`
	// Op compares the claim as an integer with Value: one of >=, >, <=, <,
	// ==, !=.
	Op string `json:"op,omitempty"`
	// Value is the integer the claim is compared with, or a template
	// evaluating to one.
	Value string `json:"value,omitempty"`
	// AllowUnknown lets the rule pass when the claim is absent or 0, which
	// Seayoo uses for "age unknown". Default: false (unknown is refused).
	AllowUnknown bool `json:"allow_unknown,omitempty"`
}

// refusal is the rule's refusal: reason verifiers.ReasonClaimRuleFailed,
// described as that reason, the claim and test ("age >= 18"). The
// description goes in a quoted error_description: only the characters RFC
// 6750 allows there.
func (c *ClaimRule) refusal(test string) *ruleRefusal {
	return newRuleRefusal(quoteSafe(verifiers.ReasonClaimRuleFailed + ": " + c.Claim + " " + test))
}

// compile checks the rule and turns it into a rule of the engine, whose
// reason names it: "claim rule failed: age >= 18".
func (c *ClaimRule) compile() (rule, error) {
	if c.Claim == "" {
		return rule{}, fmt.Errorf("require: a claim name is required")
	}
	if c.Claim != "id" && c.Claim != "provider" && !check.ClaimName(c.Claim) {
		return rule{}, fmt.Errorf("require: %q is not a claim name", c.Claim)
	}
	var ru rule
	switch {
	case len(c.OneOf) > 0 && c.Op != "":
		return rule{}, fmt.Errorf("require %s: give values or a comparison, not both", c.Claim)
	case len(c.OneOf) > 0:
		ru = newRule(c.Claim, testOneOf, c.OneOf, "", c.refusal("one of "+strings.Join(c.OneOf, " ")))
	case c.Op != "":
		switch c.Op {
		case ">=", ">", "<=", "<", "==", "!=":
		default:
			return rule{}, fmt.Errorf("require %s: unknown operator %q (want >=, >, <=, <, == or !=)", c.Claim, c.Op)
		}
		ru = newRule(c.Claim, testCompare, []string{c.Value}, "", c.refusal(c.Op+" "+c.Value))
		ru.op = c.Op
		if !strings.Contains(c.Value, "{") {
			n, err := strconv.ParseInt(c.Value, 10, 64)
			if err != nil {
				return rule{}, fmt.Errorf("require %s %s: %q is not an integer", c.Claim, c.Op, c.Value)
			}
			ru.num, ru.static = n, true
		}
	default:
		return rule{}, fmt.Errorf("require %s: give values or a comparison", c.Claim)
	}
	ru.allowUnknown = c.AllowUnknown
	return ru, nil
}

// parseRequire parses one Caddyfile line:
//
//	require <claim> <value>...            one of the values
//	require <claim> <op> <number> [allow_unknown]
//	require <claim> <value>... allow_unknown
func parseRequire(d *caddyfile.Dispenser) (ClaimRule, error) {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return ClaimRule{}, d.ArgErr()
	}
	r := ClaimRule{Claim: args[0]}
	rest := args[1:]
	if rest[len(rest)-1] == "allow_unknown" {
		r.AllowUnknown = true
		rest = rest[:len(rest)-1]
	}
	if len(rest) == 0 {
		return ClaimRule{}, d.ArgErr()
	}
	switch rest[0] {
	case ">=", ">", "<=", "<", "==", "!=":
		if len(rest) != 2 {
			return ClaimRule{}, d.Errf("require %s %s: want exactly one number", r.Claim, rest[0])
		}
		r.Op, r.Value = rest[0], rest[1]
	default:
		r.OneOf = rest
	}
	if _, err := r.compile(); err != nil {
		return ClaimRule{}, d.Err(err.Error())
	}
	return r, nil
}
