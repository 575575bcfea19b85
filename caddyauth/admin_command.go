package caddyauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// The gameauth-ban command changes and lists the ban list through the
// admin API of a running Caddy (admin.go), found as caddy reload finds it:
// --address, else the admin listener of --config, else the default.

// init registers the gameauth-ban command.
func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "gameauth-ban",
		Usage: "add|remove|list|revoke ...",
		Short: "Bans, unbans, lists and revokes players through the admin API",
		Long: `
Changes the gameauth ban list of a running Caddy through its admin API
(/gameauth/bans, /gameauth/revocations). The change is stored in the list's
storage, enforced at once by that instance (its live connections of the
player end) and by every instance sharing the storage within sync_interval.

The admin endpoint is the --address flag if given; otherwise the admin
listener of the --config file; otherwise the default (localhost:2019).

  add <provider> <subject> [--until <RFC 3339> | --for <duration>] [--reason <text>]
  remove <provider> <subject>
  revoke <provider> <subject> [--before <RFC 3339>]
  list [--provider <p>] [--subject <s>] [--limit <n>] [--after <cursor>] [--all] [--json]
`,
		CobraFunc: func(cmd *cobra.Command) {
			pf := cmd.PersistentFlags()
			pf.StringP("config", "c", "", "configuration file whose admin listener to use")
			pf.StringP("adapter", "a", "", "name of the adapter of --config")
			pf.String("address", "", "address of the admin listener, if different from the config")
			pf.String("by", "", "created_by of the change (default: cli <user>@<host>)")
			cmd.Args = cobra.ArbitraryArgs
			cmd.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return fmt.Errorf("unknown subcommand %q: want add, remove, list or revoke", args[0])
				}
				return fmt.Errorf("name a subcommand: add, remove, list or revoke")
			}
			cmd.AddCommand(banSubcommands()...)
		},
	})
}

// banSubcommands returns add, remove, revoke and list.
func banSubcommands() []*cobra.Command {
	add := &cobra.Command{Use: "add <provider> <subject> [--until <RFC 3339> | --for <duration>] [--reason <text>]",
		Short: "Bans a player, until a time or for ever", Args: cobra.ExactArgs(2)}
	add.Flags().String("until", "", "end of the ban, RFC 3339 (default: for ever)")
	add.Flags().Duration("for", 0, "length of the ban, such as 72h (default: for ever)")
	add.Flags().String("reason", "", "why, for the operators")
	remove := &cobra.Command{Use: "remove <provider> <subject>", Short: "Lifts a player's ban", Args: cobra.ExactArgs(2)}
	revoke := &cobra.Command{Use: "revoke <provider> <subject> [--before <RFC 3339>]",
		Short: "Refuses the player's tokens issued before a time", Args: cobra.ExactArgs(2)}
	revoke.Flags().String("before", "", "refuse the tokens issued before this RFC 3339 time (default: now)")
	list := &cobra.Command{Use: "list [--provider <p>] [--subject <s>] [--limit <n>] [--all] [--json]",
		Short: "Lists the bans in force and the revocations", Args: cobra.NoArgs}
	list.Flags().String("provider", "", "only this provider's entries")
	list.Flags().String("subject", "", "only this subject's entries")
	list.Flags().Int("limit", defaultPageLimit, fmt.Sprintf("entries a page, 1 to %d", maxPageLimit))
	list.Flags().String("after", "", "the cursor a previous page printed")
	list.Flags().Bool("all", false, "fetch every page")
	list.Flags().Bool("json", false, "print JSON, not a table")
	for c, run := range map[*cobra.Command]func(banCLI) error{add: banAdd, remove: banRemove, revoke: banRevoke, list: banList} {
		c.RunE = caddycmd.WrapCommandFuncForCobra(func(fl caddycmd.Flags) (int, error) {
			if err := run(banCLI{fl: fl, out: c.OutOrStdout()}); err != nil {
				return 1, err
			}
			return 0, nil
		})
	}
	return []*cobra.Command{add, remove, revoke, list}
}

// banCLI is one run of a subcommand.
type banCLI struct {
	fl  caddycmd.Flags
	out io.Writer
}

// by returns created_by: --by, else "cli <user>@<host>".
func (c banCLI) by() string {
	if by := c.fl.String("by"); by != "" {
		return by
	}
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	by := "cli " + name + "@" + host
	if !adminPrintable(by, 128) {
		by = "cli"
	}
	return by
}

// request sends a request to the admin API and returns the answer's
// body; an error answer is returned as an error with its JSON error text.
func (c banCLI) request(method, uri string, body any) ([]byte, error) {
	addr, err := caddycmd.DetermineAdminAPIAddress(c.fl.String("address"), nil, c.fl.String("config"), c.fl.String("adapter"))
	if err != nil {
		return nil, fmt.Errorf("finding the admin address: %v", err)
	}
	var rb io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rb = bytes.NewReader(b)
	}
	resp, err := caddycmd.AdminAPIRequest(addr, method, uri, nil, rb)
	if err != nil {
		return nil, banAPIError(err)
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

// banAPIError turns AdminAPIRequest's "caddy responded with error: HTTP
// 400: {"error":"..."}" into "HTTP 400: ...".
func banAPIError(err error) error {
	s := err.Error()
	i := strings.Index(s, "HTTP ")
	j := strings.Index(s, ": {")
	var e struct {
		Error string `json:"error"`
	}
	if i < 0 || j < i || json.Unmarshal([]byte(s[j+2:]), &e) != nil || e.Error == "" {
		return err
	}
	return fmt.Errorf("%s: %s", s[i:j], e.Error)
}

// print writes an answer of the API, a JSON object, indented.
func (c banCLI) print(b []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(b), "", "  "); err != nil {
		return fmt.Errorf("the admin API answered no JSON: %v", err)
	}
	buf.WriteByte('\n')
	_, err := c.out.Write(buf.Bytes())
	return err
}

// banAdd runs add: POST /gameauth/bans.
func banAdd(c banCLI) error {
	body := adminBanRequest{Provider: c.fl.Arg(0), Subject: c.fl.Arg(1), Until: c.fl.String("until"),
		Reason: c.fl.String("reason"), CreatedBy: c.by()}
	switch d := c.fl.Duration("for"); {
	case d != 0 && body.Until != "":
		return fmt.Errorf("give --until or --for, not both")
	case d < 0:
		return fmt.Errorf("--for must be positive")
	case d > 0:
		body.Until = time.Now().Add(d).UTC().Format(time.RFC3339)
	}
	b, err := c.request(http.MethodPost, "/gameauth/bans", body)
	if err != nil {
		return err
	}
	return c.print(b)
}

// banRemove runs remove: DELETE /gameauth/bans/{provider}/{subject}.
func banRemove(c banCLI) error {
	uri := "/gameauth/bans/" + url.PathEscape(c.fl.Arg(0)) + "/" + url.PathEscape(c.fl.Arg(1)) +
		"?created_by=" + url.QueryEscape(c.by())
	b, err := c.request(http.MethodDelete, uri, nil)
	if err != nil {
		return err
	}
	return c.print(b)
}

// banRevoke runs revoke: POST /gameauth/revocations.
func banRevoke(c banCLI) error {
	b, err := c.request(http.MethodPost, "/gameauth/revocations", adminRevokeRequest{Provider: c.fl.Arg(0),
		Subject: c.fl.Arg(1), Before: c.fl.String("before"), CreatedBy: c.by()})
	if err != nil {
		return err
	}
	return c.print(b)
}

// banList prints one page (and the cursor of the next), or every page
// with --all, as a table or as JSON in the API's shape.
func banList(c banCLI) error {
	q := url.Values{}
	for _, name := range []string{"provider", "subject", "after"} {
		if v := c.fl.String(name); v != "" {
			q.Set(name, v)
		}
	}
	q.Set("limit", fmt.Sprint(c.fl.Int("limit")))
	all := adminPage{Bans: []adminBan{}, Revocations: []adminRevocation{}}
	for {
		b, err := c.request(http.MethodGet, "/gameauth/bans?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		var page adminPage
		if err := json.Unmarshal(b, &page); err != nil {
			return fmt.Errorf("the admin API answered no page: %v", err)
		}
		all.Bans = append(all.Bans, page.Bans...)
		all.Revocations = append(all.Revocations, page.Revocations...)
		all.Next = page.Next
		if !c.fl.Bool("all") || page.Next == "" {
			break
		}
		q.Set("after", page.Next)
	}
	if c.fl.Bool("json") {
		b, err := json.Marshal(all)
		if err != nil {
			return err
		}
		return c.print(b)
	}
	return banTable(c.out, all)
}

// banTable prints a page as a table, in the order of the pages.
func banTable(out io.Writer, p adminPage) error {
	type row struct{ provider, subject, kind, time, reason, by, at string }
	rows := make([]row, 0, len(p.Bans)+len(p.Revocations))
	for _, b := range p.Bans {
		until := b.Until
		if until == "" {
			until = "forever"
		}
		rows = append(rows, row{b.Provider, b.Subject, "ban", "until " + until, b.Reason, b.CreatedBy, b.CreatedAt})
	}
	for _, r := range p.Revocations {
		rows = append(rows, row{r.Provider, r.Subject, "revoke", "before " + r.Before, "", r.CreatedBy, r.CreatedAt})
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		return strings.Compare(a.provider+"\x00"+a.subject+"\x00"+a.kind, b.provider+"\x00"+b.subject+"\x00"+b.kind)
	})
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tSUBJECT\tKIND\tWHEN\tREASON\tBY\tCREATED")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.provider, r.subject, r.kind, r.time, r.reason, r.by, r.at)
	}
	if p.Next != "" {
		fmt.Fprintf(tw, "(more: --after %s, or --all)\n", p.Next)
	}
	return tw.Flush()
}
