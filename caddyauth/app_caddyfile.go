package caddyauth

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("gameauth", parseGlobalOption)
}

// parseGlobalOption parses the gameauth global option into the gameauth
// app:
//
//	{
//		gameauth {
//			sync_interval     <duration>
//			fail_closed_after <duration>
//			max_entries       <n>
//			revocation_ttl    <duration>
//			max_live_sessions <n>
//			max_live_sessions_per_player <n>
//			storage <module> {
//				...
//			}
//		}
//	}
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("gameauth: the global option may appear only once")
	}
	app := new(App)
	d.Next() // the option's name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		opt := d.Val()
		switch opt {
		case "sync_interval", "fail_closed_after", "revocation_ttl":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return nil, d.Errf("gameauth: %s %q: %v", opt, d.Val(), err)
			}
			switch opt {
			case "sync_interval":
				app.SyncInterval = caddy.Duration(dur)
			case "fail_closed_after":
				app.FailClosedAfter = caddy.Duration(dur)
			default:
				app.RevocationTTL = caddy.Duration(dur)
			}
		case "max_entries", "max_live_sessions", "max_live_sessions_per_player":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n < 1 {
				return nil, d.Errf("gameauth: %s %q: must be a positive whole number", opt, d.Val())
			}
			switch opt {
			case "max_entries":
				app.MaxEntries = n
			case "max_live_sessions":
				app.MaxLiveSessions = n
			default:
				app.MaxLiveSessionsPerPlayer = n
			}
		case "storage":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			name := d.Val()
			unm, err := caddyfile.UnmarshalModule(d, "caddy.storage."+name)
			if err != nil {
				return nil, err
			}
			if _, ok := unm.(caddy.StorageConverter); !ok {
				return nil, d.Errf("gameauth: storage module %s is not a storage", name)
			}
			app.StorageRaw = caddyconfig.JSONModuleObject(unm, "module", name, nil)
			continue
		default:
			return nil, d.Errf("gameauth: unknown global option %q (want sync_interval, fail_closed_after, max_entries, revocation_ttl, max_live_sessions, max_live_sessions_per_player or storage)", opt)
		}
		if d.NextArg() {
			return nil, d.ArgErr()
		}
	}
	return httpcaddyfile.App{Name: "gameauth", Value: caddyconfig.JSON(app, nil)}, nil
}
