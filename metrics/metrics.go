package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"layeh.com/radius"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/radiusd"
)

// namespace prefixes every series.
const namespace = "radgate"

// Metrics holds radgate's collectors in a private registry. It implements
// radiusd.Observer. Create it with New.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	decisions   *prometheus.CounterVec
	duration    prometheus.Histogram
	bypass      prometheus.Counter
	replayed    *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	storeErrors *prometheus.CounterVec
}

var _ radiusd.Observer = (*Metrics)(nil)

// New returns Metrics registered in a new registry. inFlight reports the
// requests being processed (radiusd.Server.InFlight); it is called at each
// scrape and may be nil, which reports 0.
func New(inFlight func() int) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_total",
			Help: "Datagrams received from known clients, by client and packet code.",
		}, []string{"client", "code"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "decisions_total",
			Help: "Access-Requests decided and answered, by result and reason.",
		}, []string{"result", "reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "request_duration_seconds",
			Help:    "Time from taking an Access-Request to its reply being ready.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
		}),
		bypass: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "bypass_codes_consumed_total",
			Help: "Accepted logins that spent a use of a bypass code.",
		}),
		replayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "duplicates_replayed_total",
			Help: "Retransmissions answered with the cached response, by client.",
		}, []string{"client"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "packets_dropped_total",
			Help: "Datagrams that got no reply, by reason.",
		}, []string{"reason"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "store_errors_total",
			Help: "Store calls that failed (not-found answers excluded), by operation.",
		}, []string{"op"}),
	}
	inflight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "inflight_requests",
		Help: "Access-Requests being processed now.",
	}, func() float64 {
		if inFlight == nil {
			return 0
		}
		return float64(inFlight())
	})
	m.reg.MustRegister(m.requests, m.decisions, m.duration, m.bypass, m.replayed,
		m.dropped, m.storeErrors, inflight,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Report every drop reason from zero, so rate() works from the start.
	for _, r := range radiusd.DropReasons() {
		m.dropped.WithLabelValues(string(r))
	}
	return m
}

// CountAuditLost reports lost() as radgate_audit_events_lost_total: the
// audit events the store dropped (codestore.Store.AuditLost). Call it once.
func (m *Metrics) CountAuditLost(lost func() uint64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: namespace, Name: "audit_events_lost_total",
		Help: "Audit events dropped because the audit queue stayed full or the store refused them.",
	}, func() float64 { return float64(lost()) }))
}

// CountKernelDrops reports drops() as radgate_socket_receive_drops_total:
// the datagrams the kernel dropped before radiusd read them
// (radiusd.Server.KernelDrops). Call it once.
func (m *Metrics) CountKernelDrops(drops func() uint64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: namespace, Name: "socket_receive_drops_total",
		Help: "Datagrams the kernel dropped before radiusd read them, mostly because the socket's receive buffer was full.",
	}, func() float64 { return float64(drops()) }))
}

// CountCommits reports stats() as radgate_store_commits_total,
// radgate_store_commit_writes_total and radgate_store_commit_seconds_total:
// the store's group commits, the writes they carried and the time their
// COMMITs took (codestore.Store.CommitStats). Call it once.
func (m *Metrics) CountCommits(stats func() codestore.CommitStats) {
	for _, c := range []struct {
		name, help string
		value      func(codestore.CommitStats) float64
	}{
		{"store_commits_total", "Group commits of the store's writer: one transaction and one fsync each.",
			func(s codestore.CommitStats) float64 { return float64(s.Commits) }},
		{"store_commit_writes_total", "Writes those commits carried (second-factor writes of logins, batches of audit events).",
			func(s codestore.CommitStats) float64 { return float64(s.Writes) }},
		{"store_commit_seconds_total", "Time spent in those commits, mostly waiting for the fsync.",
			func(s codestore.CommitStats) float64 { return s.CommitTime.Seconds() }},
	} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Name: c.name, Help: c.help,
		}, func() float64 { return c.value(stats()) }))
	}
}

// Registry returns the registry the metrics are in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Request counts a datagram from a known client.
func (m *Metrics) Request(client string, code radius.Code) {
	m.requests.WithLabelValues(client, code.String()).Inc()
}

// Answered counts a decision, its duration and a consumed bypass code.
func (m *Metrics) Answered(_ string, _ radius.Code, dec policy.Decision, d time.Duration) {
	m.decisions.WithLabelValues(dec.Result.String(), string(dec.Reason)).Inc()
	m.duration.Observe(d.Seconds())
	if dec.Result == policy.Accept && dec.CodeID != 0 {
		m.bypass.Inc()
	}
}

// Replayed counts a retransmission answered from the cache.
func (m *Metrics) Replayed(client string) {
	m.replayed.WithLabelValues(client).Inc()
}

// Dropped counts a datagram that got no reply.
func (m *Metrics) Dropped(reason radiusd.DropReason) {
	m.dropped.WithLabelValues(string(reason)).Inc()
}

// storeError counts a failed store call.
func (m *Metrics) storeError(op string) {
	m.storeErrors.WithLabelValues(op).Inc()
}
