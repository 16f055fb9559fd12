package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) purgeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "purge",
		Short: "Delete expired bypass codes and old audit rows now (radiusd does this every 30 s)",
		Long: `Run one janitor pass now: delete expired bypass codes, and audit rows
older than audit_retention (unless it is 0). radiusd does the same every
30 s.`,
		Example: `  radiusctl purge`,
		Args:    cobra.NoArgs,
		RunE: action(func(ctx context.Context, _ []string) error {
			store, err := a.open(ctx)
			if err != nil {
				return err
			}
			sw, err := store.Sweep(ctx, a.cfg.AuditRetention)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "deleted %d expired code(s) and %d audit row(s)\n", sw.ExpiredCodes, sw.AuditRows)
			return nil
		}),
	}
}

func (a *app) backupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the store to a new file",
		Long: `Write a consistent online copy of the store to FILE (which must not
exist) and check its integrity. Safe while radiusd runs. The copy is useless
without the key file: back that up too, and keep it apart from the copy.`,
		Example: `  radiusctl backup /var/backups/radgate-$(date +%F).db`,
		Args:    cobra.ExactArgs(1),
		RunE: action(func(ctx context.Context, args []string) error {
			store, err := a.open(ctx)
			if err != nil {
				return err
			}
			return store.Backup(ctx, args[0])
		}),
	}
}
