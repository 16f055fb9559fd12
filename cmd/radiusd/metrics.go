package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/radgate/radgate/metrics"
)

// Timeouts of the metrics listener, so that a client cannot hold a
// connection (a goroutine and a file descriptor) open: the time to send a
// request, to take the answer, and to idle between two requests on one
// connection. A scrape is a small request and a small answer. At most
// metrics.MaxConnections are open at once.
const (
	metricsReadTimeout  = 5 * time.Second
	metricsWriteTimeout = 10 * time.Second
	metricsIdleTimeout  = 5 * time.Second
)

// startMetrics serves /metrics and /healthz on metrics_listen, when set.
// It runs after the server is built, so the in-flight gauge can read it.
func (m *Main) startMetrics() error {
	if m.cfg.MetricsListen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", m.cfg.MetricsListen)
	if err != nil {
		return fmt.Errorf("metrics listen: %w", err)
	}
	log := m.log.Named("metrics")
	m.http = &http.Server{
		Handler:      m.metrics.Handler(m.store, log),
		ReadTimeout:  metricsReadTimeout,
		WriteTimeout: metricsWriteTimeout,
		IdleTimeout:  metricsIdleTimeout,
		ErrorLog:     log.StandardLogger(nil),
	}
	go func() {
		if err := m.http.Serve(metrics.LimitListener(ln, metrics.MaxConnections)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return nil
}

// stopMetrics closes the metrics listener and waits for scrapes in
// progress, up to ctx.
func (m *Main) stopMetrics(ctx context.Context) error {
	if m.http == nil {
		return nil
	}
	return m.http.Shutdown(ctx)
}

// newMetrics returns the metrics the server and the store report to. The
// store must be open. The server's series read m.server, which Run builds
// before it serves the metrics.
func (m *Main) newMetrics() *metrics.Metrics {
	mt := metrics.New(func() int { return m.server.InFlight() })
	mt.CountAuditLost(m.store.AuditLost)
	mt.CountCommits(m.store.CommitStats)
	mt.CountKernelDrops(func() uint64 { return m.server.KernelDrops() })
	return mt
}
