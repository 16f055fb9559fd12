package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/radgate/radgate/config"
	"github.com/radgate/radgate/loadgen"
)

// errBenchInvalid makes bench exit 1 when a reply failed verification.
var errBenchInvalid = errors.New("bench: some replies failed verification")

func (a *app) benchCommand() *cobra.Command {
	var (
		cfg                loadgen.Config
		secret, secretFile string
		usersFile          string
		user, password     string
	)
	c := &cobra.Command{
		Use:   "bench",
		Short: "Load a RADIUS server with Access-Requests and measure it",
		Long: `Send PAP Access-Requests, each with a Message-Authenticator, in a closed
loop with --concurrency requests outstanding, until --count were sent or
--duration passed. Every reply is verified (Response Authenticator and
Message-Authenticator) before it counts. Prints req/s, accepts, rejects,
challenges, timeouts, invalid replies and latency p50/p90/p99/max; exits 1
when a reply failed verification. It needs no config file and works against
any RADIUS server.

--users names a file of "user password" lines (the password is the rest of
the line), sent round robin, so each request can carry a different user and
code.

The requests come from --sockets source ports, each keeping up to ` + fmt.Sprint(loadgen.MaxPerSocket) + ` of
them in flight (told apart by Identifier), as a busy NAS does; by default
one port per CPU. More ports load a server as more NAS ports would.`,
		Example: `  radiusctl bench --secret-file nas.secret --users users.txt --concurrency 64 --duration 10s
  radiusctl bench --server 127.0.0.1:1812 --secret s3 --user alice --password 123456789 --count 1000`,
		Args: cobra.NoArgs,
		RunE: action(func(ctx context.Context, _ []string) error {
			if (secret == "") == (secretFile == "") {
				return usagef("bench: give exactly one of --secret and --secret-file")
			}
			if (usersFile == "") == (user == "") {
				return usagef("bench: give exactly one of --users and --user")
			}
			if cfg.Count == 0 && cfg.Duration == 0 {
				return usagef("bench: give --count, --duration or both")
			}
			if cfg.Concurrency < 1 {
				return usagef("bench: --concurrency must be at least 1")
			}
			cfg.Secret = []byte(secret)
			if secretFile != "" {
				b, err := config.ReadSecretFile(secretFile)
				if err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				cfg.Secret = b
			}
			if usersFile != "" {
				f, err := os.Open(usersFile)
				if err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				cfg.Credentials, err = loadgen.ReadCredentials(f)
				f.Close()
				if err != nil {
					return err
				}
			} else {
				cfg.Credentials = []loadgen.Credential{{User: user, Password: password}}
			}
			res, err := loadgen.Run(ctx, cfg)
			if errors.Is(err, loadgen.ErrConfig) {
				return usagef("%v", err)
			}
			if err != nil {
				return err
			}
			if a.json {
				if err := json.NewEncoder(a.stdout).Encode(benchJSON(res)); err != nil {
					return err
				}
			} else {
				fmt.Fprint(a.stdout, res.String())
			}
			if res.Invalid > 0 {
				return errBenchInvalid
			}
			return nil
		}),
	}
	f := c.Flags()
	f.StringVar(&cfg.Server, "server", loadgen.DefaultServer, "RADIUS server host:port")
	f.StringVar(&secret, "secret", "", "shared secret")
	f.StringVar(&secretFile, "secret-file", "", "file holding the shared secret")
	f.StringVar(&usersFile, "users", "", `file of "user password" lines, sent round robin`)
	f.StringVar(&user, "user", "", "send this one user name (with --password)")
	f.StringVar(&password, "password", "", "User-Password to send with --user")
	f.IntVar(&cfg.Concurrency, "concurrency", loadgen.DefaultConcurrency, "requests outstanding at once")
	f.IntVar(&cfg.Sockets, "sockets", 0, fmt.Sprintf("source ports the requests come from (0: one per CPU, or more for over %d requests each)", loadgen.MaxPerSocket))
	f.IntVar(&cfg.Count, "count", 0, "stop after this many requests")
	f.DurationVar(&cfg.Duration, "duration", 0, "stop after this long")
	f.DurationVar(&cfg.Timeout, "timeout", loadgen.DefaultTimeout, "wait this long for each reply")
	return c
}

// benchJSON is the --json form of a result: durations in milliseconds.
func benchJSON(r loadgen.Result) map[string]any {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return map[string]any{
		"sent": r.Sent, "accepts": r.Accepts, "rejects": r.Rejects, "challenges": r.Challenges,
		"timeouts": r.Timeouts, "invalid": r.Invalid, "no_message_authenticator": r.NoMessageAuth,
		"elapsed_s": r.Elapsed.Seconds(), "rate": r.Rate(),
		"p50_ms": ms(r.P50), "p90_ms": ms(r.P90), "p99_ms": ms(r.P99), "max_ms": ms(r.Max),
	}
}
