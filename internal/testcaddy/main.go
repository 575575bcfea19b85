// Command testcaddy is Caddy with the standard modules and caddy-gameauth,
// built by the tests of package cluster to run real Caddy processes. It is
// what xcaddy builds with --with github.com/gameauth/caddy-gameauth.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// Caddy's standard modules.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	// The gameauth modules, directives and command.
	_ "github.com/gameauth/caddy-gameauth"
)

func main() {
	caddycmd.Main()
}
