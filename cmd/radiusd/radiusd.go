package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/config"
	"github.com/radgate/radgate/metrics"
	"github.com/radgate/radgate/primary"
	"github.com/radgate/radgate/radiusd"
)

// defaultConfigPath is used when neither -config nor RADGATE_CONFIG is set.
const defaultConfigPath = "/etc/radgate/config.hcl"

// shutdownTimeout bounds how long in-flight requests may take to finish.
const shutdownTimeout = 10 * time.Second

// Main is the running program: its flags, config and the components it
// wired together.
type Main struct {
	ConfigPath  string
	CheckOnly   bool
	ShowVersion bool
	// Stderr receives the log. Default os.Stderr.
	Stderr io.Writer

	// cfg is the config Run started with. A reload swaps in clients and
	// policy but not the rest (restartOnlyChanges), so cfg stays what the
	// socket, store, logger and listeners run on.
	cfg     *config.Config
	log     hclog.Logger
	store   *codestore.Store
	primary primary.Authenticator
	server  *radiusd.Server
	conn    net.PacketConn
	metrics *metrics.Metrics
	http    *http.Server // metrics_listen; nil when off
	stop    context.CancelFunc
	serveCh chan error
}

// NewMain returns a Main with its defaults.
func NewMain() *Main {
	return &Main{Stderr: os.Stderr, serveCh: make(chan error, 1)}
}

// ParseFlags reads the command line.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("radiusd", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	path := os.Getenv("RADGATE_CONFIG")
	if path == "" {
		path = defaultConfigPath
	}
	fs.StringVar(&m.ConfigPath, "config", path, "config file (env RADGATE_CONFIG)")
	fs.BoolVar(&m.CheckOnly, "check", false, "check the config and the store, then exit")
	fs.BoolVar(&m.ShowVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// Check loads the config, opens the store and builds every component
// without serving, so that -check fails for anything Run would fail on.
// It checks the primary backend's settings (LDAP URL, CA file, group DNs,
// upstream addresses) without connecting to it; warnings, such as
// ldap.insecure_skip_verify, go to Stderr.
func (m *Main) Check(ctx context.Context) error {
	cfg, err := config.Load(m.ConfigPath)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, hclog.NewNullLogger())
	if err != nil {
		return err
	}
	defer store.Close()
	log := newLogger(cfg, m.Stderr)
	log.SetLevel(hclog.Warn)
	logWarnings(cfg, log)
	warnHashCosts(ctx, cfg, store, log)
	_, auth, err := newEngine(cfg, store, store, log)
	if err != nil {
		return err
	}
	closePrimary(auth)
	return nil
}

// Run loads the config, opens the store, binds the socket and starts
// serving in the background. It returns once the server is listening.
func (m *Main) Run(ctx context.Context) error {
	cfg, err := config.Load(m.ConfigPath)
	if err != nil {
		return err
	}
	m.cfg = cfg
	setMemoryLimit(cfg)
	m.log = newLogger(cfg, m.Stderr)
	logWarnings(cfg, m.log)

	m.store, err = openStore(ctx, cfg, m.log.Named("store"))
	if err != nil {
		return err
	}
	warnHashCosts(ctx, cfg, m.store, m.log)
	m.metrics = m.newMetrics()
	engine, auth, err := newEngine(cfg, m.metrics.Store(m.store), m.store, m.log)
	if err != nil {
		return err
	}
	m.primary = auth
	scfg := serverConfig(cfg, m.log.Named("radius"))
	scfg.Observer = m.metrics
	m.server, err = radiusd.NewServer(scfg, engine)
	if err != nil {
		return err
	}
	m.conn, err = net.ListenPacket("udp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := m.startMetrics(); err != nil {
		return err
	}

	janitorCtx, stop := context.WithCancel(context.Background())
	m.stop = stop
	go m.store.RunJanitor(janitorCtx, codestore.JanitorOptions{
		AuditRetention: cfg.AuditRetention,
		Logger:         m.log.Named("janitor"),
	})
	go func() { m.serveCh <- m.server.Serve(m.conn) }()

	m.log.Info("listening", "addr", m.conn.LocalAddr().String(), "config", cfg.File,
		"clients", len(cfg.Clients), "primary", cfg.Primary.Backend, "version", version)
	return nil
}

// Done delivers an error if the server stops serving on its own.
func (m *Main) Done() <-chan error { return m.serveCh }

// Reload re-reads the config file and swaps in its clients and policy
// (challenge_timeout included). A config that does not load leaves the
// running one in place. The settings restartOnlyChanges names take effect
// at the next restart, with a warning now.
func (m *Main) Reload() {
	cfg, err := config.Load(m.ConfigPath)
	if err != nil {
		m.log.Error("reload failed, keeping the running config", "error", err)
		return
	}
	engine, auth, err := newEngine(cfg, m.metrics.Store(m.store), m.store, m.log)
	if err != nil {
		m.log.Error("reload failed, keeping the running config", "error", err)
		return
	}
	if changed := restartOnlyChanges(m.cfg, cfg); len(changed) > 0 {
		m.log.Warn("changed settings take effect at the next restart", "settings", strings.Join(changed, ","))
	}
	if err := m.server.Reload(radiusClients(cfg), engine, cfg.Policy.ChallengeTimeout, primary.PassThroughRoom(cfg)); err != nil {
		closePrimary(auth)
		m.log.Error("reload failed, keeping the running config", "error", err)
		return
	}
	// Requests already deciding on the old engine may still be using the
	// old backend's connections: close it once they have had time to end.
	old := m.primary
	time.AfterFunc(shutdownTimeout, func() { closePrimary(old) })
	m.primary = auth
	setMemoryLimit(cfg)
	logWarnings(cfg, m.log)
	m.log.Info("reloaded", "clients", len(cfg.Clients))
}

// restartOnlyChanges names the settings that differ between running and
// next and that a reload does not apply: they set up the socket, the store,
// the logger, the metrics listener or the janitor.
func restartOnlyChanges(running, next *config.Config) []string {
	var changed []string
	for _, s := range []struct {
		name    string
		changed bool
	}{
		{"listen", running.Listen != next.Listen},
		{"store", running.Store != next.Store},
		{"max_inflight", running.MaxInflight != next.MaxInflight},
		{"duplicate_window", running.DuplicateWindow != next.DuplicateWindow},
		{"log_level", running.LogLevel != next.LogLevel},
		{"log_format", running.LogFormat != next.LogFormat},
		{"metrics_listen", running.MetricsListen != next.MetricsListen},
		{"audit_retention", running.AuditRetention != next.AuditRetention},
	} {
		if s.changed {
			changed = append(changed, s.name)
		}
	}
	return changed
}

// Close stops reading, lets in-flight requests finish and closes the store.
func (m *Main) Close() error {
	var errs []error
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		errs = append(errs, m.server.Shutdown(ctx))
		errs = append(errs, m.stopMetrics(ctx))
		cancel()
	}
	if m.conn != nil {
		if err := m.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if m.stop != nil {
		m.stop()
	}
	if m.primary != nil {
		closePrimary(m.primary)
	}
	if m.store != nil {
		errs = append(errs, m.store.Close())
	}
	if m.log != nil {
		m.log.Info("stopped")
	}
	return errors.Join(errs...)
}
