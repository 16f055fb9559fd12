package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/radgate/radgate/codestore"
)

func (a *app) bypassCommand() *cobra.Command {
	var (
		count, uses int
		ttl         string
		replace     bool
	)
	var issue *cobra.Command
	issue = &cobra.Command{
		Use:   "issue NAME",
		Short: "Issue bypass codes and print them, one per line",
		Long: `Issue bypass codes for one user and print them, one per line and nothing
else. Codes are shown only now: the store keeps a keyed hash of each.
Omitted --uses and --ttl take the configured defaults. --uses 0 means
unlimited and needs a finite --ttl; --ttl 0 means no expiry and needs
finite --uses.`,
		Example: `  radiusctl bypass issue alice
  radiusctl bypass issue alice --count 5 --uses 1 --ttl 72h --replace`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(ctx context.Context, args []string) error {
			var ttlValue time.Duration
			if issue.Flags().Changed("ttl") {
				d, err := time.ParseDuration(ttl)
				if err != nil || d < 0 {
					return usagef("bypass issue: --ttl %q is not a duration such as 1h or 30m", ttl)
				}
				ttlValue = d
			}
			if count < 1 {
				return usagef("bypass issue: --count must be at least 1")
			}
			if uses < 0 {
				return usagef("bypass issue: --uses must be 0 (unlimited) or more")
			}
			store, err := a.open(ctx)
			if err != nil {
				return err
			}
			req := codestore.IssueRequest{
				User: args[0], Count: count, Uses: uses, TTL: ttlValue,
				Replace: replace, Admin: a.adminName(),
			}
			if !issue.Flags().Changed("uses") {
				req.Uses = a.cfg.BypassCodes.DefaultUses
			}
			if !issue.Flags().Changed("ttl") {
				req.TTL = a.cfg.BypassCodes.DefaultTTL
			}
			return a.issue(ctx, store, req)
		}),
	}
	f := issue.Flags()
	f.IntVar(&count, "count", 1, "how many codes to issue")
	f.IntVar(&uses, "uses", 0, "uses per code, 0 for unlimited (default from config)")
	f.StringVar(&ttl, "ttl", "", "lifetime such as 1h or 72h, 0 for none (default from config)")
	f.BoolVar(&replace, "replace", false, "revoke the user's live codes first, in the same transaction")

	list := &cobra.Command{
		Use:     "list NAME",
		Short:   "List a user's live bypass codes (never the codes themselves)",
		Example: `  radiusctl bypass list alice --json`,
		Args:    cobra.ExactArgs(1),
		RunE: action(func(ctx context.Context, args []string) error {
			store, err := a.open(ctx)
			if err != nil {
				return err
			}
			codes, err := store.BypassCodes(ctx, args[0])
			if err != nil {
				return err
			}
			return printRows(a, []string{"ID", "CREATED", "CREATED BY", "EXPIRES", "USES LEFT", "LAST USED"}, codes, codeRow)
		}),
	}

	var all bool
	revoke := &cobra.Command{
		Use:   "revoke NAME (CODE_ID... | --all)",
		Short: "Revoke bypass codes by id, or all of a user's codes",
		Example: `  radiusctl bypass revoke alice 12 13
  radiusctl bypass revoke alice --all`,
		Args: cobra.MinimumNArgs(1),
		RunE: action(func(ctx context.Context, args []string) error {
			if all == (len(args) > 1) {
				return usagef("bypass revoke: give code ids or --all, not both or neither")
			}
			var ids []int64
			for _, s := range args[1:] {
				id, err := parseID(s)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			store, err := a.open(ctx)
			if err != nil {
				return err
			}
			n, err := store.RevokeBypassCodes(ctx, args[0], ids, a.adminName())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "revoked %d code(s)\n", n)
			return nil
		}),
	}
	revoke.Flags().BoolVar(&all, "all", false, "revoke every live code of the user")
	return group("bypass", "Issue, list and revoke bypass codes", issue, list, revoke)
}

// issue creates the codes and prints them; only the codes go to stdout.
func (a *app) issue(ctx context.Context, store *codestore.Store, req codestore.IssueRequest) error {
	u, err := store.UserByName(ctx, req.User)
	if err != nil {
		return err
	}
	codes, err := store.IssueBypassCodes(ctx, req)
	if err != nil {
		return err
	}
	if ok, err := store.HasEnabledDevice(ctx, u.ID); err == nil && !ok && a.cfg.Policy.RequireEnrolledDevice {
		fmt.Fprintf(a.stderr, "radiusctl: warning: %s has no enrolled device; the codes are usable once one is enrolled\n", u.Name)
	}
	if a.json {
		return printRows(a, nil, codes, func(c codestore.IssuedCode) (any, []string) {
			return map[string]any{"id": c.ID, "code": c.Code, "uses": c.Uses, "expires_at": timeJSON(c.ExpiresAt)}, nil
		})
	}
	for _, c := range codes {
		fmt.Fprintln(a.stdout, c.Code)
	}
	return nil
}

func codeRow(c codestore.BypassCode) (any, []string) {
	obj := map[string]any{
		"id":           c.ID,
		"created_at":   timeJSON(c.CreatedAt),
		"created_by":   c.CreatedBy,
		"expires_at":   timeJSON(c.ExpiresAt),
		"uses_left":    c.UsesLeft,
		"last_used_at": timeJSON(c.LastUsedAt),
	}
	return obj, []string{strconv.FormatInt(c.ID, 10), timeCell(c.CreatedAt, "-"), c.CreatedBy,
		timeCell(c.ExpiresAt, "never"), usesCell(c.UsesLeft), timeCell(c.LastUsedAt, "never")}
}
