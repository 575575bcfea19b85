package caddyauth

import (
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
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

// resolveSecrets resolves a list of secrets, one or more of which are
// required when required is set.
func resolveSecrets(repl *caddy.Replacer, field string, raw []string, required bool) ([]string, error) {
	if len(raw) == 0 && required {
		return nil, fmt.Errorf("%s is required", field)
	}
	out := make([]string, 0, len(raw))
	for i, r := range raw {
		v, err := resolveSecret(repl, fmt.Sprintf("%s[%d]", field, i), r, true)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// prefixed puts "prefix: " before err's text unless the library already did.
func prefixed(prefix string, err error) error {
	if strings.HasPrefix(err.Error(), strings.Fields(prefix)[0]+":") {
		return err
	}
	return fmt.Errorf("%s: %w", prefix, err)
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
