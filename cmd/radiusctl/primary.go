package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/radgate/radgate/config"
	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/primary"
)

// errPrimaryRejected is returned when the backend rejects the test login.
var errPrimaryRejected = errors.New("rejected")

func (a *app) primaryCommand() *cobra.Command {
	var passwordStdin bool
	test := &cobra.Command{
		Use:   "test NAME --password-stdin",
		Short: "Check a password with the configured primary backend, without a second factor",
		Long: `Check NAME's password with the primary backend of the config file (local,
ldap or radius) exactly as radiusd would, without a second factor and
without touching the user's lockout count. NAME is given as the NAS would
send it; policy.username_normalization applies. For wiring a directory or
an upstream server: exit 0 when the password is accepted, 1 when it is
rejected (with the reason) or the backend cannot answer.`,
		Example: `  printf '%s\n' "$PASSWORD" | radiusctl primary test 'CORP\alice' --password-stdin`,
		Args:    cobra.ExactArgs(1),
		RunE: action(func(ctx context.Context, args []string) error {
			if !passwordStdin {
				return usagef("primary test: --password-stdin is required")
			}
			password, err := a.readPassword()
			if err != nil {
				return err
			}
			return a.primaryTest(ctx, args[0], password)
		}),
	}
	test.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from one line of standard input")
	return group("primary", "Test the primary password backend", test)
}

// primaryTest runs one primary check and prints its outcome.
func (a *app) primaryTest(ctx context.Context, login, password string) error {
	cfg, err := config.Load(a.configPath)
	if err != nil {
		return err
	}
	var hashes primary.HashLookup
	if cfg.Primary.Backend == "local" {
		store, err := a.open(ctx)
		if err != nil {
			return err
		}
		hashes = store
	}
	if cfg.Primary.Backend == "none" {
		return errors.New(`primary test: primary.backend is "none": the NAS checks passwords, radgate does not`)
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "radiusctl", Level: hclog.Warn, Output: a.stderr})
	auth, err := primary.New(cfg, hashes, log)
	if err != nil {
		return err
	}
	if c, ok := auth.(primary.Closer); ok {
		defer c.Close()
	}
	norm, _ := policy.ParseNormalization(cfg.Policy.UsernameNormalization)
	creds := primary.Credentials{User: norm.Apply(login), Login: login, Password: password}
	res, err := auth.Authenticate(ctx, creds)
	if err != nil {
		return fmt.Errorf("primary test: backend %s unavailable: %w", cfg.Primary.Backend, err)
	}
	attrs := make([]string, len(res.Attributes))
	for i, at := range res.Attributes {
		attrs[i] = at.String()
	}
	if a.json {
		out := map[string]any{"ok": res.OK, "backend": cfg.Primary.Backend, "user": creds.User, "login": login,
			"detail": res.Detail, "attributes": attrs}
		if err := json.NewEncoder(a.stdout).Encode(out); err != nil {
			return err
		}
	} else if res.OK {
		fmt.Fprintf(a.stdout, "accepted by %s backend (store user %q)\n", cfg.Primary.Backend, creds.User)
		for _, s := range attrs {
			fmt.Fprintf(a.stdout, "  %s\n", s)
		}
	}
	if !res.OK {
		return fmt.Errorf("primary test: %w by %s backend: %s", errPrimaryRejected, cfg.Primary.Backend, res.Detail)
	}
	return nil
}
