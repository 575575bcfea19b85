package caddyauth

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// ClaimRule is a requirement a verified identity must meet on a route;
// failing it is a 403 whose reason names the rule.
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

	reason  string // "claim rule failed: age >= 18"
	pathDep bool   // a template reads the request path
	value   int64  // Value when it holds no placeholder
	static  bool
}

func (c *ClaimRule) provision() error {
	if c.Claim == "" {
		return fmt.Errorf("require: a claim name is required")
	}
	if c.Claim != "id" && c.Claim != "provider" && !validClaimName(c.Claim) {
		return fmt.Errorf("require: %q is not a claim name", c.Claim)
	}
	switch {
	case len(c.OneOf) > 0 && c.Op != "":
		return fmt.Errorf("require %s: give values or a comparison, not both", c.Claim)
	case len(c.OneOf) > 0:
		c.reason = "claim rule failed: " + c.Claim + " one of " + strings.Join(c.OneOf, " ")
	case c.Op != "":
		switch c.Op {
		case ">=", ">", "<=", "<", "==", "!=":
		default:
			return fmt.Errorf("require %s: unknown operator %q (want >=, >, <=, <, == or !=)", c.Claim, c.Op)
		}
		if !strings.Contains(c.Value, "{") {
			n, err := strconv.ParseInt(c.Value, 10, 64)
			if err != nil {
				return fmt.Errorf("require %s %s: %q is not an integer", c.Claim, c.Op, c.Value)
			}
			c.value, c.static = n, true
		}
		c.reason = "claim rule failed: " + c.Claim + " " + c.Op + " " + c.Value
	default:
		return fmt.Errorf("require %s: give values or a comparison", c.Claim)
	}
	c.reason = quoteSafe(c.reason)
	c.pathDep = usesPath(c.Value)
	for _, v := range c.OneOf {
		c.pathDep = c.pathDep || usesPath(v)
	}
	return nil
}

func claimValue(id *verifiers.Identity, name string) (string, bool) {
	switch name {
	case "id":
		return id.Subject, id.Subject != ""
	case "provider":
		return id.Provider, id.Provider != ""
	}
	return id.Claim(name)
}

// check returns nil or a forbidden error naming the rule.
func (c *ClaimRule) check(r *http.Request, id *verifiers.Identity, repl *caddy.Replacer) error {
	if c.pathDep && !plainPath(r) {
		return errAmbiguousPath
	}
	got, ok := claimValue(id, c.Claim)
	if c.AllowUnknown && (!ok || got == "" || got == "0") {
		return nil
	}
	if !ok {
		return verifiers.Forbidden(c.reason)
	}
	if len(c.OneOf) > 0 {
		for _, want := range c.OneOf {
			if strings.Contains(want, "{") {
				want = repl.ReplaceAll(want, "")
				if want == "" {
					continue
				}
			}
			if got == want {
				return nil
			}
		}
		return verifiers.Forbidden(c.reason)
	}
	have, ok := parseClaimInt(got)
	if !ok {
		return verifiers.Forbidden(c.reason)
	}
	want := c.value
	if !c.static {
		n, err := strconv.ParseInt(repl.ReplaceAll(c.Value, ""), 10, 64)
		if err != nil {
			return verifiers.Forbidden(c.reason)
		}
		want = n
	}
	var pass bool
	switch c.Op {
	case ">=":
		pass = have >= want
	case ">":
		pass = have > want
	case "<=":
		pass = have <= want
	case "<":
		pass = have < want
	case "==":
		pass = have == want
	case "!=":
		pass = have != want
	}
	if !pass {
		return verifiers.Forbidden(c.reason)
	}
	return nil
}

// parseClaimInt reads a claim as a decimal integer. Anything else (floats,
// numbers beyond int64) does not compare, so the rule fails.
func parseClaimInt(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
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
	if err := (&r).provision(); err != nil {
		return ClaimRule{}, d.Err(err.Error())
	}
	r.reason, r.value, r.static, r.pathDep = "", 0, false, false
	return r, nil
}
