package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/primary"
	"github.com/radgate/radgate/radattr"
)

func (a *app) userCommand() *cobra.Command {
	var passwordStdin, disabled bool
	add := &cobra.Command{
		Use:     "add NAME",
		Short:   "Create a user",
		Example: `  printf '%s\n' "$PASSWORD" | radiusctl user add alice --password-stdin`,
		Args:    cobra.ExactArgs(1),
		RunE: action(func(ctx context.Context, args []string) error {
			if err := checkNewName(args[0]); err != nil {
				return err
			}
			store, err := a.openOrCreate(ctx) // first: the config has the argon2 costs and normalization
			if err != nil {
				return err
			}
			norm, _ := policy.ParseNormalization(a.cfg.Policy.UsernameNormalization)
			if err := checkNormalized(args[0], norm); err != nil {
				return err
			}
			hash, err := a.passwordHash(passwordStdin)
			if err != nil {
				return err
			}
			_, err = store.AddUser(ctx, args[0], hash, disabled, a.adminName())
			return err
		}),
	}
	add.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the local password from one line of standard input")
	add.Flags().BoolVar(&disabled, "disabled", false, "create the user disabled")

	var passwdStdin bool
	passwd := &cobra.Command{
		Use:     "passwd NAME --password-stdin",
		Short:   "Set a user's local password",
		Example: `  printf '%s\n' "$PASSWORD" | radiusctl user passwd alice --password-stdin`,
		Args:    cobra.ExactArgs(1),
		RunE: action(func(ctx context.Context, args []string) error {
			if !passwdStdin {
				return usagef("user passwd: --password-stdin is required")
			}
			store, err := a.open(ctx) // first: the config has the argon2 costs
			if err != nil {
				return err
			}
			hash, err := a.passwordHash(true)
			if err != nil {
				return err
			}
			return store.SetPasswordHash(ctx, args[0], hash, a.adminName())
		}),
	}
	passwd.Flags().BoolVar(&passwdStdin, "password-stdin", false, "read the password from one line of standard input")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List users",
		Example: `  radiusctl user list --json`,
		Args:    cobra.NoArgs,
		RunE: action(func(ctx context.Context, _ []string) error {
			store, err := a.open(ctx)
			if err != nil {
				return err
			}
			users, err := store.Users(ctx)
			if err != nil {
				return err
			}
			return printRows(a, []string{"NAME", "STATUS", "PASSWORD", "CREATED"}, users, userRow)
		}),
	}

	show := &cobra.Command{
		Use:     "show NAME",
		Short:   "Show one user with devices and live bypass codes",
		Example: `  radiusctl user show alice`,
		Args:    cobra.ExactArgs(1),
		RunE:    action(a.showUser),
	}

	simple := func(use, short string, change func(context.Context, *codestore.Store, string) error) *cobra.Command {
		return &cobra.Command{
			Use:     use + " NAME",
			Short:   short,
			Example: "  radiusctl user " + use + " alice",
			Args:    cobra.ExactArgs(1),
			RunE: action(func(ctx context.Context, args []string) error {
				store, err := a.open(ctx)
				if err != nil {
					return err
				}
				return change(ctx, store, args[0])
			}),
		}
	}
	admin := a.adminName
	return group("user", "Manage users", add, passwd, list, show,
		simple("enable", "Enable a user", func(ctx context.Context, s *codestore.Store, name string) error {
			return s.SetDisabled(ctx, name, false, admin())
		}),
		simple("disable", "Disable a user (logins are rejected)", func(ctx context.Context, s *codestore.Store, name string) error {
			return s.SetDisabled(ctx, name, true, admin())
		}),
		simple("unlock", "Clear a user's lockout and failure count", func(ctx context.Context, s *codestore.Store, name string) error {
			return s.Unlock(ctx, name, admin())
		}),
		simple("delete", "Delete a user with their devices and codes", func(ctx context.Context, s *codestore.Store, name string) error {
			return s.DeleteUser(ctx, name, admin())
		}),
	)
}

// checkNewName refuses a new user name that a NAS cannot send or that
// breaks listings: leading or trailing white space, control characters
// (a tab splits a table row), or bytes that are not UTF-8.
func checkNewName(name string) error {
	switch {
	case !utf8.ValidString(name):
		return fmt.Errorf("user add: user name %q is not valid UTF-8", name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("user add: user name %q has leading or trailing white space", name)
	case radattr.Printable(name) != name:
		return fmt.Errorf("user add: user name %q contains a control, formatting or invisible character", name)
	}
	return nil
}

// checkNormalized refuses a new user name that norm would change: logins
// are looked up after normalization, so such a user could never log in.
// The message names the form to add instead, when there is one.
func checkNormalized(name string, norm policy.Normalization) error {
	if norm.Apply(name) == name {
		return nil
	}
	// Normalize until stable, so the suggestion is itself accepted
	// ("a@b@c" becomes "a@b", then "a").
	want := name
	for range len(name) + 1 {
		next := norm.Apply(want)
		if next == want {
			break
		}
		want = next
	}
	msg := fmt.Sprintf("user add: user %q would never match a login under username_normalization %q", name, norm.String())
	if want == "" || norm.Apply(want) != want || checkNewName(want) != nil {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: add %q", msg, want)
}

// passwordHash reads one password line from stdin when asked and returns
// its argon2id hash with the configured costs (primary.argon2); without the
// flag the user gets no local password.
func (a *app) passwordHash(fromStdin bool) (string, error) {
	if !fromStdin {
		return "", nil
	}
	password, err := a.readPassword()
	if err != nil {
		return "", err
	}
	p := primary.DefaultArgon2
	if a.cfg != nil {
		p = primary.Argon2FromConfig(a.cfg.Primary.Argon2)
	}
	return primary.HashPassword(password, p)
}

// readPassword reads one non-empty line of at most radattr.MaxPasswordLen
// bytes from standard input, without its line ending: a longer one could
// never arrive in a login (in concat mode the code and its delimiter take
// part of those bytes).
func (a *app) readPassword() (string, error) {
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("reading password from standard input: no input")
	}
	password := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if password == "" {
		return "", errors.New("the password is empty")
	}
	if len(password) > radattr.MaxPasswordLen {
		return "", fmt.Errorf("the password is %d bytes; a RADIUS User-Password carries at most %d (with the code, in concat mode)", len(password), radattr.MaxPasswordLen)
	}
	return password, nil
}

func userStatus(u codestore.User) string {
	switch {
	case u.Disabled:
		return "disabled"
	case u.Locked:
		return "locked"
	}
	return "enabled"
}

func userRow(u codestore.User) (any, []string) {
	obj := map[string]any{
		"name":         u.Name,
		"disabled":     u.Disabled,
		"locked":       u.Locked,
		"locked_until": timeJSON(u.LockedUntil),
		"has_password": u.PasswordHash != "",
		"created_at":   timeJSON(u.CreatedAt),
	}
	pw := "no"
	if u.PasswordHash != "" {
		pw = "yes"
	}
	return obj, []string{u.Name, userStatus(u), pw, timeCell(u.CreatedAt, "-")}
}

func (a *app) showUser(ctx context.Context, args []string) error {
	store, err := a.open(ctx)
	if err != nil {
		return err
	}
	u, err := store.UserByName(ctx, args[0])
	if err != nil {
		return err
	}
	devices, err := store.Devices(ctx, u.Name)
	if err != nil {
		return err
	}
	codes, err := store.BypassCodes(ctx, u.Name)
	if err != nil {
		return err
	}
	if a.json {
		obj, _ := userRow(u)
		m := obj.(map[string]any)
		m["failures"] = u.Failures
		m["devices"] = len(devices)
		m["bypass_codes"] = len(codes)
		return printRows(a, nil, []any{m}, func(v any) (any, []string) { return v, nil })
	}
	_, cells := userRow(u)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\nstatus:\t%s\nlocal password:\t%s\ncreated:\t%s\n", cells[0], cells[1], cells[2], cells[3])
	if u.Locked {
		fmt.Fprintf(tw, "locked until:\t%s\n", timeCell(u.LockedUntil, "unlocked by an admin"))
	}
	fmt.Fprintf(tw, "failures:\t%d\ndevices:\t%d\nbypass codes:\t%d\n", u.Failures, len(devices), len(codes))
	return tw.Flush()
}
