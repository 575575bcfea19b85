package caddyauth

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gameauth/caddy-gameauth/internal/cloudbasekey"
	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

func init() {
	caddy.RegisterModule(CloudBaseVerifier{})
	caddy.RegisterModule(CloudBaseIssuer{})
}

// maxKeyFile bounds the size of a key or credentials file.
const maxKeyFile = 64 << 10

// readKeyFile reads a key file, naming the file (never its contents) in errors.
func readKeyFile(field, path string) ([]byte, error) {
	path, err := resolveSecret(caddy.NewReplacer(), field, path, true)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		if !filepath.IsAbs(path) {
			if wd, werr := os.Getwd(); werr == nil {
				// A relative path is read from Caddy's working
				// directory: say which, the usual cause of "not found".
				return nil, fmt.Errorf("%s: %w (a relative path is read from the directory Caddy runs in, %s)", field, err, wd)
			}
		}
		return nil, fmt.Errorf("%s: %w", field, err) // *PathError names the file
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading %s: %w", field, path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: %s is larger than %d bytes", field, path, maxKeyFile)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: %s is empty", field, path)
	}
	return data, nil
}

// CloudBasePublicKey is a CloudBase custom-login public key and its key id.
type CloudBasePublicKey struct {
	// File is the path of a PEM public key ("PUBLIC KEY" or "RSA PUBLIC KEY").
	File string `json:"file"`
	// KeyID is the private_key_id the tickets signed with it carry.
	KeyID string `json:"key_id"`
}

// CloudBaseVerifier verifies Tencent CloudBase custom-login tickets.
type CloudBaseVerifier struct {
	// CredentialsFiles are custom-login key files as the CloudBase console
	// writes them; the public key and key id are taken from each. Default:
	// none; one of CredentialsFiles or PublicKeys is required, at most 8
	// together.
	CredentialsFiles []string `json:"credentials_files,omitempty"`
	// PublicKeys are public keys with their key ids, so the verifier never
	// needs the private key. Default: none; at most 8 with CredentialsFiles.
	PublicKeys []CloudBasePublicKey `json:"public_keys,omitempty"`
	// EnvID is the CloudBase environment the ticket's env must equal.
	// Default: the env_id of the first credentials file; required with
	// public keys only.
	EnvID string `json:"env_id,omitempty"`
	// Leeway is the clock skew allowed on exp. Default: 0, at most 5m.
	Leeway caddy.Duration `json:"leeway,omitempty"`
	tokenCache

	v *verifiers.CloudBase
}

// CaddyModule returns the Caddy module information.
func (CloudBaseVerifier) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.gameauth.verifiers.cloudbase",
		New: func() caddy.Module { return new(CloudBaseVerifier) },
	}
}

// Provision reads the key files and builds the verifier.
func (c *CloudBaseVerifier) Provision(caddy.Context) error {
	if err := checkDuration("cloudbase", "leeway", c.Leeway, maxLeeway, whyLeeway); err != nil {
		return err
	}
	if n := len(c.CredentialsFiles) + len(c.PublicKeys); n > maxKeys {
		return fmt.Errorf("cloudbase: %d keys (credentials_file and public_key together) exceed the maximum of %d: %s", n, maxKeys, whyKeys)
	}
	envID, err := resolveSecret(caddy.NewReplacer(), "cloudbase: env_id", c.EnvID, false)
	if err != nil {
		return err
	}
	var keys []verifiers.CloudBaseKey
	var keyFiles []string // the option and file each key came from
	add := func(key verifiers.CloudBaseKey, from string) error {
		for i, k := range keys {
			if k.ID == key.ID {
				return fmt.Errorf("cloudbase: the key id of %s repeats that of %s", from, keyFiles[i])
			}
		}
		keys, keyFiles = append(keys, key), append(keyFiles, from)
		return nil
	}
	for _, f := range c.CredentialsFiles {
		data, err := readKeyFile("cloudbase: credentials_file", f)
		if err != nil {
			return err
		}
		key, fileEnv, err := verifiers.ParseCloudBaseKey(data, "")
		if err != nil {
			return fmt.Errorf("cloudbase: credentials_file %s: %w", f, err)
		}
		if envID == "" {
			envID = fileEnv
		} else if fileEnv != "" && fileEnv != envID {
			return fmt.Errorf("cloudbase: credentials_file %s is for another environment than env_id %s", f, envID)
		}
		if err := add(key, "credentials_file "+f); err != nil {
			return err
		}
	}
	for _, pk := range c.PublicKeys {
		data, err := readKeyFile("cloudbase: public_key", pk.File)
		if err != nil {
			return err
		}
		if pk.KeyID == "" {
			return fmt.Errorf("cloudbase: public_key %s needs a key id", pk.File)
		}
		key, _, err := verifiers.ParseCloudBaseKey(data, pk.KeyID)
		if err != nil {
			return fmt.Errorf("cloudbase: public_key %s: %w", pk.File, err)
		}
		if err := add(key, "public_key "+pk.File); err != nil {
			return err
		}
	}
	if len(keys) == 0 {
		return fmt.Errorf("cloudbase: credentials_file or public_key is required")
	}
	if envID == "" {
		return fmt.Errorf("cloudbase: env_id is required")
	}
	c.v, err = verifiers.NewCloudBase(verifiers.CloudBaseConfig{EnvID: envID, Keys: keys, Leeway: td(c.Leeway)})
	if err != nil {
		return optionError("cloudbase", err, map[string]string{
			"EnvID": "env_id", "Leeway": "leeway", "Keys": "credentials_file or public_key",
			"Keys.ID": "key id", "Keys.PublicKey": "public_key",
		}, nil)
	}
	return c.build("cloudbase", c.v)
}

// UnmarshalCaddyfile sets up the verifier from Caddyfile tokens. Syntax:
//
//	cloudbase {
//		credentials_file <path>
//		public_key       <path> <key id>
//		env_id           <env id>
//		leeway           <duration>
//		cache_size       <entries>|off
//	}
//
// credentials_file and public_key may repeat (key rotation).
func (c *CloudBaseVerifier) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(p *optionParser, name string) error {
		switch name {
		case "credentials_file":
			var f string
			if !p.d.Args(&f) || p.d.NextArg() {
				return p.d.ArgErr()
			}
			c.CredentialsFiles = append(c.CredentialsFiles, f)
			return nil
		case "public_key":
			var k CloudBasePublicKey
			if !p.d.Args(&k.File, &k.KeyID) || p.d.NextArg() {
				return p.d.ArgErr()
			}
			c.PublicKeys = append(c.PublicKeys, k)
			return nil
		case "env_id":
			return p.str(&c.EnvID)
		case "leeway":
			return p.duration(&c.Leeway)
		case "cache_size":
			return p.cacheSize(&c.CacheSize)
		}
		return p.unknown("cloudbase")
	})
}

// CloudBaseIssuer mints CloudBase custom-login tickets whose uid is the
// verified user id.
type CloudBaseIssuer struct {
	// CredentialsFile is the custom-login key file downloaded from the
	// CloudBase console. Required.
	CredentialsFile string `json:"credentials_file,omitempty"`
	// EnvID is the CloudBase environment; it must match the key file's.
	// Required.
	EnvID string `json:"env_id,omitempty"`
	// Refresh is the refresh interval written in the ticket. Default: 1h;
	// at least 1s, at most 24h and at most Expire.
	Refresh caddy.Duration `json:"refresh,omitempty"`
	// Expire is how long the login the ticket opens lasts. Default: 168h;
	// at least 1s, at most 720h (30 days, how long CloudBase's own refresh
	// tokens last).
	Expire caddy.Duration `json:"expire,omitempty"`

	iss *issuers.CloudBase
}

// CaddyModule returns the Caddy module information.
func (CloudBaseIssuer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.gameauth.issuers.cloudbase",
		New: func() caddy.Module { return new(CloudBaseIssuer) },
	}
}

// Provision reads the key file and builds the issuer.
func (c *CloudBaseIssuer) Provision(caddy.Context) error {
	if err := c.checkBounds(); err != nil {
		return err
	}
	data, err := readKeyFile("cloudbase issuer: credentials_file", c.CredentialsFile)
	if err != nil {
		return err
	}
	envID, err := resolveSecret(caddy.NewReplacer(), "cloudbase issuer: env_id", c.EnvID, true)
	if err != nil {
		return err
	}
	if err := checkCloudBaseCredentials(c.CredentialsFile, data, envID); err != nil {
		return err
	}
	c.iss, err = issuers.NewCloudBase(issuers.CloudBaseConfig{
		CredentialsJSON: data,
		EnvID:           envID,
		Refresh:         td(c.Refresh),
		Expire:          td(c.Expire),
	})
	if err != nil {
		return optionError("cloudbase issuer", err, nil, nil)
	}
	return nil
}

// checkCloudBaseCredentials checks the credentials file and env_id of the
// issuer before its library does, so that errors name the options.
func checkCloudBaseCredentials(file string, data []byte, envID string) error {
	const mod = "cloudbase issuer"
	if err := cloudbasekey.CheckID(envID); err != nil {
		return fmt.Errorf("%s: env_id %v", mod, err)
	}
	cred, err := cloudbasekey.ParseCredentials(data)
	switch {
	case err != nil:
		return fmt.Errorf("%s: credentials_file %s: %v", mod, file, err)
	case cred.KeyID == "":
		return fmt.Errorf("%s: credentials_file %s has no private_key_id", mod, file)
	case cred.EnvID == "":
		return fmt.Errorf("%s: credentials_file %s has no env_id; download the newest custom-login private key from the CloudBase console", mod, file)
	case cred.EnvID != envID:
		return fmt.Errorf("%s: credentials_file %s is for another environment than env_id %s: the private key belongs to another environment", mod, file, envID)
	}
	return nil
}

// Bounds of the CloudBase issuer's options.
const (
	// cloudBaseMaxRefresh bounds refresh: how long a client keeps its
	// access without renewing it.
	cloudBaseMaxRefresh = 24 * time.Hour
	// cloudBaseMaxExpire bounds expire: 30 days, how long CloudBase's own
	// refresh tokens last.
	cloudBaseMaxExpire = 30 * 24 * time.Hour
	// cloudBaseDefaultExpire is the library's (and the SDK's) default
	// expire, which refresh is compared with.
	cloudBaseDefaultExpire = 7 * 24 * time.Hour
)

// checkBounds refuses refresh and expire out of their bounds, naming them.
func (c *CloudBaseIssuer) checkBounds() error {
	const mod = "cloudbase issuer"
	expire := c.Expire
	if expire == 0 {
		expire = caddy.Duration(cloudBaseDefaultExpire)
	}
	for _, err := range []error{
		checkDuration(mod, "refresh", c.Refresh, cloudBaseMaxRefresh, "a client keeps its access that long without renewing it"),
		checkDuration(mod, "expire", c.Expire, cloudBaseMaxExpire, "a login cannot be revoked before it expires"),
		checkDurationMin(mod, "refresh", c.Refresh, time.Second, "the client would renew its access all the time"),
		checkDurationMin(mod, "expire", c.Expire, time.Second, "the login would end at once"),
		checkNotAbove(mod, "refresh", c.Refresh, "expire", expire, "a login cannot be refreshed after it ends"),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// tokenKind declares custom-login tickets to the gameauth-token command.
func (*CloudBaseIssuer) tokenKind() tokenKind {
	return tokenKind{
		name: "cloudbase",
		help: "a CloudBase custom-login ticket: --credentials-file, --env-id",
		flags: []tokenFlag{
			{name: "credentials-file", usage: "custom-login key file"},
			{name: "env-id", usage: "environment id"},
		},
		issuer: func(a tokenArgs) (issuers.Issuer, error) {
			file := a.String("credentials-file")
			if file == "" {
				return nil, fmt.Errorf("--credentials-file is required")
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("--credentials-file: %w", err)
			}
			iss, err := issuers.NewCloudBase(issuers.CloudBaseConfig{CredentialsJSON: data, EnvID: a.String("env-id")})
			if err != nil {
				return nil, err
			}
			return iss, nil
		},
	}
}

// IssueToken mints a ticket.
func (c *CloudBaseIssuer) IssueToken(r *http.Request, req issuers.Request) (issuers.Token, error) {
	return c.iss.Issue(r.Context(), req)
}

func (c *CloudBaseIssuer) requestFields() issuerFields { return issuerFields{} }

func (c *CloudBaseIssuer) unmarshalOption(p *optionParser, name string) error {
	switch name {
	case "credentials_file":
		return p.str(&c.CredentialsFile)
	case "env_id":
		return p.str(&c.EnvID)
	case "refresh":
		return p.duration(&c.Refresh)
	case "expire":
		return p.duration(&c.Expire)
	}
	return p.unknown("cloudbase issuer")
}

// UnmarshalCaddyfile sets up the issuer from Caddyfile tokens. Syntax:
//
//	cloudbase {
//		credentials_file <path>
//		env_id           <env id>
//		refresh          <duration>
//		expire           <duration>
//	}
//
// refresh is at most 24h and at most expire, expire at most 720h.
func (c *CloudBaseIssuer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return unmarshalIssuerBlock(d, c)
}

// Interface guards
var (
	_ caddy.Provisioner     = (*CloudBaseVerifier)(nil)
	_ caddy.CleanerUpper    = (*CloudBaseVerifier)(nil)
	_ caddyfile.Unmarshaler = (*CloudBaseVerifier)(nil)
	_ TokenVerifier         = (*CloudBaseVerifier)(nil)
	_ caddy.Provisioner     = (*CloudBaseIssuer)(nil)
	_ caddyfile.Unmarshaler = (*CloudBaseIssuer)(nil)
	_ TokenIssuer           = (*CloudBaseIssuer)(nil)
	_ tokenMinter           = (*CloudBaseIssuer)(nil)
)
