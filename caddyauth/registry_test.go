package caddyauth

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// The vendors are the modules of Caddy's registry: these tests hold every
// list of them that is not generated from it (the README, CI) to exactly
// the registered modules, and check the generated ones (Caddyfile errors,
// the gameauth-token command) and what each vendor's modules declare.

// ourModules returns the IDs of the modules this package registers: the
// handlers and the guests of both namespaces.
func ourModules(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, id := range caddy.Modules() {
		if strings.HasPrefix(id, "http.handlers.gameauth") || strings.HasPrefix(id, "http.gameauth.") ||
			id == "gameauth" || id == "admin.api.gameauth" {
			ids = append(ids, id)
		}
	}
	if len(moduleNames(verifierNamespace)) == 0 || len(moduleNames(issuerNamespace)) == 0 || len(ids) < 4 {
		t.Fatalf("registry holds %v: are the adapter files' init functions gone?", ids)
	}
	return ids
}

// sameSet reports whether a and b hold the same strings, each once.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b) && len(slices.Compact(a)) == len(b)
}

// TestRegistryREADMEModules: the README's "Modules:" paragraph names
// exactly the registered handlers, verifiers and issuers.
func TestRegistryREADMEModules(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, para, ok := strings.Cut(string(readme), "\nModules: ")
	if !ok {
		t.Fatal(`README has no paragraph starting "Modules: "`)
	}
	para, _, _ = strings.Cut(para, "\n\n")
	var listed []string
	for _, m := range regexp.MustCompile("`((?:http|admin\\.api)\\.[a-z_.]+?|gameauth)(?:\\.\\{([a-z_,]+)\\})?`").FindAllStringSubmatch(para, -1) {
		if m[2] == "" {
			listed = append(listed, m[1])
			continue
		}
		for name := range strings.SplitSeq(m[2], ",") {
			listed = append(listed, m[1]+"."+name)
		}
	}
	if want := ourModules(t); !sameSet(listed, want) {
		t.Errorf("README's module list names %v\nregistered: %v", listed, want)
	}
}

// TestRegistryCIModules: .ci/run checks that the xcaddy build holds exactly
// the registered modules.
func TestRegistryCIModules(t *testing.T) {
	run, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\bfor m in (.*?); do`).FindSubmatch(run)
	if m == nil {
		t.Fatal(".ci/run has no `for m in ...; do` module list")
	}
	listed := strings.Fields(strings.ReplaceAll(string(m[1]), "\\\n", " "))
	if want := ourModules(t); !sameSet(listed, want) {
		t.Errorf(".ci/run's module list names %v\nregistered: %v", listed, want)
	}
}

// TestRegistryCaddyfileMessages: the Caddyfile errors that list vendors
// list the registered ones.
func TestRegistryCaddyfileMessages(t *testing.T) {
	for _, c := range []struct {
		src, before string
		namespace   string
	}{
		{":80 {\n\tgameauth {\n\t\tfrom_header X-Token\n\t}\n}\n", "gameauth needs at least one verifier block (", verifierNamespace},
		{":80 {\n\tgameauth_issuer\n}\n", "gameauth_issuer needs an issuer name: ", issuerNamespace},
	} {
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(c.src), map[string]any{"filename": "Caddyfile"})
		if err == nil {
			t.Fatalf("%q adapted", c.src)
		}
		_, list, ok := strings.Cut(err.Error(), c.before)
		if !ok {
			t.Fatalf("error %q does not contain %q", err, c.before)
		}
		list, _, _ = strings.Cut(list, ")")
		list, _, _ = strings.Cut(list, ", at ")
		names := strings.FieldsFunc(strings.ReplaceAll(list, " or ", ","), func(r rune) bool { return r == ',' || r == ' ' })
		if want := moduleNames(c.namespace); !sameSet(names, want) {
			t.Errorf("%q lists %v, registered %v", err, names, want)
		}
	}
}

// TestRegistryCommand: gameauth-token prints a kind for each registered
// module that declares one, every issuer declares one, and the command's
// usage, help and flags come from them.
func TestRegistryCommand(t *testing.T) {
	var want []string
	for _, ns := range []string{issuerNamespace, verifierNamespace} {
		for _, mi := range caddy.GetModules(ns) {
			m, ok := mi.New().(tokenMinter)
			if !ok {
				if ns == issuerNamespace {
					t.Errorf("issuer %s declares no kind for the gameauth-token command (tokenMinter)", mi.ID)
				}
				continue
			}
			if k := m.tokenKind(); k.name != mi.ID.Name() {
				t.Errorf("%s declares the kind %q: want its module name", mi.ID, k.name)
			}
			want = append(want, mi.ID.Name())
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	kinds := tokenKinds()
	if got := kindNames(kinds); !slices.Equal(got, want) {
		t.Fatalf("command kinds %v, want %v", got, want)
	}

	cc, ok := caddycmd.Commands()["gameauth-token"]
	if !ok || cc.CobraFunc == nil {
		t.Fatal("gameauth-token is not registered with a CobraFunc")
	}
	cmd := &cobra.Command{}
	cc.CobraFunc(cmd)
	if cmd.RunE == nil {
		t.Fatal("no RunE")
	}
	if !strings.Contains(cmd.Use, "<"+strings.Join(want, "|")+">") {
		t.Errorf("usage %q does not list the kinds %v", cmd.Use, want)
	}
	for _, k := range kinds {
		if !regexp.MustCompile(`(?m)^  ` + k.name + ` +` + regexp.QuoteMeta(strings.SplitN(k.help, "\n", 2)[0]) + `$`).MatchString(cmd.Long) {
			t.Errorf("help does not describe %s:\n%s", k.name, cmd.Long)
		}
		for _, f := range k.flags {
			if cmd.Flags().Lookup(f.name) == nil {
				t.Errorf("flag --%s of %s is missing", f.name, k.name)
			}
		}
	}
	for _, common := range []string{"user", "ttl", "secret-file", "secret-env", "room", "publish", "streams"} {
		if cmd.Flags().Lookup(common) == nil {
			t.Errorf("flag --%s is missing", common)
		}
	}
}

// TestRegistryGuests: every verifier and issuer parses its own Caddyfile
// block, and a verifier's declared requirement options are exactly the
// options its block turns into rules of the handler's engine.
func TestRegistryGuests(t *testing.T) {
	for _, mi := range caddy.GetModules(verifierNamespace) {
		mod := mi.New()
		if _, ok := mod.(TokenVerifier); !ok {
			t.Errorf("%s is not a TokenVerifier", mi.ID)
		}
		if _, ok := mod.(caddyfile.Unmarshaler); !ok {
			t.Errorf("%s does not parse a Caddyfile block", mi.ID)
		}
		rq, ok := mod.(requirer)
		if !ok {
			continue
		}
		if rs := rq.rules(); len(rs) != 0 {
			t.Errorf("%s has %d rules with no option set", mi.ID, len(rs))
		}
		for _, opt := range rq.requirementOptions() {
			var rs []rule
			// A template option, or a flag.
			for _, line := range []string{opt + " {http.request.uri.path.1}", opt} {
				fresh := mi.New()
				d := caddyfile.NewTestDispenser(mi.ID.Name() + " {\n" + line + "\n}")
				if err := fresh.(caddyfile.Unmarshaler).UnmarshalCaddyfile(d); err == nil {
					rs = fresh.(requirer).rules()
					break
				}
			}
			if len(rs) == 0 {
				t.Errorf("%s declares the requirement option %s, but its block does not turn it into a rule", mi.ID, opt)
			}
		}
	}
	for _, mi := range caddy.GetModules(issuerNamespace) {
		mod := mi.New()
		if _, ok := mod.(TokenIssuer); !ok {
			t.Errorf("%s is not a TokenIssuer", mi.ID)
		}
		if _, ok := mod.(issuerOptionParser); !ok {
			t.Errorf("%s cannot take options from a gameauth_issuer block", mi.ID)
		}
	}
}
