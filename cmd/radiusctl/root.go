package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/spf13/cobra"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/config"
)

// defaultConfigPath is used when neither --config nor RADGATE_CONFIG is set.
const defaultConfigPath = "/etc/radgate/config.hcl"

// app holds what every command shares: global flags, streams, and the
// store once a command has opened it.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	configPath string
	json       bool
	admin      string

	cfg   *config.Config
	store *codestore.Store
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "radiusctl",
		Short: "Administer radgate users, devices and bypass codes",
		Long: `radiusctl administers radgate: users, their enrolled devices, bypass
codes, the audit log and backups. It reads the server's config file and
opens the store directly; it is safe to run beside a running radiusd.`,
		Example: `  radiusctl user add alice --password-stdin
  radiusctl device add alice --type totp --label phone
  radiusctl bypass issue alice --count 2 --ttl 24h
  radiusctl audit --user alice --since 24h
  radiusctl test alice
  source <(radiusctl completion bash)`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	flags := root.PersistentFlags()
	flags.StringVar(&a.configPath, "config", envOr("RADGATE_CONFIG", defaultConfigPath), "config file (env RADGATE_CONFIG)")
	flags.BoolVar(&a.json, "json", false, "print JSON, one object per line")
	flags.StringVar(&a.admin, "admin", "", "admin name recorded in the audit log (default: the OS user)")

	root.AddCommand(a.userCommand(), a.deviceCommand(), a.bypassCommand(),
		a.auditCommand(), a.purgeCommand(), a.backupCommand(), a.benchCommand(), a.testCommand(),
		a.primaryCommand(), a.completionCommand())
	// Our completion command replaces cobra's, which has no examples.
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}

// group returns a command that only holds subcommands; called alone or
// with an unknown subcommand it is a usage error.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s: missing subcommand (see %s --help)", c.CommandPath(), c.CommandPath())
			}
			return usagef("unknown command %q for %q", args[0], c.CommandPath())
		},
	}
	c.AddCommand(subs...)
	c.Example = firstExamples(subs)
	return c
}

// firstExamples joins the first example line of each command, so that a
// group's help shows one example per subcommand.
func firstExamples(cmds []*cobra.Command) string {
	var lines []string
	for _, c := range cmds {
		if first, _, _ := strings.Cut(c.Example, "\n"); strings.TrimSpace(first) != "" {
			lines = append(lines, first)
		}
	}
	return strings.Join(lines, "\n")
}

// action adapts a command body so that its errors exit 1, unless the body
// reports bad usage itself.
func action(fn func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		err := fn(c.Context(), args)
		var usage usageError
		if err == nil || errors.As(err, &usage) {
			return err
		}
		return commandError{err}
	}
}

// open loads the config and opens the store it names, which must exist:
// only user add creates one (openOrCreate), so that a mistyped store.path
// is reported instead of answered from a new, empty store.
func (a *app) open(ctx context.Context) (*codestore.Store, error) {
	return a.openStore(ctx, true)
}

// openOrCreate is open that creates the store when there is none yet, for
// user add, the first command of a fresh install.
func (a *app) openOrCreate(ctx context.Context) (*codestore.Store, error) {
	return a.openStore(ctx, false)
}

func (a *app) openStore(ctx context.Context, mustExist bool) (*codestore.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	cfg, err := config.Load(a.configPath)
	if err != nil {
		return nil, err
	}
	store, err := codestore.Open(ctx, codestore.Options{
		Path:      cfg.Store.Path,
		MustExist: mustExist,
		KeyFile:   cfg.Store.KeyFile,
		Codes: codestore.CodeRules{
			Length:    cfg.BypassCodes.Length,
			MaxActive: cfg.BypassCodes.MaxActive,
			MaxTTL:    cfg.BypassCodes.MaxTTL,
		},
	})
	if errors.Is(err, codestore.ErrNotFound) {
		return nil, fmt.Errorf("%w (store.path of %s); radiusd, radiusd -check or radiusctl user add creates it", err, cfg.File)
	}
	if err != nil {
		return nil, err
	}
	a.cfg, a.store = cfg, store
	return store, nil
}

func (a *app) close() {
	if a.store != nil {
		if err := a.store.Close(); err != nil {
			fmt.Fprintf(a.stderr, "radiusctl: closing store: %v\n", err)
		}
	}
}

// adminName is the acting admin for the audit log.
func (a *app) adminName() string {
	if a.admin != "" {
		return a.admin
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return envOr("USER", "unknown")
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
