package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
			surviveBrokenPipe()
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
// Codes are shown once (rule 8): when they cannot all be written, the codes
// just issued are revoked, so that no code stays live that nobody saw.
func (a *app) issue(ctx context.Context, store *codestore.Store, req codestore.IssueRequest) error {
	u, err := store.UserByName(ctx, req.User)
	if err != nil {
		return err
	}
	replaced := 0
	if req.Replace {
		// Only for the message of a failed output: what --replace took.
		old, err := store.BypassCodes(ctx, req.User)
		if err != nil {
			return err
		}
		replaced = len(old)
	}
	codes, err := store.IssueBypassCodes(ctx, req)
	if err != nil {
		return err
	}
	if ok, err := store.HasEnabledDevice(ctx, u.ID); err == nil && !ok && a.cfg.Policy.RequireEnrolledDevice {
		fmt.Fprintf(a.stderr, "radiusctl: warning: %s has no enrolled device; the codes are usable once one is enrolled\n", u.Name)
	}
	// Build the whole output first and write it at once: one write error
	// to check, and nothing to flush.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	for _, c := range codes {
		if !a.json {
			out.WriteString(c.Code + "\n")
			continue
		}
		obj := map[string]any{"id": c.ID, "code": c.Code, "uses": c.Uses, "expires_at": timeJSON(c.ExpiresAt)}
		if err := enc.Encode(obj); err != nil {
			return a.unshown(ctx, store, u.Name, codes, replaced, err)
		}
	}
	if _, err := a.stdout.Write(out.Bytes()); err != nil {
		return a.unshown(ctx, store, u.Name, codes, replaced, err)
	}
	return nil
}

// unshown revokes codes that were issued but could not be shown, and
// returns the error to report. It never puts a code in the error, only ids.
// replaced is how many codes --replace revoked with the issue: they are
// gone either way, which the message says.
func (a *app) unshown(ctx context.Context, store *codestore.Store, user string, codes []codestore.IssuedCode, replaced int, werr error) error {
	ids := make([]int64, len(codes))
	for i, c := range codes {
		ids[i] = c.ID
	}
	// The revoke must run even when the command is being cancelled.
	ctx = context.WithoutCancel(ctx)
	_, err := store.RevokeBypassCodes(ctx, user, ids, a.adminName())
	remaining := ids
	switch {
	case err == nil:
		remaining = nil
	case errors.Is(err, codestore.ErrNotFound):
		// One of them is gone already (used or revoked meanwhile), and the
		// store refuses the whole list for it: revoke the rest one by one.
		err, remaining = nil, nil
		for _, id := range ids {
			_, e := store.RevokeBypassCodes(ctx, user, []int64{id}, a.adminName())
			if e != nil && !errors.Is(e, codestore.ErrNotFound) {
				err = e
				remaining = append(remaining, id)
			}
		}
	}
	if err != nil {
		idText := make([]string, len(remaining))
		for i, id := range remaining {
			idText[i] = strconv.FormatInt(id, 10)
		}
		return fmt.Errorf("bypass issue: could not show the codes (%v), and revoking them failed (%v): they remain live; revoke them with: radiusctl bypass revoke %s %s",
			werr, err, user, strings.Join(idText, " "))
	}
	msg := fmt.Sprintf("bypass issue: could not show the codes (%v); the %d code(s) just issued were revoked", werr, len(codes))
	if replaced > 0 {
		msg += fmt.Sprintf(", and the %d they replaced were revoked by --replace: %s has no bypass code now", replaced, user)
	}
	return errors.New(msg)
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
