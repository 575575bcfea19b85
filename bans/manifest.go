package bans

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/gameauth/caddy-gameauth/internal/strictjson"
)

// A snapshot generation is written by compaction as parts of PartEntries
// records, one record a line, and then a manifest that names each part's
// SHA-256. Readers read a generation only through its manifest, which is
// written last and deleted first.
//
// The manifest may also name what the compaction folded into the
// generation ("folded": the change records and the generations it read and
// then deleted, by their keys under the prefix). A replica that has applied
// all of them already holds everything the generation holds, and need not
// read its parts (see readGen). The list is left out when it would be long
// (more than maxFolded keys), and by compactors before it existed: readers
// then read the parts.
const (
	PartEntries     = 2048
	MaxPartSize     = PartEntries * (MaxRecordSize + 1)
	MaxManifestSize = 8 << 20 // room for maxParts hashes and maxFolded keys
	maxParts        = 8192
)

// maxFolded bounds the folded list of a manifest (a variable for tests).
var maxFolded = 100_000

type manifest struct {
	V         int      `json:"v"`
	Entries   int      `json:"entries"`
	Parts     []string `json:"parts"` // SHA-256 of each part, lower-case hex
	CreatedAt string   `json:"created_at"`
	// Folded: the keys folded, relative to the prefix; nil when the list
	// was left out (absent or null).
	Folded []string `json:"folded"`
}

var manifestNames = strictjson.NewNames("v", "entries", "parts", "created_at", "folded")

func parseManifest(b []byte) (manifest, error) {
	var m manifest
	if err := strictjson.Check(b, manifestNames, nil); err != nil {
		return m, recordErr("manifest: %v", err)
	}
	if err := decodeStrict(b, &m); err != nil {
		return m, err
	}
	if m.V != 1 || m.Entries < 0 || len(m.Parts) > maxParts || m.Entries > len(m.Parts)*PartEntries {
		return m, recordErr("manifest: version or counts")
	}
	for _, h := range m.Parts {
		if _, err := hex.DecodeString(h); err != nil || len(h) != 64 || h != strings.ToLower(h) {
			return m, recordErr("manifest: part hash")
		}
	}
	if _, err := parseTime(m.CreatedAt, "created_at"); err != nil || m.CreatedAt == "" {
		return m, recordErr("manifest: created_at")
	}
	if len(m.Folded) > maxFolded {
		return m, recordErr("manifest: %d folded keys", len(m.Folded))
	}
	for _, k := range m.Folded {
		if !validFolded(k) {
			return m, recordErr("manifest: folded key %q", k)
		}
	}
	return m, nil
}

// validFolded reports whether k is the key, under the prefix, of a change
// record or of a manifest.
func validFolded(k string) bool {
	if id, ok := strings.CutPrefix(k, "changes/"); ok {
		id, ok = strings.CutSuffix(id, ".json")
		return ok && validID(id)
	}
	if id, ok := strings.CutPrefix(k, "snapshots/"); ok {
		id, ok = strings.CutSuffix(id, ".manifest.json")
		return ok && validID(id)
	}
	return false
}

func partKey(manifestKey string, i int) string {
	return fmt.Sprintf("%s.part-%05d.jsonl", manifestKey[:len(manifestKey)-len(".manifest.json")], i)
}

func encodeManifest(m manifest) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"v":1,"entries":`)
	fmt.Fprintf(&buf, "%d", m.Entries)
	buf.WriteString(`,"parts":[`)
	for i, p := range m.Parts {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`"` + p + `"`)
	}
	buf.WriteString(`],"created_at":"` + m.CreatedAt + `"`)
	if m.Folded != nil {
		buf.WriteString(`,"folded":[`)
		for i, k := range m.Folded {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(`"` + k + `"`) // validFolded: nothing to escape
		}
		buf.WriteByte(']')
	}
	buf.WriteByte('}')
	if buf.Len() > MaxManifestSize {
		return nil, recordErr("manifest too large")
	}
	return buf.Bytes(), nil
}
