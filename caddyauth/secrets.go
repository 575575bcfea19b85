package caddyauth

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/gameauth/caddy-gameauth/internal/check"
)

// resolveSecret evaluates the global placeholders ({env.NAME}, {file./path})
// in a configuration value at provision time. An unknown or empty
// placeholder is an error that names the field and the placeholder, never a
// value. A required field that ends up empty is an error too.
func resolveSecret(repl *caddy.Replacer, field, raw string, required bool) (string, error) {
	if raw == "" {
		if required {
			return "", fmt.Errorf("%s is required", field)
		}
		return "", nil
	}
	v, err := repl.ReplaceOrErr(raw, true, true)
	if err != nil {
		// err names the placeholder ({env.X} or {file./path}), not its value.
		return "", fmt.Errorf("%s: %v", field, err)
	}
	if required && strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("%s is empty after evaluating placeholders", field)
	}
	return v, nil
}

// secretField is one configuration value to resolve at provision.
type secretField struct {
	name     string  // the field's name in errors, e.g. "api_key_sid"
	raw      string  // the configured value, possibly with placeholders
	dst      *string // where the resolved value goes
	required bool
}

// resolveFields resolves several fields of one module, naming the module
// (prefix) and the field in errors.
func resolveFields(repl *caddy.Replacer, prefix string, fields ...secretField) error {
	for _, f := range fields {
		v, err := resolveSecret(repl, prefix+": "+f.name, f.raw, f.required)
		if err != nil {
			return err
		}
		*f.dst = v
	}
	return nil
}

// namedValue is one configured value with the words that name it in
// errors: "secret", "secrets #2", "key #1 secret".
type namedValue struct {
	name string
	raw  string
}

// secretOptions lists the values of a module's secret option and then of
// its secrets option, in the order they are tried.
func secretOptions(one string, more []string) []namedValue {
	var out []namedValue
	if one != "" {
		out = append(out, namedValue{"secret", one})
	}
	for i, s := range more {
		out = append(out, namedValue{fmt.Sprintf("secrets #%d", i+1), s})
	}
	return out
}

// resolveKeySecrets resolves the secrets of module (placeholders), refuses
// none, more than maxKeys, one that problemOf finds a problem with, and a
// repeated one. problemOf returns the problem in words that never include
// the secret, or "" (check.SeayooSecret, ...).
func resolveKeySecrets(repl *caddy.Replacer, module string, vals []namedValue, problemOf func(string) string) ([]string, error) {
	if len(vals) == 0 {
		return nil, fmt.Errorf("%s: secret is required", module)
	}
	if len(vals) > maxKeys {
		return nil, fmt.Errorf("%s: %d secrets (secret and secrets together) exceed the maximum of %d: %s", module, len(vals), maxKeys, whyTriedKeys)
	}
	out := make([]string, 0, len(vals))
	for i, v := range vals {
		s, err := resolveSecret(repl, module+": "+v.name, v.raw, true)
		if err != nil {
			return nil, err
		}
		if problem := problemOf(s); problem != "" {
			return nil, fmt.Errorf("%s: %s %s", module, v.name, problem)
		}
		for j := range i {
			if subtle.ConstantTimeCompare([]byte(out[j]), []byte(s)) == 1 {
				return nil, fmt.Errorf("%s: %s repeats %s", module, v.name, vals[j].name)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// optionError reports a library's configuration error in the module's
// words without reading its text: a *check.FieldError is named by the
// option that holds the field. options maps the library's field
// (FieldError.Field) to the option as the Caddyfile and JSON spell it; an
// element of a list is named by items when given (as secretOptions names
// them), else by the option and its position. The modules check their
// options before calling a library, so that its other errors, which may
// name Go fields, are not expected here.
func optionError(module string, err error, options map[string]string, items []namedValue) error {
	var fe *check.FieldError
	if !errors.As(err, &fe) {
		return fmt.Errorf("%s: %w", module, err)
	}
	name, ok := options[fe.Field]
	switch {
	case fe.List && fe.Index >= 0 && fe.Index < len(items):
		name, ok = items[fe.Index].name, true
	case fe.List && ok:
		name = fmt.Sprintf("%s #%d", name, fe.Index+1)
	}
	if !ok {
		return fmt.Errorf("%s: %w", module, err)
	}
	return fmt.Errorf("%s: %s %s", module, name, fe.Problem)
}
