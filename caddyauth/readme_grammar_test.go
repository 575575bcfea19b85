package caddyauth_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestREADMEGrammarListsEveryOption checks that each grammar block of the
// README lists every subdirective its Caddyfile parser accepts, and no
// other: the options are read from the parser's source (the string cases
// of UnmarshalCaddyfile and unmarshalOption, per receiver type).
func TestREADMEGrammarListsEveryOption(t *testing.T) {
	parsed := parserOptions(t)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```\\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	// The receiver type whose options a block documents, told by its
	// first line; the handler blocks list their verifier or issuer
	// options in blocks of their own.
	which := func(first string) string {
		switch {
		case strings.HasPrefix(first, "gameauth ["):
			return "Handler"
		case strings.HasPrefix(first, "gameauth_issuer ["):
			return "IssuerHandler"
		}
		name, _, _ := strings.Cut(first, " ")
		typ := map[string]string{"seayoo": "Seayoo", "zego": "Zego", "twilio": "Twilio", "cloudbase": "CloudBase", "taptap": "TapTap", "agora": "Agora", "trtc": "TRTC"}[name]
		if typ == "" || !strings.HasSuffix(strings.Fields(first)[1], "{") {
			return ""
		}
		return typ
	}
	seen := map[string]bool{}
	for _, m := range blocks {
		lines := strings.Split(strings.TrimSpace(m[1]), "\n")
		for start := 0; start < len(lines); start++ {
			typ := which(lines[start])
			if typ == "" {
				continue
			}
			var opts []string
			end := start + 1
			for ; end < len(lines) && lines[end] != "}"; end++ {
				word := strings.Fields(lines[end])
				if len(word) > 0 && !strings.HasPrefix(word[0], "<") && !strings.HasPrefix(word[0], "#") {
					opts = append(opts, word[0])
				}
			}
			kind := typ
			if typ != "Handler" && typ != "IssuerHandler" {
				// A vendor block is an issuer's when it says so or
				// holds an issuer-only option.
				if strings.Contains(lines[start], "# issuer") || slices.Contains(opts, "mode") || slices.Contains(opts, "refresh") {
					kind += "Issuer"
				} else {
					kind += "Verifier"
				}
			}
			if seen[kind] {
				start = end
				continue
			}
			seen[kind] = true
			want := parsed[kind]
			if want == nil {
				t.Errorf("README block %q: no parser for %s", lines[start], kind)
			}
			slices.Sort(opts)
			opts = slices.Compact(opts)
			if !slices.Equal(opts, want) {
				t.Errorf("README grammar of %s lists %v; the parser takes %v", kind, opts, want)
			}
			start = end
		}
	}
	for kind := range parsed {
		if !seen[kind] {
			t.Errorf("README has no grammar block for %s", kind)
		}
	}
}

// parserOptions returns, per receiver type, the sorted string cases of its
// Caddyfile parsing methods.
func parserOptions(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || (fn.Name.Name != "UnmarshalCaddyfile" && fn.Name.Name != "unmarshalOption") {
				continue
			}
			star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
			if !ok {
				continue
			}
			typ := star.X.(*ast.Ident).Name
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				cc, ok := n.(*ast.CaseClause)
				if !ok {
					return true
				}
				for _, e := range cc.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if s, err := strconv.Unquote(lit.Value); err == nil && s != "" && s != "on" && s != "off" {
							out[typ] = append(out[typ], s)
						}
					}
				}
				return true
			})
		}
	}
	for k, v := range out {
		slices.Sort(v)
		out[k] = slices.Compact(v)
	}
	return out
}
