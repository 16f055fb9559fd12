package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// PingTimeout bounds the store check of one /healthz request.
const PingTimeout = 2 * time.Second

// Pinger is the store as /healthz sees it; *codestore.Store satisfies it.
type Pinger interface {
	// Ping returns nil while the store answers a query.
	Ping(ctx context.Context) error
}

// Handler serves /metrics (Prometheus text format) and /healthz, which
// answers 200 "ok" while store.Ping succeeds within PingTimeout and 503
// otherwise, logging the error and counting it as store error op "ping".
// A nil log discards.
func (m *Metrics) Handler(store Pinger, log hclog.Logger) http.Handler {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), PingTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := store.Ping(ctx); err != nil {
			m.storeError("ping")
			log.Warn("health check failed: store unavailable", "error", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("store unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
