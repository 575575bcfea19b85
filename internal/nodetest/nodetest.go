// Package nodetest runs the vendors' own npm libraries from Go tests: a
// script of the repository's interop/ directory gets a JSON document on
// stdin and answers one on stdout.
//
// Without node or interop/node_modules (installed by `npm ci --prefix
// interop`), tests that need them are skipped, unless the environment has
// GAMEAUTH_REQUIRE_INTEROP=1 (CI), which makes them fail instead.
package nodetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Timeout bounds one run of a script.
const Timeout = 30 * time.Second

// MinNodeMajor is the oldest Node.js major version the interop packages
// run on.
const MinNodeMajor = 20

// nodeMajor returns the major version of the node on PATH, 0 if unknown.
func nodeMajor() int {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return 0
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0
	}
	return n
}

// Dir returns the absolute path of interop/, after checking that node and
// the given npm packages are installed; otherwise it skips or fails t.
func Dir(t testing.TB, packages ...string) string {
	t.Helper()
	missing := ""
	dir, err := interopDir()
	switch {
	case err != nil:
		missing = "no interop directory above the test's package"
	default:
		if _, err := exec.LookPath("node"); err != nil {
			missing = "node is not installed"
			break
		}
		if v := nodeMajor(); v < MinNodeMajor {
			missing = fmt.Sprintf("node is older than %d (the vendors' packages need it); found major version %d", MinNodeMajor, v)
			break
		}
		for _, p := range packages {
			if _, err := os.Stat(filepath.Join(dir, "node_modules", p, "package.json")); err != nil {
				missing = "interop/node_modules lacks " + p + " (run: npm ci --prefix interop)"
				break
			}
		}
	}
	if missing != "" {
		if os.Getenv("GAMEAUTH_REQUIRE_INTEROP") == "1" {
			t.Fatalf("interop: %s, and GAMEAUTH_REQUIRE_INTEROP=1", missing)
		}
		t.Skipf("interop: %s; set GAMEAUTH_REQUIRE_INTEROP=1 to make this fatal", missing)
	}
	return dir
}

// interopDir finds interop/package.json in the working directory or above.
func interopDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "interop", "package.json")); err == nil {
			return filepath.Join(d, "interop"), nil
		}
		if filepath.Dir(d) == d {
			return "", os.ErrNotExist
		}
	}
}

// Run runs interop/<script> with in marshalled as JSON on stdin and
// unmarshals its stdout into out. packages are the npm packages the script
// needs.
func Run(t testing.TB, script string, in, out any, packages ...string) {
	t.Helper()
	dir := Dir(t, packages...)
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, script))
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(b)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.Bytes())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("node %s: output is not the expected JSON: %v\n%s", script, err, stdout)
	}
}
