package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/radgate/radgate/codestore"
)

func (a *app) auditCommand() *cobra.Command {
	var (
		name, since string
		limit       int
	)
	c := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log, newest first",
		Example: `  radiusctl audit --user alice --since 24h
  radiusctl audit --limit 20 --json`,
		Args: cobra.NoArgs,
		RunE: action(func(ctx context.Context, _ []string) error {
			filter := codestore.AuditFilter{User: name, Limit: limit}
			if since != "" {
				d, err := time.ParseDuration(since)
				if err != nil || d <= 0 {
					return usagef("audit: --since %q is not a duration such as 24h", since)
				}
				filter.Since = time.Now().Add(-d)
			}
			if limit < 0 {
				return usagef("audit: --limit must be positive")
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
	f.StringVar(&name, "user", "", "only events about this user")
	f.StringVar(&since, "since", "", "only events newer than this duration, such as 24h")
	f.IntVar(&limit, "limit", 100, "at most this many events")
	return c
}

func auditRow(e codestore.AuditEvent) (any, []string) {
	obj := map[string]any{
		"id": e.ID, "time": timeJSON(e.Time), "actor": e.Actor, "action": e.Action,
		"user": e.User, "client": e.Client, "result": e.Result, "reason": e.Reason, "detail": e.Detail,
	}
	return obj, []string{timeCell(e.Time, "-"), e.Actor, e.Action, dash(e.User), dash(e.Client),
		dash(e.Result), dash(e.Reason), dash(e.Detail)}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
