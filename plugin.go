// Package gameauth plugs caddy-gameauth into Caddy. It has no code of its
// own: importing it (as xcaddy's --with does) registers the modules of
// package caddyauth. Go servers that only need to verify or issue tokens
// import package verifiers or issuers instead.
package gameauth

import (
	// Register the gameauth Caddy modules, directives and command.
	_ "github.com/gameauth/caddy-gameauth/caddyauth"
)
