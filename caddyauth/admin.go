package caddyauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/gameauth/caddy-gameauth/bans"
	"github.com/gameauth/caddy-gameauth/internal/strictjson"
)

// The admin API of the ban list (module admin.api.gameauth), served on
// Caddy's admin endpoint and so under its access controls:
//
//	POST   /gameauth/bans                        ban a player
//	GET    /gameauth/bans                        list bans and revocations, paged
//	DELETE /gameauth/bans/{provider}/{subject}   lift a ban
//	POST   /gameauth/revocations                 revoke a player's tokens
//
// Every change is one record written to the list's storage, applied to
// this instance at once (its live connections of the player end at once)
// and to the other instances sharing the storage at their next sync. A
// refusal is a 4xx JSON {"error": "..."} and changes nothing.

// init registers the admin.api.gameauth module.
func init() {
	caddy.RegisterModule(adminAPI{})
}

// Bounds of the admin API.
const (
	maxAdminBody     = 4 << 10 // bytes of a request body
	defaultPageLimit = 100
	maxPageLimit     = 1000
	adminCreatedBy   = "admin api" // created_by when the request names no one
	adminStoreTime   = 30 * time.Second
)

// adminAPI is the admin.api.gameauth module.
type adminAPI struct {
	logger    *zap.Logger
	providers []string
}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.gameauth",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Provision keeps the logger and the provider names. It does not reach
// the gameauth app: Caddy provisions admin modules before the config's
// apps, and a config that uses no gameauth handler must not get the app
// (and its storage sync) because of the admin API.
func (a *adminAPI) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger(a)
	a.providers = moduleNames(verifierNamespace)
	return nil
}

// Routes returns the one route of the module, which dispatches itself so
// that a wrong method or path is a JSON error too.
func (a *adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/gameauth/", Handler: caddy.AdminHandlerFunc(a.serve)}}
}

// adminErr is a refusal: Caddy writes {"error": msg} with the status.
func adminErr(status int, format string, args ...any) error {
	return caddy.APIError{HTTPStatus: status, Err: fmt.Errorf(format, args...)}
}

// serve dispatches by path and method and logs refusals at Debug.
func (a *adminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	err := a.dispatch(w, r)
	var ae caddy.APIError
	if errors.As(err, &ae) && ae.HTTPStatus < 500 {
		a.logger.Debug("admin request refused", zap.String("method", r.Method),
			zap.Int("status", ae.HTTPStatus), zap.Error(ae.Err))
	}
	return err
}

// dispatch routes a request by its escaped path, so that a %2F in a
// subject stays inside its segment, then by method.
func (a *adminAPI) dispatch(w http.ResponseWriter, r *http.Request) error {
	p := r.URL.EscapedPath()
	allow := ""
	switch {
	case p == "/gameauth/bans":
		switch r.Method {
		case http.MethodGet:
			return a.list(w, r)
		case http.MethodPost:
			return a.ban(w, r)
		}
		allow = "GET, POST"
	case strings.HasPrefix(p, "/gameauth/bans/"):
		if r.Method == http.MethodDelete {
			return a.unban(w, r, strings.TrimPrefix(p, "/gameauth/bans/"))
		}
		allow = "DELETE"
	case p == "/gameauth/revocations":
		if r.Method == http.MethodPost {
			return a.revoke(w, r)
		}
		allow = "POST"
	default:
		return adminErr(http.StatusNotFound, "no such resource: want /gameauth/bans or /gameauth/revocations")
	}
	w.Header().Set("Allow", allow)
	return adminErr(http.StatusMethodNotAllowed, "method %s not allowed: want %s", r.Method, allow)
}

// app returns the gameauth app of the running config. It is looked up
// per request in the active config (not the one the module was
// provisioned with, whose apps may still be loading), and never created
// here.
func (a *adminAPI) app() (*App, error) {
	v, err := caddy.ActiveContext().AppIfConfigured("gameauth")
	if app, ok := v.(*App); err == nil && ok && app.state != nil {
		return app, nil
	}
	return nil, adminErr(http.StatusServiceUnavailable,
		"the running config has no gameauth app: it has no gameauth handler or issuer, nor apps.gameauth")
}

// state returns the ban list of the running config; if synced, only once
// it was read from storage: before that it cannot say who is banned.
func (a *adminAPI) state(synced bool) (*banState, error) {
	app, err := a.app()
	if err != nil {
		return nil, err
	}
	if synced && app.state.replica.LastSync().IsZero() {
		return nil, adminErr(http.StatusServiceUnavailable, "ban list unavailable: not read from storage yet")
	}
	return app.state, nil
}

// adminBanRequest is the body of POST /gameauth/bans.
type adminBanRequest struct {
	Provider  string `json:"provider"`
	Subject   string `json:"subject"`
	Until     string `json:"until"`
	Reason    string `json:"reason"`
	CreatedBy string `json:"created_by"`
}

// adminRevokeRequest is the body of POST /gameauth/revocations.
type adminRevokeRequest struct {
	Provider  string `json:"provider"`
	Subject   string `json:"subject"`
	Before    string `json:"before"`
	CreatedBy string `json:"created_by"`
}

var (
	adminBanNames    = strictjson.NewNames("provider", "subject", "until", "reason", "created_by")
	adminRevokeNames = strictjson.NewNames("provider", "subject", "before", "created_by")
)

// ban handles POST /gameauth/bans: 201 and the ban as stored. until
// omitted (or "") bans forever; it must be in the future and before 2200.
// A new ban replaces the player's ban in force, if any.
func (a *adminAPI) ban(w http.ResponseWriter, r *http.Request) error {
	var req adminBanRequest
	if err := adminReadObject(w, r, adminBanNames, &req); err != nil {
		return err
	}
	now := time.Now().UTC()
	rec := bans.Record{Op: bans.OpBan, Provider: req.Provider, Subject: req.Subject,
		Reason: req.Reason, CreatedBy: req.CreatedBy, CreatedAt: now}
	if err := a.checkIdentity(rec.Provider, rec.Subject, &rec.CreatedBy); err != nil {
		return err
	}
	if !adminPrintable(rec.Reason, bans.MaxReasonLen) {
		return adminErr(http.StatusBadRequest, "reason must be at most %d bytes of printable UTF-8", bans.MaxReasonLen)
	}
	if req.Until != "" {
		t, err := adminTime("until", req.Until)
		if err != nil {
			return err
		}
		if !t.After(now) {
			return adminErr(http.StatusBadRequest, "until is not in the future: omit it to ban forever")
		}
		rec.Until = t
	}
	return a.put(w, r, rec, http.StatusCreated, adminBanJSON(rec))
}

// revoke handles POST /gameauth/revocations: 201 and the revocation as
// stored. Tokens of the player issued before before (default: now,
// truncated to the second) are refused; before in the future is refused,
// and so is one older than revocation_ttl (no such token is still valid).
// An earlier revocation than the one in force changes nothing there but
// is stored all the same.
func (a *adminAPI) revoke(w http.ResponseWriter, r *http.Request) error {
	var req adminRevokeRequest
	if err := adminReadObject(w, r, adminRevokeNames, &req); err != nil {
		return err
	}
	now := time.Now().UTC()
	rec := bans.Record{Op: bans.OpRevoke, Provider: req.Provider, Subject: req.Subject,
		CreatedBy: req.CreatedBy, CreatedAt: now, Before: now}
	if err := a.checkIdentity(rec.Provider, rec.Subject, &rec.CreatedBy); err != nil {
		return err
	}
	if req.Before != "" {
		t, err := adminTime("before", req.Before)
		if err != nil {
			return err
		}
		if t.After(now) {
			return adminErr(http.StatusBadRequest, "before is in the future: tokens not issued yet cannot be revoked")
		}
		rec.Before = t
	}
	app, err := a.app()
	if err != nil {
		return err
	}
	if ttl := app.revocationTTL(); rec.Before.Before(now.Add(-ttl)) {
		return adminErr(http.StatusBadRequest, "before is older than revocation_ttl (%s): tokens that old are no longer valid", fmtDuration(ttl))
	}
	rec.Before = rec.Before.Truncate(time.Second)
	return a.put(w, r, rec, http.StatusCreated, adminRevocationJSON(rec))
}

// unban handles DELETE /gameauth/bans/{provider}/{subject}, each segment
// percent-encoded (a '/' in a subject as %2F). 200 and the unban record
// as stored when the player had a ban in force here; 404, and nothing
// stored, when not (so that lifting a ban nobody set cannot fill the
// storage with records). A ban made on another instance within the last
// sync_interval may not be known here yet: retry after it. The query may
// name created_by.
func (a *adminAPI) unban(w http.ResponseWriter, r *http.Request, rest string) error {
	segs := strings.Split(rest, "/")
	if len(segs) != 2 || segs[0] == "" || segs[1] == "" {
		return adminErr(http.StatusBadRequest, "want DELETE /gameauth/bans/{provider}/{subject}, a '/' in the subject escaped as %%2F")
	}
	provider, err1 := url.PathUnescape(segs[0])
	subject, err2 := url.PathUnescape(segs[1])
	if err1 != nil || err2 != nil {
		return adminErr(http.StatusBadRequest, "bad percent-encoding in the path")
	}
	q, err := adminQuery(r, "created_by")
	if err != nil {
		return err
	}
	rec := bans.Record{Op: bans.OpUnban, Provider: provider, Subject: subject,
		CreatedBy: q.Get("created_by"), CreatedAt: time.Now().UTC()}
	// A provider whose module is gone from the build may still have bans
	// to lift: only its spelling is checked here.
	if !bans.ValidProvider(provider) {
		return adminErr(http.StatusBadRequest, "provider must be 1 to %d bytes of [a-z0-9_-], starting with a letter", bans.MaxProviderLen)
	}
	if err := adminCheckSubject(subject, &rec.CreatedBy); err != nil {
		return err
	}
	s, err := a.state(true)
	if err != nil {
		return err
	}
	if s.replica.Check(provider, subject, rec.CreatedAt, rec.CreatedAt).Verdict != bans.Banned {
		return adminErr(http.StatusNotFound, "%s/%s is not banned", provider, url.PathEscape(subject))
	}
	return a.put(w, r, rec, http.StatusOK, adminUnban{provider, subject, rec.CreatedBy, adminFormat(rec.CreatedAt)})
}

// checkIdentity refuses a provider that is not a registered verifier, a
// bad subject or a bad created_by, which it defaults.
func (a *adminAPI) checkIdentity(provider, subject string, by *string) error {
	if !slices.Contains(a.providers, provider) {
		if provider == "" {
			return adminErr(http.StatusBadRequest, "provider is required: %s", orList(a.providers))
		}
		return adminErr(http.StatusBadRequest, "unknown provider %q: want %s", adminClip(provider), orList(a.providers))
	}
	return adminCheckSubject(subject, by)
}

// adminCheckSubject refuses a bad subject or created_by, and defaults the
// created_by.
func adminCheckSubject(subject string, by *string) error {
	switch {
	case subject == "":
		return adminErr(http.StatusBadRequest, "subject is required")
	case !bans.ValidSubject(subject):
		return adminErr(http.StatusBadRequest, "subject must be at most %d bytes of printable UTF-8", bans.MaxSubjectLen)
	case !adminPrintable(*by, bans.MaxByLen):
		return adminErr(http.StatusBadRequest, "created_by must be at most %d bytes of printable UTF-8", bans.MaxByLen)
	case *by == "":
		*by = adminCreatedBy
	}
	return nil
}

// put stores one validated change, applies it here, ends the live
// connections it refuses, logs it and answers out with status.
func (a *adminAPI) put(w http.ResponseWriter, r *http.Request, rec bans.Record, status int, out any) error {
	if err := rec.Validate(); err != nil {
		return adminErr(http.StatusBadRequest, "%v", err)
	}
	s, err := a.state(false)
	if err != nil {
		return err
	}
	if s.replica.Full() && !s.replica.Holds(rec.Provider, rec.Subject) {
		// The record would be stored but not enforced here (nor by any
		// instance with the same max_entries).
		return adminErr(http.StatusInsufficientStorage, "the ban list holds max_entries players: raise max_entries in the gameauth global option")
	}
	// A client that goes away must not cut a store short.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), adminStoreTime)
	defer cancel()
	if err := s.replica.Put(ctx, rec); errors.Is(err, bans.ErrRecord) {
		return adminErr(http.StatusBadRequest, "%v", err)
	} else if err != nil {
		a.logger.Error("ban list change not stored", zap.String("op", string(rec.Op)),
			zap.String("provider", rec.Provider), zap.String("subject", rec.Subject), zap.Error(err))
		return adminErr(http.StatusServiceUnavailable, "ban list storage failed: the change was not applied; try again")
	}
	s.recheckLive()
	fields := []zap.Field{zap.String("op", string(rec.Op)), zap.String("provider", rec.Provider),
		zap.String("subject", rec.Subject), zap.String("created_by", rec.CreatedBy)}
	switch rec.Op {
	case bans.OpBan:
		until := adminFormat(rec.Until)
		if until == "" {
			until = "forever"
		}
		fields = append(fields, zap.String("until", until), zap.String("reason", rec.Reason))
	case bans.OpRevoke:
		fields = append(fields, zap.String("before", adminFormat(rec.Before)))
	}
	a.logger.Info("ban list changed", fields...)
	return adminWriteJSON(w, status, out)
}

// Interface guards
var (
	_ caddy.AdminRouter = (*adminAPI)(nil)
	_ caddy.Provisioner = (*adminAPI)(nil)
)
