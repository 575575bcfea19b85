package caddyauth

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var updateGolden = flag.Bool("update", false, "rewrite the JSON half of testdata/caddyfile_adapt/*.caddyfiletest")

// TestCaddyfileAdapt adapts every testdata/caddyfile_adapt/*.caddyfiletest:
// a Caddyfile, a line of ten dashes, then either the expected JSON or a
// fragment of the expected error (which carries file and line).
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.SplitN(string(data), "----------", 2)
			if len(parts) != 2 {
				t.Fatalf("%s: no ---------- separator", file)
			}
			caddyfile, expected := strings.TrimSpace(parts[0])+"\n", strings.TrimSpace(parts[1])
			out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
			if strings.HasPrefix(expected, "{") {
				if err != nil {
					t.Fatalf("adapting: %v", err)
				}
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, out, "", "\t"); err != nil {
					t.Fatal(err)
				}
				got := strings.TrimSpace(pretty.String())
				if *updateGolden {
					if err := os.WriteFile(file, []byte(strings.TrimSpace(parts[0])+"\n----------\n"+got+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				if got != expected {
					t.Errorf("adapted JSON differs from golden\n--- got:\n%s\n--- want:\n%s", got, expected)
				}
				return
			}
			if expected == "" {
				t.Fatalf("%s: give the expected JSON or error text after the separator", file)
			}
			if err == nil {
				t.Fatalf("expected an error containing %q, got none", expected)
			}
			if !strings.Contains(err.Error(), expected) {
				t.Fatalf("error %q does not contain %q", err, expected)
			}
		})
	}
}
