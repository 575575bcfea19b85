package caddyauth

import (
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// The guest modules of the two namespaces below are the vendors. Every
// list of them this package shows (Caddyfile errors, the gameauth-token
// command) is read from Caddy's module registry, so a new vendor's adapter
// file adds it everywhere; registry_test.go checks the lists in the README
// and CI against the same registry.
const (
	verifierNamespace = "http.gameauth.verifiers"
	issuerNamespace   = "http.gameauth.issuers"
)

// moduleNames returns the names of the registered modules of a namespace,
// in order: "seayoo" for http.gameauth.verifiers.seayoo.
func moduleNames(namespace string) []string {
	mods := caddy.GetModules(namespace)
	names := make([]string, len(mods))
	for i, m := range mods {
		names[i] = m.ID.Name()
	}
	return names
}

// orList joins words as prose: "a", "a or b", "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
