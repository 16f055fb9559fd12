package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/radattr"
)

func (a *app) auditCommand() *cobra.Command {
	var (
		filter       codestore.AuditFilter
		since, until string
	)
	c := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log, newest first",
		Long: `Show the audit log, newest first: every login decision (actor
client:NAME) and every admin change, with the user, client, result, reason
and the code or device id involved. It never holds a code or password.
--since and --until take a duration back from now (24h) or a time
(2026-01-02T15:04:05Z); the filters combine.`,
		Example: `  radiusctl audit --user alice --since 24h
  radiusctl audit --client vpn --result reject --since 2026-01-02T00:00:00Z --until 2026-01-03T00:00:00Z
  radiusctl audit --action bypass.issue --limit 20 --json`,
		Args: cobra.NoArgs,
		RunE: action(func(ctx context.Context, _ []string) error {
			now := time.Now()
			var err error
			if filter.Since, err = parseWhen("since", since, now); err != nil {
				return err
			}
			if filter.Until, err = parseWhen("until", until, now); err != nil {
				return err
			}
			if filter.Limit <= 0 {
				return usagef("audit: --limit must be positive, not %d", filter.Limit)
			}
			if filter.Result != "" && !slices.Contains(auditResults, filter.Result) {
				return usagef("audit: --result %q is not one of %s", filter.Result, strings.Join(auditResults, ", "))
			}
			store, err := a.open(ctx)
			if err != nil {
				return err
			}
			events, err := store.AuditLog(ctx, filter)
			if err != nil {
				return err
			}
			return printRows(a, []string{"TIME", "ACTOR", "ACTION", "USER", "CLIENT", "RESULT", "REASON", "DETAIL"}, events, auditRow)
		}),
	}
	f := c.Flags()
	f.StringVar(&filter.User, "user", "", "only events about this user")
	f.StringVar(&filter.Client, "client", "", "only login events from this client block")
	f.StringVar(&filter.Result, "result", "", "only events with this result: "+strings.Join(auditResults, ", "))
	f.StringVar(&filter.Action, "action", "", "only events of this action, such as auth or bypass.issue")
	f.StringVar(&since, "since", "", "only events at or after this time, or this long ago (24h)")
	f.StringVar(&until, "until", "", "only events before this time, or this long ago (1h)")
	f.IntVar(&filter.Limit, "limit", 100, "at most this many events")
	return c
}

// auditResults are the results the audit log holds: the login decisions
// (policy.Result) and "ok", which codestore writes for every admin change.
var auditResults = []string{policy.Accept.String(), policy.Reject.String(), policy.Challenge.String(), "ok"}

// parseWhen reads a --since/--until value: a positive duration back from
// now, or an RFC 3339 time. "" is the zero time (no bound).
func parseWhen(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("audit: --%s %q is neither a duration such as 24h nor a time such as 2026-01-02T15:04:05Z", flag, v)
}

func auditRow(e codestore.AuditEvent) (any, []string) {
	obj := map[string]any{
		"id": e.ID, "time": timeJSON(e.Time), "actor": e.Actor, "action": e.Action,
		"user": e.User, "client": e.Client, "result": e.Result, "reason": e.Reason, "detail": e.Detail,
	}
	return obj, []string{timeCell(e.Time, "-"), cell(e.Actor), cell(e.Action), cell(e.User), cell(e.Client),
		cell(e.Result), cell(e.Reason), cell(e.Detail)}
}

// cell is an audit table cell for s: "-" when empty, else s through
// radattr.Printable. The user of a login event is the User-Name as the
// NAS sent it, so a newline, TAB or escape sequence in it would forge a
// row, split a column or steer the terminal; --json needs no such care.
// The other columns pass through it too: the actor is whatever --admin
// said, and a cell that is already printable comes back unchanged.
func cell(s string) string { return radattr.Printable(dash(s)) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
