package main

import (
	"context"
	"io"
	"os"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/config"
	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/primary"
	"github.com/radgate/radgate/radiusd"
)

// This file turns the config into the components' own settings.

func newLogger(cfg *config.Config, out io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "radiusd",
		Level:      hclog.LevelFromString(cfg.LogLevel),
		JSONFormat: cfg.LogFormat == "json",
		Output:     out,
	})
}

// logWarnings logs the weak settings of cfg (config.Warnings), each with
// its file and line.
func logWarnings(cfg *config.Config, log hclog.Logger) {
	for _, w := range cfg.Warnings() {
		log.Warn(w.String())
	}
}

// warnHashCosts warns, for the local backend, about users whose password
// hashes were made with other argon2 costs than primary.argon2 (the costs
// were changed since): verifying theirs takes another time than the dummy
// hash of an unknown user, which tells names apart until they are set
// again.
func warnHashCosts(ctx context.Context, cfg *config.Config, store *codestore.Store, log hclog.Logger) {
	if cfg.Primary.Backend != "local" {
		return
	}
	n, err := store.CountPasswordHashesWithout(ctx, primary.Argon2FromConfig(cfg.Primary.Argon2).HashPrefix())
	if err != nil {
		log.Warn("cannot check the argon2 costs of the stored password hashes", "error", err)
		return
	}
	if n > 0 {
		log.Warn("password hashes made with other argon2 costs than primary.argon2: an unknown user's login "+
			"takes another time than these users', which tells names apart; set their passwords again (radiusctl user passwd)",
			"users", n)
	}
}

func openStore(ctx context.Context, cfg *config.Config, log hclog.Logger) (*codestore.Store, error) {
	return codestore.Open(ctx, codestore.Options{
		Path:       cfg.Store.Path,
		KeyFile:    cfg.Store.KeyFile,
		AsyncAudit: true,
		Logger:     log,
		Codes: codestore.CodeRules{
			Length:    cfg.BypassCodes.Length,
			MaxActive: cfg.BypassCodes.MaxActive,
			MaxTTL:    cfg.BypassCodes.MaxTTL,
		},
	})
}

// newEngine builds the policy engine on store (the codestore, possibly
// wrapped for metrics) and the primary backend it calls; users is the
// codestore the local backend reads. The caller closes the backend
// (closePrimary) when it replaces or stops the engine.
func newEngine(cfg *config.Config, store policy.Store, users *codestore.Store, log hclog.Logger) (*policy.Engine, primary.Authenticator, error) {
	auth, err := primary.New(cfg, users, log.Named("primary"))
	if err != nil {
		return nil, nil, err
	}
	failmode, _ := policy.ParseFailmode(cfg.Policy.Failmode)
	normalization, _ := policy.ParseNormalization(cfg.Policy.UsernameNormalization)
	return policy.NewEngine(policy.Config{
		RequireEnrolledDevice: cfg.Policy.RequireEnrolledDevice,
		Failmode:              failmode,
		ChallengePrompt:       cfg.Policy.ChallengePrompt,
		ConcatDelimiter:       cfg.Policy.ConcatDelimiter,
		BypassLength:          cfg.BypassCodes.Length,
		SecondFactorOnly:      cfg.Primary.Backend == "none",
		Normalization:         normalization,
		Lockout: codestore.LockoutRules{
			MaxFailures: cfg.Lockout.MaxFailures,
			Window:      cfg.Lockout.Window,
			Duration:    cfg.Lockout.Duration,
		},
	}, store, auth, log), auth, nil
}

// closePrimary closes a backend that holds connections.
func closePrimary(a primary.Authenticator) {
	if c, ok := a.(primary.Closer); ok {
		c.Close()
	}
}

func radiusClients(cfg *config.Config) []radiusd.Client {
	clients := make([]radiusd.Client, len(cfg.Clients))
	for i, c := range cfg.Clients {
		mode, _ := policy.ParseMode(c.Mode)
		clients[i] = radiusd.Client{
			Name:                        c.Name,
			Network:                     c.Network,
			Secret:                      c.Secret,
			Mode:                        mode,
			RequireMessageAuthenticator: c.RequireMessageAuthenticator,
			Proxy:                       c.Proxy,
			Reply:                       c.Reply,
		}
		if c.RateLimit.Count > 0 {
			clients[i].RateLimit = radiusd.RateLimit{
				PerSecond: float64(c.RateLimit.Count) / c.RateLimit.Per.Seconds(),
				Burst:     c.RateLimit.Count,
			}
		}
	}
	return clients
}

func serverConfig(cfg *config.Config, log hclog.Logger) radiusd.Config {
	return radiusd.Config{
		Clients:          radiusClients(cfg),
		MaxInflight:      cfg.MaxInflight,
		DuplicateWindow:  cfg.DuplicateWindow,
		ChallengeTimeout: cfg.Policy.ChallengeTimeout,
		Logger:           log,
		PassThroughRoom:  primary.PassThroughRoom(cfg),
	}
}

// baseMemoryLimit is the Go runtime's soft memory limit, when GOMEMLIMIT
// is not set, for everything but the argon2id hashes of the local backend
// (see memoryLimit). Each local-password check allocates the argon2 memory
// (19 MiB by default) and drops it; the limit makes the collector return
// that garbage before the heap doubles, so that peak RSS stays near the
// live memory (docs/performance.md). It is soft: a heap that needs more
// gets more.
const baseMemoryLimit = 96 << 20

// memoryLimit is radiusd's soft Go memory limit for cfg: baseMemoryLimit
// plus the memory of the hashes that may run at once. Without their share
// a heap holding them sits at the limit, and the runtime collects and
// hands memory back to the kernel at every hash, then faults it in and
// zeroes it again for the next (docs/performance.md).
func memoryLimit(cfg *config.Config) int64 {
	return baseMemoryLimit + primary.HashingMemory(cfg)
}

// setMemoryLimit applies memoryLimit(cfg) unless GOMEMLIMIT is set.
func setMemoryLimit(cfg *config.Config) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit(cfg))
	}
}
