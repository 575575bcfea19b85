// Command caddy is Caddy v2 with the standard modules and caddy-gameauth,
// built from the bench module (so the benchmark needs neither xcaddy nor
// anything in the main module's go.mod).
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// Caddy's standard modules and the gameauth modules.
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/gameauth/caddy-gameauth"
)

func main() {
	caddycmd.Main()
}
