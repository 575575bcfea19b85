package caddyauth

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gameauth/caddy-gameauth/issuers"
)

// The gameauth-token command prints a token. Its kinds come from the
// module registry: each guest module that can mint a kind of token
// declares it (tokenMinter) in its vendor's adapter file, so a new vendor
// adds itself to the command's arguments, flags and help.

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "gameauth-token",
		Short: "Prints a token for operators and tests",
		// Built when the command line is, once every module (and so every
		// kind) is registered.
		CobraFunc: func(cmd *cobra.Command) {
			kinds := tokenKinds()
			cmd.Use = "gameauth-token <" + strings.Join(kindNames(kinds), "|") + "> --user <id> [--ttl <duration>] [kind flags]"
			cmd.Long = tokenHelp(kinds)
			cmd.Flags().AddGoFlagSet(tokenFlagSet(kinds))
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(func(fl caddycmd.Flags) (int, error) {
				if fl.NArg() > 1 {
					return 1, fmt.Errorf("unexpected arguments after %q", fl.Arg(0))
				}
				tok, err := mintToken(context.Background(), fl.Arg(0), fl)
				if err != nil {
					return 1, err
				}
				fmt.Println(tok.Token)
				return 0, nil
			})
		},
	})
}

// tokenKind is one kind of token the command prints.
type tokenKind struct {
	// name is the command's first argument: the vendor's name.
	name string
	// help says what the kind prints and which flags it reads, for the
	// command's help: "a ZEGOCLOUD Token04: --app-id, ...".
	help string
	// flags are the flags of this kind beyond the common ones.
	flags []tokenFlag
	// issuer builds the issuer from the command's flags; the common
	// request flags (--user, --room, --publish, --streams, --ttl) are the
	// command's.
	issuer func(a tokenArgs) (issuers.Issuer, error)
}

// tokenFlag is a string flag of a kind, or a bool one when isBool.
type tokenFlag struct {
	name, def, usage string
	isBool           bool
}

// tokenMinter is implemented by the guest modules whose vendor's tokens
// the command prints: the issuers, and the verifier of a vendor whose
// tokens Caddy does not issue but developers need (Seayoo).
type tokenMinter interface {
	tokenKind() tokenKind
}

// tokenArgs are the command's parsed flags, by name (caddycmd.Flags).
type tokenArgs interface {
	String(name string) string
	Bool(name string) bool
	Duration(name string) time.Duration
}

// tokenKinds returns the kinds the registered modules declare, by name.
func tokenKinds() []tokenKind {
	var kinds []tokenKind
	for _, ns := range []string{issuerNamespace, verifierNamespace} {
		for _, mi := range caddy.GetModules(ns) {
			m, ok := mi.New().(tokenMinter)
			if !ok {
				continue
			}
			k := m.tokenKind()
			if !slices.ContainsFunc(kinds, func(have tokenKind) bool { return have.name == k.name }) {
				kinds = append(kinds, k)
			}
		}
	}
	slices.SortFunc(kinds, func(a, b tokenKind) int { return strings.Compare(a.name, b.name) })
	return kinds
}

func kindNames(kinds []tokenKind) []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return names
}

// tokenHelp is the command's long help.
func tokenHelp(kinds []tokenKind) string {
	var b strings.Builder
	b.WriteString(`
Prints a freshly minted token to stdout, for operators and tests.

Secrets are read from a file (--secret-file) or an environment variable
(--secret-env), never from the command line, where other users could see them.

`)
	width := 0
	for _, k := range kinds {
		width = max(width, len(k.name))
	}
	indent := "\n" + strings.Repeat(" ", width+4)
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, k.name, strings.ReplaceAll(k.help, "\n", indent))
	}
	return b.String()
}

// tokenFlagSet holds the common flags and those of every kind; a flag two
// kinds declare is defined once.
func tokenFlagSet(kinds []tokenKind) *flag.FlagSet {
	fs := flag.NewFlagSet("gameauth-token", flag.ExitOnError)
	fs.String("user", "", "the user id the token is for (required)")
	fs.Duration("ttl", 0, "token lifetime (default: the kind's default)")
	fs.String("secret-file", "", "file holding the secret")
	fs.String("secret-env", "", "environment variable holding the secret")
	fs.String("room", "", "room id, for the kinds that bind one")
	fs.Bool("publish", false, "grant the publish privilege, for the kinds that have one")
	fs.String("streams", "", "comma-separated stream ids allowed to publish, for the kinds that have them")
	for _, k := range kinds {
		for _, f := range k.flags {
			switch {
			case fs.Lookup(f.name) != nil:
			case f.isBool:
				fs.Bool(f.name, f.def == "true", k.name+": "+f.usage)
			default:
				fs.String(f.name, f.def, k.name+": "+f.usage)
			}
		}
	}
	return fs
}

// commandSecret reads the secret of --secret-file or --secret-env.
func commandSecret(a tokenArgs) (string, error) {
	file, env := a.String("secret-file"), a.String("secret-env")
	switch {
	case file != "" && env != "":
		return "", fmt.Errorf("give --secret-file or --secret-env, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--secret-file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("--secret-env: environment variable %s is not set", env)
		}
		return v, nil
	}
	return "", fmt.Errorf("--secret-file or --secret-env is required")
}

// mintToken builds the issuer of the kind named and mints one token.
func mintToken(ctx context.Context, kind string, a tokenArgs) (issuers.Token, error) {
	user := a.String("user")
	if user == "" {
		return issuers.Token{}, fmt.Errorf("--user is required")
	}
	kinds := tokenKinds()
	i := slices.IndexFunc(kinds, func(k tokenKind) bool { return k.name == kind })
	switch {
	case kind == "":
		return issuers.Token{}, fmt.Errorf("name the kind of token: %s", orList(kindNames(kinds)))
	case i < 0:
		return issuers.Token{}, fmt.Errorf("unknown kind %q: want %s", kind, orList(kindNames(kinds)))
	}
	iss, err := kinds[i].issuer(a)
	if err != nil {
		return issuers.Token{}, err
	}
	req := issuers.Request{UserID: user, RoomID: a.String("room"), Publish: a.Bool("publish"), TTL: a.Duration("ttl")}
	if s := a.String("streams"); s != "" {
		req.StreamIDs = strings.Split(s, ",")
	}
	return iss.Issue(ctx, req)
}
