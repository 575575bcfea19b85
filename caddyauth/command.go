package caddyauth

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/gameauth/caddy-gameauth/issuers"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "gameauth-token",
		Usage: "<seayoo|zego|twilio|cloudbase> --user <id> [--ttl <duration>] [kind flags]",
		Short: "Prints a token for operators and tests",
		Long: `
Prints a freshly minted token to stdout, for operators and tests.

Secrets are read from a file (--secret-file) or an environment variable
(--secret-env), never from the command line, where other users could see them.

  seayoo     a Seayoo-shaped identity token for local development without
             Seayoo's servers: --secret-file|--secret-env (sk_...), --game-id,
             [--issuer], [--claims '{"idp":"seayoo","age":18}']
  zego       a ZEGOCLOUD Token04: --app-id, --secret-file|--secret-env,
             [--room], [--publish], [--streams a,b], [--mode gcm|cbc]
  twilio     a Twilio Video Access Token: --account-sid, --api-key-sid,
             --secret-file|--secret-env (the API key secret), [--room], [--region]
  cloudbase  a CloudBase custom-login ticket: --credentials-file, --env-id
`,
		Flags: tokenFlags(),
		Func: func(fl caddycmd.Flags) (int, error) {
			opts := tokenOptions{
				kind:            fl.Arg(0),
				user:            fl.String("user"),
				ttl:             fl.Duration("ttl"),
				secretFile:      fl.String("secret-file"),
				secretEnv:       fl.String("secret-env"),
				appID:           fl.String("app-id"),
				room:            fl.String("room"),
				publish:         fl.Bool("publish"),
				streams:         fl.String("streams"),
				mode:            fl.String("mode"),
				gameID:          fl.String("game-id"),
				issuer:          fl.String("issuer"),
				claims:          fl.String("claims"),
				accountSID:      fl.String("account-sid"),
				apiKeySID:       fl.String("api-key-sid"),
				region:          fl.String("region"),
				credentialsFile: fl.String("credentials-file"),
				envID:           fl.String("env-id"),
			}
			if fl.NArg() > 1 {
				return caddy1, fmt.Errorf("unexpected arguments after %q", opts.kind)
			}
			tok, err := mintToken(context.Background(), opts)
			if err != nil {
				return caddy1, err
			}
			fmt.Println(tok.Token)
			return 0, nil
		},
	})
}

const caddy1 = 1 // exit status for errors

func tokenFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("gameauth-token", flag.ExitOnError)
	fs.String("user", "", "the user id the token is for (required)")
	fs.Duration("ttl", 0, "token lifetime (default: the kind's default)")
	fs.String("secret-file", "", "file holding the secret")
	fs.String("secret-env", "", "environment variable holding the secret")
	fs.String("app-id", "", "zego: AppID")
	fs.String("room", "", "zego, twilio: room id")
	fs.Bool("publish", false, "zego: grant the publish privilege")
	fs.String("streams", "", "zego: comma-separated stream ids allowed to publish")
	fs.String("mode", "gcm", "zego: gcm or cbc")
	fs.String("game-id", "", "seayoo: game id (aud)")
	fs.String("issuer", "", "seayoo: iss (default https://api.seayoo.com)")
	fs.String("claims", "", "seayoo: extra claims as a JSON object")
	fs.String("account-sid", "", "twilio: account SID")
	fs.String("api-key-sid", "", "twilio: API key SID")
	fs.String("region", "", "twilio: region (twr header)")
	fs.String("credentials-file", "", "cloudbase: custom-login key file")
	fs.String("env-id", "", "cloudbase: environment id")
	return fs
}

type tokenOptions struct {
	kind, user                    string
	ttl                           time.Duration
	secretFile, secretEnv         string
	appID, room, streams, mode    string
	publish                       bool
	gameID, issuer, claims        string
	accountSID, apiKeySID, region string
	credentialsFile, envID        string
}

func (o tokenOptions) secret() (string, error) {
	switch {
	case o.secretFile != "" && o.secretEnv != "":
		return "", fmt.Errorf("give --secret-file or --secret-env, not both")
	case o.secretFile != "":
		b, err := os.ReadFile(o.secretFile)
		if err != nil {
			return "", fmt.Errorf("--secret-file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case o.secretEnv != "":
		v, ok := os.LookupEnv(o.secretEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("--secret-env: environment variable %s is not set", o.secretEnv)
		}
		return v, nil
	}
	return "", fmt.Errorf("--secret-file or --secret-env is required")
}

// mintToken builds the issuer for opts.kind and mints one token.
func mintToken(ctx context.Context, o tokenOptions) (issuers.Token, error) {
	if o.user == "" {
		return issuers.Token{}, fmt.Errorf("--user is required")
	}
	req := issuers.Request{UserID: o.user, RoomID: o.room, Publish: o.publish, TTL: o.ttl}
	if o.streams != "" {
		req.StreamIDs = strings.Split(o.streams, ",")
	}
	var (
		iss issuers.Issuer
		err error
	)
	switch o.kind {
	case "seayoo":
		var secret string
		if secret, err = o.secret(); err != nil {
			return issuers.Token{}, err
		}
		var claims map[string]any
		if o.claims != "" {
			if err := json.Unmarshal([]byte(o.claims), &claims); err != nil {
				return issuers.Token{}, fmt.Errorf("--claims: not a JSON object: %v", err)
			}
		}
		iss, err = issuers.NewSeayoo(issuers.SeayooConfig{Secret: secret, GameID: o.gameID, Issuer: o.issuer, Claims: claims})
	case "zego":
		var secret string
		if secret, err = o.secret(); err != nil {
			return issuers.Token{}, err
		}
		appID, perr := strconv.ParseUint(o.appID, 10, 32)
		if perr != nil || appID == 0 {
			return issuers.Token{}, fmt.Errorf("--app-id: want a positive 32-bit number")
		}
		mode := issuers.ZegoGCM
		switch o.mode {
		case "", "gcm":
		case "cbc":
			mode = issuers.ZegoCBC
		default:
			return issuers.Token{}, fmt.Errorf("--mode: want gcm or cbc")
		}
		iss, err = issuers.NewZego(issuers.ZegoConfig{AppID: uint32(appID), Secret: secret, Mode: mode, MaxTTL: maxDuration(o.ttl, 24*time.Hour)})
	case "twilio":
		var secret string
		if secret, err = o.secret(); err != nil {
			return issuers.Token{}, err
		}
		iss, err = issuers.NewTwilio(issuers.TwilioConfig{AccountSID: o.accountSID, APIKeySID: o.apiKeySID, APIKeySecret: secret, Region: o.region})
	case "cloudbase":
		if o.credentialsFile == "" {
			return issuers.Token{}, fmt.Errorf("--credentials-file is required")
		}
		data, rerr := os.ReadFile(o.credentialsFile)
		if rerr != nil {
			return issuers.Token{}, fmt.Errorf("--credentials-file: %w", rerr)
		}
		iss, err = issuers.NewCloudBase(issuers.CloudBaseConfig{CredentialsJSON: data, EnvID: o.envID})
	case "":
		return issuers.Token{}, fmt.Errorf("name the kind of token: seayoo, zego, twilio or cloudbase")
	default:
		return issuers.Token{}, fmt.Errorf("unknown kind %q: want seayoo, zego, twilio or cloudbase", o.kind)
	}
	if err != nil {
		return issuers.Token{}, err
	}
	return iss.Issue(ctx, req)
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}
