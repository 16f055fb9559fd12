package main

import (
	"context"
	"encoding/base32"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/mdp/qrterminal/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/radattr"
)

// otpIssuer names radgate in authenticator apps.
const otpIssuer = "radgate"

// showDevice prints a new device's otpauth:// URI, with a QR code when
// stdout is a terminal, or with --json the device's row and its URI.
func (a *app) showDevice(d codestore.Device, uri string) error {
	if a.json {
		return printRows(a, nil, []codestore.Device{d}, func(d codestore.Device) (any, []string) {
			obj, _ := deviceRow(d)
			obj.(map[string]any)["uri"] = uri
			return obj, nil
		})
	}
	if _, err := fmt.Fprintln(a.stdout, uri); err != nil {
		return err
	}
	if f, ok := a.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		qrterminal.GenerateHalfBlock(uri, qrterminal.L, a.stdout)
	}
	return nil
}

// unshownDevice removes a device whose secret could not be shown, so that
// no device stays enrolled that nobody holds (it would let the user's
// bypass codes work, rule 3). It returns the error to report, which never
// holds the secret.
func (a *app) unshownDevice(ctx context.Context, store *codestore.Store, user string, id int64, werr error) error {
	// The removal must run even when the command is being cancelled.
	if err := store.RemoveDevice(context.WithoutCancel(ctx), user, id, a.adminName()); err != nil {
		return fmt.Errorf("device add: could not show the device's URI (%v), and removing it failed (%v): it remains enrolled; remove it with: radiusctl device remove %s %d",
			werr, err, user, id)
	}
	return fmt.Errorf("device add: could not show the device's URI (%v); device %d was removed", werr, id)
}

func (a *app) deviceCommand() *cobra.Command {
	var (
		kind, label, secret string
		digits, period      int
	)
	add := &cobra.Command{
		Use:   "add NAME --type totp|hotp",
		Short: "Enrol a TOTP or HOTP device and print its otpauth:// URI",
		Example: `  radiusctl device add alice --type totp --label phone
  radiusctl device add bob --type hotp --secret JBSWY3DPEHPK3PXP --digits 8`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(ctx context.Context, args []string) error {
			nd, err := newDevice(kind, label, secret, digits, period)
			if err != nil {
				return err
			}
			surviveBrokenPipe()
			store, err := a.open(ctx)
			if err != nil {
				return err
			}
			d, key, err := store.AddDevice(ctx, args[0], nd, a.adminName())
			if err != nil {
				return err
			}
			uri := codestore.OTPAuthURI(otpIssuer, args[0], d, key)
			if err := a.showDevice(d, uri); err != nil {
				return a.unshownDevice(ctx, store, args[0], d.ID, err)
			}
			return nil
		}),
	}
	f := add.Flags()
	f.StringVar(&kind, "type", "", "totp or hotp (required)")
	f.StringVar(&label, "label", "", "a label to tell devices apart")
	f.StringVar(&secret, "secret", "", "an existing base32 secret (default: 160 random bits)")
	f.IntVar(&digits, "digits", 6, "code length, 6 to 8")
	f.IntVar(&period, "period", 30, "TOTP time step in seconds")

	list := &cobra.Command{
		Use:     "list NAME",
		Short:   "List a user's devices",
		Example: `  radiusctl device list alice --json`,
		Args:    cobra.ExactArgs(1),
		RunE: action(func(ctx context.Context, args []string) error {
			store, err := a.open(ctx)
			if err != nil {
				return err
			}
			devices, err := store.Devices(ctx, args[0])
			if err != nil {
				return err
			}
			return printRows(a, []string{"ID", "TYPE", "LABEL", "DIGITS", "STATUS", "CREATED", "LAST USED"}, devices, deviceRow)
		}),
	}

	remove := &cobra.Command{
		Use:     "remove NAME DEVICE_ID",
		Short:   "Remove an enrolled device",
		Example: `  radiusctl device remove alice 3`,
		Args:    cobra.ExactArgs(2),
		RunE: action(func(ctx context.Context, args []string) error {
			id, err := parseID(args[1])
			if err != nil {
				return err
			}
			store, err := a.open(ctx)
			if err != nil {
				return err
			}
			if err := store.RemoveDevice(ctx, args[0], id, a.adminName()); err != nil {
				return err
			}
			a.warnCodesAsleep(ctx, store, args[0])
			return nil
		}),
	}
	return group("device", "Manage enrolled TOTP/HOTP devices", add, list, remove)
}

// warnCodesAsleep warns when user, left without an enrolled device, still
// holds bypass codes: rule 3 keeps them from working until a device is
// enrolled again, and then they work again.
func (a *app) warnCodesAsleep(ctx context.Context, store *codestore.Store, user string) {
	if !a.cfg.Policy.RequireEnrolledDevice {
		return
	}
	devices, err := store.Devices(ctx, user)
	if err != nil {
		return
	}
	for _, d := range devices {
		if d.Enabled {
			return
		}
	}
	if codes, err := store.BypassCodes(ctx, user); err == nil && len(codes) > 0 {
		fmt.Fprintf(a.stderr, "radiusctl: warning: %s has no enrolled device now; %d bypass code(s) stay live and work again once a device is enrolled (radiusctl bypass revoke %s --all)\n",
			user, len(codes), user)
	}
}

// newDevice checks the device flags; every problem is a usage error.
func newDevice(kind, label, secret string, digits, period int) (codestore.NewDevice, error) {
	d := codestore.NewDevice{Type: codestore.DeviceType(kind), Label: label, Digits: digits, Period: period}
	if d.Type != codestore.TOTP && d.Type != codestore.HOTP {
		return d, usagef("device add: --type must be totp or hotp")
	}
	if digits < 6 || digits > 8 {
		return d, usagef("device add: --digits must be 6, 7 or 8")
	}
	if period < 1 || period > 3600 {
		return d, usagef("device add: --period must be 1 to 3600 seconds")
	}
	if radattr.Printable(label) != label {
		return d, usagef("device add: --label %s contains a control, formatting or invisible character", radattr.Printable(label))
	}
	if secret != "" {
		clean := strings.ToUpper(strings.TrimRight(strings.ReplaceAll(secret, " ", ""), "="))
		key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(clean)
		if err != nil || len(key) < 10 {
			return d, usagef("device add: --secret is not a base32 secret of at least 80 bits")
		}
		d.Secret = key
	}
	return d, nil
}

func deviceRow(d codestore.Device) (any, []string) {
	status := "enabled"
	if !d.Enabled {
		status = "disabled"
	}
	obj := map[string]any{
		"id":           d.ID,
		"type":         d.Type,
		"label":        d.Label,
		"digits":       d.Digits,
		"period":       d.Period,
		"enabled":      d.Enabled,
		"created_at":   timeJSON(d.CreatedAt),
		"last_used_at": timeJSON(d.LastUsedAt),
	}
	return obj, []string{strconv.FormatInt(d.ID, 10), string(d.Type), d.Label, strconv.Itoa(d.Digits), status,
		timeCell(d.CreatedAt, "-"), timeCell(d.LastUsedAt, "never")}
}

// parseID parses a numeric device or code id.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, usagef("%q is not an id", s)
	}
	return id, nil
}
