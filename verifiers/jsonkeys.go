package verifiers

import (
	"bytes"
	"encoding/json"
	"strings"
)

// maxKeyCheckDepth bounds the nesting foldedKey walks; deeper documents are
// refused.
const maxKeyCheckDepth = 32

// foldedKey reports whether the JSON document doc has, in any object at any
// depth, a member whose name matches one of names only without regard to
// case ("IDENTITY" or "ſub" for "sub"): encoding/json would read such a
// member into the field, while a case-sensitive reader (JavaScript's
// JSON.parse, which the vendors' tooling uses) would not, so two readers
// would see different claims. It also reports true for documents too deep
// or malformed to walk. Verifiers that decode with encoding/json refuse
// such tokens.
func foldedKey(doc []byte, names []string) bool {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	// stack holds, per open container, whether it is an object and whether
	// the next string token in it is a member name.
	type level struct{ object, wantKey bool }
	var stack []level
	for {
		tok, err := dec.Token()
		if err != nil {
			return len(stack) != 0 || err.Error() != "EOF"
		}
		top := len(stack) - 1
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= maxKeyCheckDepth {
					return true
				}
				if top >= 0 && stack[top].object {
					stack[top].wantKey = true
				}
				stack = append(stack, level{object: t == '{', wantKey: t == '{'})
			default:
				stack = stack[:top]
			}
			continue
		case string:
			if top >= 0 && stack[top].object && stack[top].wantKey {
				for _, n := range names {
					if t != n && strings.EqualFold(t, n) {
						return true
					}
				}
				stack[top].wantKey = false
				continue
			}
		}
		if top >= 0 && stack[top].object {
			stack[top].wantKey = true
		}
	}
}
