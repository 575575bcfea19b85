package bans

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds of a stored record. A record is one JSON object; a change record
// is one object in one storage value, a snapshot part is one record a line.
const (
	MaxRecordSize  = 2048 // bytes of one record, without the line's newline
	MaxProviderLen = 32   // bytes: [a-z][a-z0-9_-]*
	MaxSubjectLen  = 256  // bytes of printable UTF-8
	MaxReasonLen   = 200  // bytes of printable UTF-8
	MaxByLen       = 128  // bytes of printable UTF-8 (the created_by)

	// MaxClockSkew is how far ahead of a reader's clock a record's
	// created_at (and a revocation's before, of its created_at) may be.
	// The newest created_at wins, so a record dated further ahead would
	// override every change made until then: a reader holds it back until
	// its clock comes within MaxClockSkew of it (for ever, for a record
	// dated 2199), and a revocation dated after its own creation is refused.
	MaxClockSkew = 5 * time.Minute
)

// Op is what a record does.
type Op string

// The operations. A ban and an unban are the two values of one
// last-writer-wins register per (provider, subject): the one with the later
// CreatedAt wins. A revocation is a max register: the latest Before wins,
// so a revocation can never be narrowed by another one.
const (
	OpBan    Op = "ban"    // Until (zero: forever), Reason
	OpUnban  Op = "unban"  // a tombstone: lifts the ban
	OpRevoke Op = "revoke" // Before: tokens issued before it are refused
)

// Record is one change, or one line of a snapshot. Times are UTC.
type Record struct {
	Op        Op
	Provider  string
	Subject   string
	Until     time.Time // OpBan only; zero = forever
	Before    time.Time // OpRevoke only; never zero
	Reason    string    // OpBan only; may be empty
	CreatedBy string    // may be empty
	CreatedAt time.Time // never zero
}

// ErrRecord wraps every reason ParseRecord and Validate refuse a record.
var ErrRecord = errors.New("bans: bad record")

func recordErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrRecord}, a...)...)
}

// wire is the stored form of a Record. Version 1.
type wire struct {
	V         int    `json:"v"`
	Op        Op     `json:"op"`
	Provider  string `json:"provider"`
	Subject   string `json:"subject"`
	Until     string `json:"until,omitempty"`
	Before    string `json:"before,omitempty"`
	Reason    string `json:"reason,omitempty"`
	CreatedBy string `json:"created_by,omitempty"`
	CreatedAt string `json:"created_at"`
}

// Times are bounded so that they fit int64 nanoseconds and format back to
// the same text.
var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ValidProvider reports whether p is a provider name: 1 to MaxProviderLen
// bytes of [a-z0-9_-], starting with a letter.
func ValidProvider(p string) bool {
	if len(p) == 0 || len(p) > MaxProviderLen || p[0] < 'a' || p[0] > 'z' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// printable reports whether s is at most max bytes of valid UTF-8 made of
// printable characters (unicode.IsPrint: letters, marks, numbers,
// punctuation, symbols and the ASCII space; no controls, no U+FFFD).
func printable(s string, max int) bool {
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

// ValidSubject reports whether s is a subject: 1 to MaxSubjectLen bytes of
// printable UTF-8.
func ValidSubject(s string) bool { return s != "" && printable(s, MaxSubjectLen) }

func validTime(t time.Time) bool {
	return !t.Before(minTime) && t.Before(maxTime) && t.Location() == time.UTC
}

// Validate reports whether r can be stored: the same rules ParseRecord
// applies to what it reads.
func (r Record) Validate() error {
	if !ValidProvider(r.Provider) {
		return recordErr("provider")
	}
	if !ValidSubject(r.Subject) {
		return recordErr("subject")
	}
	if !printable(r.CreatedBy, MaxByLen) {
		return recordErr("created_by")
	}
	if !validTime(r.CreatedAt) {
		return recordErr("created_at")
	}
	switch r.Op {
	case OpBan:
		if !r.Until.IsZero() && !validTime(r.Until) {
			return recordErr("until")
		}
		if !printable(r.Reason, MaxReasonLen) {
			return recordErr("reason")
		}
		if !r.Before.IsZero() {
			return recordErr("before on a ban")
		}
	case OpUnban:
		if !r.Until.IsZero() || !r.Before.IsZero() || r.Reason != "" {
			return recordErr("until, before or reason on an unban")
		}
	case OpRevoke:
		if !validTime(r.Before) || r.Before.After(r.CreatedAt.Add(MaxClockSkew)) {
			return recordErr("before")
		}
		if !r.Until.IsZero() || r.Reason != "" {
			return recordErr("until or reason on a revocation")
		}
	default:
		return recordErr("op")
	}
	return nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// parseTime reads a time in the one form formatTime writes it: RFC 3339,
// UTC ("Z"), no trailing zeros in the fraction.
func parseTime(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	var buf [64]byte // formatted on the stack: no allocation for the comparison
	if err != nil || string(t.UTC().AppendFormat(buf[:0], time.RFC3339Nano)) != s {
		return time.Time{}, recordErr("%s: not a canonical RFC 3339 UTC time", field)
	}
	return t.UTC(), nil
}

// AppendRecord appends the stored form of r to dst, without a newline.
func AppendRecord(dst []byte, r Record) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return dst, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(wire{
		V: 1, Op: r.Op, Provider: r.Provider, Subject: r.Subject,
		Until: formatTime(r.Until), Before: formatTime(r.Before),
		Reason: r.Reason, CreatedBy: r.CreatedBy, CreatedAt: formatTime(r.CreatedAt),
	})
	if err != nil {
		return dst, err
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(out) > MaxRecordSize {
		return dst, recordErr("too large")
	}
	return append(dst, out...), nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// anything after the value.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return recordErr("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return recordErr("data after the object")
	}
	return nil
}
