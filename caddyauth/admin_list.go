package caddyauth

import (
	"bytes"
	"container/heap"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gameauth/caddy-gameauth/bans"
	"github.com/gameauth/caddy-gameauth/internal/strictjson"
)

// The JSON of the admin API (admin.go): what it reads, the shapes it
// answers, and the paged listing.

// adminBan is a ban as the admin API shows it. Times are RFC 3339 UTC;
// until is omitted for a ban forever.
type adminBan struct {
	Provider  string `json:"provider"`
	Subject   string `json:"subject"`
	Until     string `json:"until,omitempty"`
	Reason    string `json:"reason,omitempty"`
	CreatedBy string `json:"created_by,omitempty"`
	CreatedAt string `json:"created_at"`
}

// adminRevocation is a revocation as the admin API shows it: the
// player's tokens issued before before are refused.
type adminRevocation struct {
	Provider  string `json:"provider"`
	Subject   string `json:"subject"`
	Before    string `json:"before"`
	CreatedBy string `json:"created_by,omitempty"`
	CreatedAt string `json:"created_at"`
}

// adminUnban is the answer to a DELETE: the unban record stored.
type adminUnban struct {
	Provider  string `json:"provider"`
	Subject   string `json:"subject"`
	CreatedBy string `json:"created_by,omitempty"`
	CreatedAt string `json:"created_at"`
}

// adminPage is the answer to GET /gameauth/bans: at most limit entries,
// bans and revocations together, the ones after the cursor in the order
// (provider, subject, bans before revocations). next, when present, is
// the cursor of the next page.
type adminPage struct {
	Bans        []adminBan        `json:"bans"`
	Revocations []adminRevocation `json:"revocations"`
	Next        string            `json:"next,omitempty"`
}

// adminBanJSON is the JSON of a ban record.
func adminBanJSON(r bans.Record) adminBan {
	return adminBan{Provider: r.Provider, Subject: r.Subject, Until: adminFormat(r.Until),
		Reason: r.Reason, CreatedBy: r.CreatedBy, CreatedAt: adminFormat(r.CreatedAt)}
}

// adminRevocationJSON is the JSON of a revocation record.
func adminRevocationJSON(r bans.Record) adminRevocation {
	return adminRevocation{Provider: r.Provider, Subject: r.Subject, Before: adminFormat(r.Before),
		CreatedBy: r.CreatedBy, CreatedAt: adminFormat(r.CreatedAt)}
}

// list handles GET /gameauth/bans?limit=&after=&provider=&subject=: the
// bans in force (expired ones are not shown) and the revocations, paged.
// limit is 1 to 1000, default 100; after is the next of the previous
// page; provider and subject filter exactly. The list is not sorted: a
// page is selected in one pass over it, keeping the limit smallest
// entries after the cursor in a heap, in O(n log limit).
func (a *adminAPI) list(w http.ResponseWriter, r *http.Request) error {
	q, err := adminQuery(r, "limit", "after", "provider", "subject")
	if err != nil {
		return err
	}
	f := adminFilter{limit: defaultPageLimit, provider: q.Get("provider"), subject: q.Get("subject")}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > maxPageLimit {
			return adminErr(http.StatusBadRequest, "limit must be a number from 1 to %d", maxPageLimit)
		}
		f.limit = n
	}
	if v, ok := q["after"]; ok {
		if f.after, ok = adminParseCursor(v[0]); !ok {
			return adminErr(http.StatusBadRequest, "after must be the next of a previous page")
		}
		f.hasAfter = true
	}
	if _, ok := q["provider"]; ok && !bans.ValidProvider(f.provider) {
		return adminErr(http.StatusBadRequest, "provider must be 1 to %d bytes of [a-z0-9_-], starting with a letter", bans.MaxProviderLen)
	}
	if _, ok := q["subject"]; ok && !bans.ValidSubject(f.subject) {
		return adminErr(http.StatusBadRequest, "subject must be 1 to %d bytes of printable UTF-8", bans.MaxSubjectLen)
	}
	s, err := a.state(true)
	if err != nil {
		return err
	}
	f.now = time.Now()
	recs, more := f.page(s.replica.Records())
	page := adminPage{Bans: []adminBan{}, Revocations: []adminRevocation{}}
	for _, rec := range recs {
		if rec.Op == bans.OpRevoke {
			page.Revocations = append(page.Revocations, adminRevocationJSON(rec))
		} else {
			page.Bans = append(page.Bans, adminBanJSON(rec))
		}
	}
	if more {
		page.Next = adminCursor(recs[len(recs)-1])
	}
	return adminWriteJSON(w, http.StatusOK, page)
}

// adminFilter selects one page of the list.
type adminFilter struct {
	limit             int
	after             bans.Record // the last entry of the previous page
	hasAfter          bool
	provider, subject string // "": any
	now               time.Time
}

// adminCompare orders entries by provider, subject, then bans before
// revocations: the order of the pages. No two entries compare equal.
func adminCompare(a, b *bans.Record) int {
	if c := strings.Compare(a.Provider, b.Provider); c != 0 {
		return c
	}
	if c := strings.Compare(a.Subject, b.Subject); c != 0 {
		return c
	}
	return strings.Compare(string(a.Op), string(b.Op)) // "ban" < "revoke"
}

// adminMaxHeap holds the smallest entries seen, the greatest on top.
type adminMaxHeap []bans.Record

// Len is the number of entries held.
func (h adminMaxHeap) Len() int { return len(h) }

// Less puts the greatest entry on top.
func (h adminMaxHeap) Less(i, j int) bool { return adminCompare(&h[i], &h[j]) > 0 }

// Swap swaps two entries.
func (h adminMaxHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

// Push appends x, a bans.Record.
func (h *adminMaxHeap) Push(x any) { *h = append(*h, x.(bans.Record)) }

// Pop removes the last element.
func (h *adminMaxHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// page returns the first limit entries of recs that pass the filter, in
// order, and whether more follow.
func (f *adminFilter) page(recs iter.Seq[bans.Record]) ([]bans.Record, bool) {
	h := make(adminMaxHeap, 0, min(f.limit+1, 64))
	for rec := range recs {
		switch {
		case f.provider != "" && rec.Provider != f.provider,
			f.subject != "" && rec.Subject != f.subject,
			rec.Op == bans.OpBan && !rec.Until.IsZero() && !rec.Until.After(f.now),
			f.hasAfter && adminCompare(&rec, &f.after) <= 0:
			continue
		}
		if len(h) <= f.limit { // keep one more than limit: whether more follow
			heap.Push(&h, rec)
		} else if adminCompare(&rec, &h[0]) < 0 {
			h[0] = rec
			heap.Fix(&h, 0)
		}
	}
	slices.SortFunc(h, func(a, b bans.Record) int { return adminCompare(&a, &b) })
	if len(h) > f.limit {
		return h[:f.limit], true
	}
	return h, false
}

// adminCursor is the opaque cursor after rec: base64url of
// "op/provider/subject" (a provider and an op hold no '/').
func adminCursor(rec bans.Record) string {
	return base64.RawURLEncoding.EncodeToString([]byte(string(rec.Op) + "/" + rec.Provider + "/" + rec.Subject))
}

// adminParseCursor reads a cursor adminCursor made.
func adminParseCursor(s string) (bans.Record, bool) {
	if len(s) > 512 {
		return bans.Record{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return bans.Record{}, false
	}
	parts := strings.SplitN(string(b), "/", 3)
	if len(parts) != 3 || (parts[0] != string(bans.OpBan) && parts[0] != string(bans.OpRevoke)) ||
		!bans.ValidProvider(parts[1]) || !bans.ValidSubject(parts[2]) {
		return bans.Record{}, false
	}
	return bans.Record{Op: bans.Op(parts[0]), Provider: parts[1], Subject: parts[2]}, true
}

// adminReadObject reads a body of at most maxAdminBody bytes holding exactly
// one strict JSON object (strictjson: no duplicate or case-folded member)
// of the members names, into v.
func adminReadObject(w http.ResponseWriter, r *http.Request, names *strictjson.Names, v any) error {
	if len(r.URL.RawQuery) > 0 {
		return adminErr(http.StatusBadRequest, "no query parameters here: send the JSON body only")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return adminErr(http.StatusBadRequest, "body over %d bytes", maxAdminBody)
	case err != nil:
		return adminErr(http.StatusBadRequest, "reading the body: %v", err)
	}
	if err := strictjson.Check(b, names, nil); err != nil {
		return adminErr(http.StatusBadRequest, "body must be one JSON object: %s", strings.TrimPrefix(err.Error(), "strictjson: "))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return adminErr(http.StatusBadRequest, "%s must be a %s", te.Field, te.Type)
		}
		return adminErr(http.StatusBadRequest, "body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil // strictjson.Check refused anything after the object
}

// adminQuery parses the query, refusing a parameter not in known or
// given twice.
func adminQuery(r *http.Request, known ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, adminErr(http.StatusBadRequest, "bad query: %v", err)
	}
	for k, v := range q {
		if !slices.Contains(known, k) {
			return nil, adminErr(http.StatusBadRequest, "unknown query parameter %q: want %s", adminClip(k), orList(known))
		}
		if len(v) != 1 {
			return nil, adminErr(http.StatusBadRequest, "query parameter %s given %d times", k, len(v))
		}
	}
	return q, nil
}

// adminTime reads an RFC 3339 time of field, in [2000, 2200).
func adminTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, adminErr(http.StatusBadRequest, "%s must be an RFC 3339 time such as 2026-12-31T00:00:00Z", field)
	}
	t = t.UTC()
	if t.Year() < 2000 || t.Year() >= 2200 {
		return time.Time{}, adminErr(http.StatusBadRequest, "%s must be from the year 2000 to 2199", field)
	}
	return t, nil
}

// adminFormat writes t in RFC 3339 UTC; "" for the zero time.
func adminFormat(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// adminPrintable reports whether s is at most max bytes of printable
// UTF-8, as bans.Record.Validate wants a reason and a created_by.
func adminPrintable(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// adminClip shortens a refused value echoed in an error.
func adminClip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// adminWriteJSON answers v as JSON with status.
func adminWriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}
