package main

import (
	"context"
	"fmt"
	"io"

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

func openStore(ctx context.Context, cfg *config.Config) (*codestore.Store, error) {
	return codestore.Open(ctx, codestore.Options{
		Path:    cfg.Store.Path,
		KeyFile: cfg.Store.KeyFile,
		Codes: codestore.CodeRules{
			Length:    cfg.BypassCodes.Length,
			MaxActive: cfg.BypassCodes.MaxActive,
			MaxTTL:    cfg.BypassCodes.MaxTTL,
		},
	})
}

func newPrimary(cfg *config.Config, users *codestore.Store) (primary.Authenticator, error) {
	switch cfg.Primary.Backend {
	case "local":
		return primary.NewLocal(users, primary.DefaultArgon2), nil
	case "none":
		return primary.None{}, nil
	}
	return nil, fmt.Errorf("primary backend %q is not available in this build", cfg.Primary.Backend)
}

// newEngine builds the policy engine on store (the codestore, possibly
// wrapped for metrics); users is the codestore the local backend reads.
func newEngine(cfg *config.Config, store policy.Store, users *codestore.Store, log hclog.Logger) (*policy.Engine, error) {
	auth, err := newPrimary(cfg, users)
	if err != nil {
		return nil, err
	}
	failmode, _ := policy.ParseFailmode(cfg.Policy.Failmode)
	return policy.NewEngine(policy.Config{
		RequireEnrolledDevice: cfg.Policy.RequireEnrolledDevice,
		Failmode:              failmode,
		ChallengePrompt:       cfg.Policy.ChallengePrompt,
		ConcatDelimiter:       cfg.Policy.ConcatDelimiter,
		BypassLength:          cfg.BypassCodes.Length,
		SecondFactorOnly:      cfg.Primary.Backend == "none",
		Lockout: codestore.LockoutRules{
			MaxFailures: cfg.Lockout.MaxFailures,
			Window:      cfg.Lockout.Window,
			Duration:    cfg.Lockout.Duration,
		},
	}, store, auth, log), nil
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
	}
}
