package caddyauth

import (
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("gameauth", parseGameauth)
	httpcaddyfile.RegisterDirectiveOrder("gameauth", httpcaddyfile.After, "basic_auth")
	httpcaddyfile.RegisterHandlerDirective("gameauth_issuer", parseGameauthIssuer)
	httpcaddyfile.RegisterDirectiveOrder("gameauth_issuer", httpcaddyfile.Before, "respond")
}

func parseGameauth(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	if err := m.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return m, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	gameauth [<matcher>] {
//		<verifier> {
//			...
//		}
//		from_bearer [<header>]
//		from_header <name>
//		from_query  <name>
//		from_cookie <name>
//		header_prefix <prefix>
//		from_websocket_protocol [<prefix>]
//		header <name> <template>
//		claim_headers all|<claim>...
//		realm <realm>
//		require <claim> <value>...
//		require <claim> >=|>|<=|<|==|!= <number> [allow_unknown]
//		optional
//		skip_preflight
//		forward_token on|off
//		minors { ... }
//	}
//
// Verifiers (the modules of http.gameauth.verifiers, by name) may repeat
// and are tried in the order written. The from_* lines replace the default token
// sources and are tried in the order written.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seenPrefix, seenRealm := false, false
	p := newOptionParser(d)
	for d.NextBlock(0) {
		name := d.Val()
		switch name {
		case "from_websocket_protocol":
			src := TokenSource{From: sourceWS}
			if d.NextArg() {
				src.Name = d.Val()
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			h.Sources = append(h.Sources, src)
		case "require":
			rule, err := parseRequire(d)
			if err != nil {
				return err
			}
			h.Require = append(h.Require, rule)
		case "optional":
			if err := p.flag(&h.Optional); err != nil {
				return err
			}
		case "skip_preflight":
			if err := p.flag(&h.SkipPreflight); err != nil {
				return err
			}
		case "forward_token":
			var fwd bool
			if err := p.flag(&fwd); err != nil {
				return err
			}
			h.ForwardToken = &fwd
		case "from_bearer":
			src := TokenSource{From: sourceBearer}
			if d.NextArg() {
				src.Name = d.Val()
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			h.Sources = append(h.Sources, src)
		case "from_header", "from_query", "from_cookie":
			var v string
			if !d.Args(&v) || d.NextArg() {
				return d.ArgErr()
			}
			h.Sources = append(h.Sources, TokenSource{From: strings.TrimPrefix(name, "from_"), Name: v})
		case "minors":
			if h.Minors != nil {
				return d.Err("duplicate minors")
			}
			m, err := parseMinors(d)
			if err != nil {
				return err
			}
			h.Minors = m
		case "header_prefix":
			if seenPrefix {
				return d.Err("duplicate header_prefix")
			}
			seenPrefix = true
			if !d.Args(&h.HeaderPrefix) || d.NextArg() {
				return d.ArgErr()
			}
		case "header":
			var t HeaderTemplate
			if !d.Args(&t.Name, &t.Value) || d.NextArg() {
				return d.ArgErr()
			}
			h.Headers = append(h.Headers, t)
		case "claim_headers":
			if err := p.once(); err != nil {
				return err
			}
			h.ClaimHeaders = d.RemainingArgs()
			if len(h.ClaimHeaders) == 0 {
				return d.ArgErr()
			}
		case "realm":
			if seenRealm {
				return d.Err("duplicate realm")
			}
			seenRealm = true
			if !d.Args(&h.Realm) || d.NextArg() {
				return d.ArgErr()
			}
		default:
			if _, err := caddy.GetModule(verifierNamespace + "." + name); err != nil {
				return d.Errf("unknown subdirective or verifier %q", name)
			}
			unm, err := caddyfile.UnmarshalModule(d, verifierNamespace+"."+name)
			if err != nil {
				return err
			}
			h.VerifiersRaw = append(h.VerifiersRaw, caddyconfig.JSONModuleObject(unm, "verifier", name, nil))
		}
	}
	if len(h.VerifiersRaw) == 0 {
		return d.Errf("gameauth needs at least one verifier block (%s)", orList(moduleNames(verifierNamespace)))
	}
	return nil
}

func parseGameauthIssuer(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(IssuerHandler)
	if err := m.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return m, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	gameauth_issuer [<matcher>] <issuer> {
//		user  <template>
//		rooms <template>...
//		allow_publish
//		allow_streams <template>[*]...
//		<options of the issuer>
//	}
func (h *IssuerHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	var name string
	if !d.Args(&name) {
		return d.Errf("gameauth_issuer needs an issuer name: %s", orList(moduleNames(issuerNamespace)))
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	mod, err := caddy.GetModule(issuerNamespace + "." + name)
	if err != nil {
		return d.Errf("unknown issuer %q", name)
	}
	guest, ok := mod.New().(issuerOptionParser)
	if !ok {
		return d.Errf("issuer %q cannot be configured from a Caddyfile", name)
	}
	p := newOptionParser(d)
	for d.NextBlock(0) {
		switch d.Val() {
		case "user":
			if err := p.str(&h.User); err != nil {
				return err
			}
		case "rooms":
			if err := p.list(&h.Rooms); err != nil {
				return err
			}
		case "allow_publish":
			if err := p.flag(&h.AllowPublish); err != nil {
				return err
			}
		case "allow_streams":
			if err := p.list(&h.AllowStreams); err != nil {
				return err
			}
		default:
			if err := guest.unmarshalOption(p, d.Val()); err != nil {
				return err
			}
		}
	}
	h.IssuerRaw = caddyconfig.JSONModuleObject(guest, "issuer", name, nil)
	return nil
}

// unmarshalIssuerBlock lets a guest issuer parse its own block too (for
// caddyfile.Unmarshaler), using the same option parser.
func unmarshalIssuerBlock(d *caddyfile.Dispenser, guest issuerOptionParser) error {
	return parseBlock(d, func(p *optionParser, name string) error {
		return guest.unmarshalOption(p, name)
	})
}

// optionParser parses the body of a guest module's block one subdirective
// at a time, with duplicate detection and strict argument counts.
type optionParser struct {
	d    *caddyfile.Dispenser
	seen map[string]bool
	cur  string // the subdirective being parsed
}

func newOptionParser(d *caddyfile.Dispenser) *optionParser {
	return &optionParser{d: d, seen: make(map[string]bool)}
}

// once fails on a second occurrence of the current subdirective.
func (p *optionParser) once() error {
	name := p.d.Val()
	p.cur = name
	if p.seen[name] {
		return p.d.Errf("duplicate %s", name)
	}
	p.seen[name] = true
	return nil
}

// str reads exactly one argument of a subdirective that may appear once.
func (p *optionParser) str(dst *string) error {
	if err := p.once(); err != nil {
		return err
	}
	if !p.d.Args(dst) || p.d.NextArg() {
		return p.d.ArgErr()
	}
	return nil
}

// uint32ID reads the option name's one argument, a positive 32-bit number
// (a ZEGO AppID, a TRTC SDKAppID).
func (p *optionParser) uint32ID(name string, dst *uint32) error {
	var s string
	if err := p.str(&s); err != nil {
		return err
	}
	n, ok := positiveUint32(s)
	if !ok {
		return p.d.Errf("%s: want a positive 32-bit number, got %q", name, s)
	}
	*dst = n
	return nil
}

// positiveUint32 reads a positive 32-bit decimal number.
func positiveUint32(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil && n != 0
}

// list reads one or more arguments; the subdirective may repeat and the
// values accumulate.
func (p *optionParser) list(dst *[]string) error {
	args := p.d.RemainingArgs()
	if len(args) == 0 {
		return p.d.ArgErr()
	}
	*dst = append(*dst, args...)
	return nil
}

// duration reads one duration argument.
func (p *optionParser) duration(dst *caddy.Duration) error {
	var s string
	if err := p.str(&s); err != nil {
		return err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return p.d.Errf("%s: %v", p.cur, err)
	}
	if dur < 0 {
		return p.d.Errf("%s: %s is negative", p.cur, s)
	}
	*dst = caddy.Duration(dur)
	return nil
}

// flag reads a subdirective with no argument, or with "on"/"off"/"true"/"false".
func (p *optionParser) flag(dst *bool) error {
	if err := p.once(); err != nil {
		return err
	}
	*dst = true
	if p.d.NextArg() {
		switch p.d.Val() {
		case "on", "true", "yes":
		case "off", "false", "no":
			*dst = false
		default:
			return p.d.Errf("want on or off, got %q", p.d.Val())
		}
		if p.d.NextArg() {
			return p.d.ArgErr()
		}
	}
	return nil
}

// unknown is the error for a subdirective the block does not know.
func (p *optionParser) unknown(block string) error {
	return p.d.Errf("unknown subdirective %q in %s", p.d.Val(), block)
}

// parseBlock runs fn for each subdirective of the block of the module whose
// name is the current token, rejecting arguments on the module line.
func parseBlock(d *caddyfile.Dispenser, fn func(p *optionParser, name string) error) error {
	d.Next() // module name
	if d.NextArg() {
		return d.ArgErr()
	}
	p := newOptionParser(d)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := fn(p, d.Val()); err != nil {
			return err
		}
	}
	return nil
}

// td converts a caddy.Duration to a time.Duration.
func td(d caddy.Duration) time.Duration { return time.Duration(d) }

// positiveInt reads one positive integer argument.
func (p *optionParser) positiveInt(dst *int) error {
	var s string
	if err := p.str(&s); err != nil {
		return err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return p.d.Errf("%s: want a positive number, got %q", p.cur, s)
	}
	*dst = n
	return nil
}
