// Package metrics exports fibergate's Prometheus metrics: the gRPC server's calls (through
// go-grpc-middleware's prometheus provider), every attempt at Fiber by endpoint and outcome,
// the upstream budget (grants, queue depth by lane, oldest waits, waits, fast failures, 429s
// received), the replica's id, and the Go runtime and process.
//
// No label ever holds a secret or a value a caller controls: endpoints, budget lanes and
// outcomes are fixed sets, gRPC methods come from the service descriptor, the replica id is the operator's, and
// API keys appear nowhere, not even as their ids (a request may bring its own key, which
// would make the label set unbounded).
package metrics

import (
	"net/http"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// namespace prefixes every fibergate metric.
const namespace = "fibergate"

// Metrics is the registry and the collectors of one server. Create it with New.
type Metrics struct {
	reg *prometheus.Registry

	// GRPC counts and times the gRPC server's calls; its interceptors go in the server's chain.
	GRPC *grpcprom.ServerMetrics

	attempts  *prometheus.CounterVec   // endpoint, outcome
	duration  *prometheus.HistogramVec // endpoint
	grantWait *prometheus.HistogramVec // endpoint, lane
}

// New returns Metrics with the Go runtime, process and gRPC server collectors registered, and
// the Fiber attempt metrics. Add the budget with RegisterBudget.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		GRPC: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets([]float64{.001, .005, .01, .05, .1, .5, 1, 5, 30, 120, 600}),
		)),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "fiber", Name: "attempts_total",
			Help: "HTTP attempts at Fiber, retries included, by endpoint (start, poll, cancel) and outcome " +
				"(ok, or the failure's kind: rate_limited, unavailable, outcome_unknown, bad_request, ...).",
		}, []string{"endpoint", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "fiber", Name: "attempt_duration_seconds",
			Help:    "Duration of HTTP attempts at Fiber, from sending to the end of the answer, by endpoint.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		grantWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "budget", Name: "grant_wait_seconds",
			Help: "How long each slot granted by the budget was waited for (0 when free at once), by endpoint and " +
				"lane (urgent: watched tasks' polls; normal: callers' own calls; background: unwatched tasks' polls).",
			Buckets: []float64{.001, .01, .1, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"endpoint", "lane"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.GRPC, m.attempts, m.duration, m.grantWait,
	)
	for _, ep := range endpoints {
		m.duration.WithLabelValues(string(ep))
		m.attempts.WithLabelValues(string(ep), "ok")
		for _, lane := range budget.Lanes {
			m.grantWait.WithLabelValues(string(ep), lane.String())
		}
	}
	return m
}

// endpoints are Fiber's three endpoints, the only values of the endpoint label.
var endpoints = []fiber.Endpoint{fiber.EndpointStart, fiber.EndpointPoll, fiber.EndpointCancel}

// RegisterReplica exports fibergate_replica_info{replica="id"} 1: the name of this replica
// among those sharing a store, to join its series with its logs.
func (m *Metrics) RegisterReplica(id string) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "replica_info",
		Help:        "Always 1; its replica label is this process's replica id (-replica-id), as its log lines carry it.",
		ConstLabels: prometheus.Labels{"replica": id},
	})
	g.Set(1)
	m.reg.MustRegister(g)
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry returns the registry, for tests and for further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveFiberAttempt counts one attempt at Fiber; it has the shape of
// fiber.RetryConfig.OnAttempt.
func (m *Metrics) ObserveFiberAttempt(ep fiber.Endpoint, err error, took time.Duration) {
	m.attempts.WithLabelValues(string(ep), Outcome(err)).Inc()
	m.duration.WithLabelValues(string(ep)).Observe(took.Seconds())
}

// ObserveBudgetGrant counts one slot granted by the budget and how long it was waited for; it
// has the shape of budget.Config.OnGrant.
func (m *Metrics) ObserveBudgetGrant(ep fiber.Endpoint, lane budget.Lane, waited time.Duration) {
	m.grantWait.WithLabelValues(string(ep), lane.String()).Observe(waited.Seconds())
}

// Outcome names the outcome of an attempt for the outcome label: "ok", the snake_case name of
// its fiber.ErrorKind, "not_sent" when it failed before reaching Fiber for another reason (the
// context ended, a hook refused).
func Outcome(err error) string {
	if err == nil {
		return "ok"
	}
	switch fiber.KindOf(err) {
	case fiber.KindBadRequest:
		return "bad_request"
	case fiber.KindUnauthenticated:
		return "unauthenticated"
	case fiber.KindOutOfCredits:
		return "out_of_credits"
	case fiber.KindForbidden:
		return "forbidden"
	case fiber.KindNotFound:
		return "not_found"
	case fiber.KindRateLimited:
		return "rate_limited"
	case fiber.KindUnavailable:
		return "unavailable"
	case fiber.KindOutcomeUnknown:
		return "outcome_unknown"
	case fiber.KindProtocol:
		return "protocol_error"
	}
	return "not_sent"
}

// RegisterBudget exports l's counters and queues, summed over the API keys of each endpoint
// (the longest of their waits and backlogs), and by lane where the lane matters.
func (m *Metrics) RegisterBudget(l *budget.Limiter) {
	m.reg.MustRegister(&budgetCollector{l: l})
}

// budgetCollector reads a Limiter's Stats at each scrape.
type budgetCollector struct {
	l *budget.Limiter
}

// budgetMetric is one metric of the budget collector: per endpoint, from the totals of its
// buckets (t) and its current queue depth and active keys.
type budgetMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(t budget.Counters, depth, keys int) float64
}

// budgetMetrics are what the budget collector exports.
var budgetMetrics = func() []budgetMetric {
	m := func(name, help string, kind prometheus.ValueType, value func(budget.Counters, int, int) float64) budgetMetric {
		return budgetMetric{prometheus.NewDesc(namespace+"_budget_"+name, help, []string{"endpoint"}, nil), kind, value}
	}
	counter, gauge := prometheus.CounterValue, prometheus.GaugeValue
	return []budgetMetric{
		m("grants_total", "Slots of Fiber's rate limit granted and used.", counter,
			func(t budget.Counters, _, _ int) float64 { return float64(t.Grants) }),
		m("queued_grants_total", "Grants that had to wait in the fair queue.", counter,
			func(t budget.Counters, _, _ int) float64 { return float64(t.Queued) }),
		m("wait_seconds_total", "Time queued grants spent waiting; divided by fibergate_budget_queued_grants_total, the mean wait.", counter,
			func(t budget.Counters, _, _ int) float64 { return t.WaitTotal.Seconds() }),
		m("wait_max_seconds", "Longest wait of a queued grant since start.", gauge,
			func(t budget.Counters, _, _ int) float64 { return t.WaitMax.Seconds() }),
		m("fast_failures_total", "Calls refused at once (RESOURCE_EXHAUSTED) because their slot would come after their deadline or the max wait.", counter,
			func(t budget.Counters, _, _ int) float64 { return float64(t.FastFails) }),
		m("abandoned_total", "Calls whose context ended while queued.", counter,
			func(t budget.Counters, _, _ int) float64 { return float64(t.Abandoned) }),
		m("fiber_429_total", "429 answers received from Fiber (each pauses the key's bucket); above zero, the key is shared with other software.", counter,
			func(t budget.Counters, _, _ int) float64 { return float64(t.Penalties) }),
		m("queue_depth", "Calls waiting for a slot now.", gauge,
			func(_ budget.Counters, depth, _ int) float64 { return float64(depth) }),
		m("active_keys", "API keys with a bucket in use (recent traffic) at the endpoint.", gauge,
			func(_ budget.Counters, _, keys int) float64 { return float64(keys) }),
	}
}()

// The budget's metrics by lane, and its backlog.
var (
	laneDepthDesc = prometheus.NewDesc(namespace+"_budget_lane_queue_depth",
		"Calls waiting for a slot now, by lane: urgent (watched tasks' polls), normal (callers' own calls), "+
			"background (unwatched tasks' polls, which wait their turn without a bound but their task's end).",
		[]string{"endpoint", "lane"}, nil)
	laneOldestDesc = prometheus.NewDesc(namespace+"_budget_lane_oldest_wait_seconds",
		"How long the call queued longest in the lane has waited so far, over the API keys; 0 when none waits.",
		[]string{"endpoint", "lane"}, nil)
	backloggedDesc = prometheus.NewDesc(namespace+"_budget_backlogged_seconds",
		"How long calls have been queued for the endpoint without a break (the longest over the API keys); "+
			"0 when none waits. Above the limit's window, the budget is saturated.",
		[]string{"endpoint"}, nil)
)

func (c *budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range budgetMetrics {
		ch <- m.desc
	}
	ch <- laneDepthDesc
	ch <- laneOldestDesc
	ch <- backloggedDesc
}

func (c *budgetCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.l.Stats()
	depth := map[fiber.Endpoint]int{}
	keys := map[fiber.Endpoint]int{}
	lanes := map[fiber.Endpoint]*[len(budget.Lanes)]budget.LaneStats{}
	backlogged := map[fiber.Endpoint]time.Duration{}
	for _, ep := range endpoints {
		lanes[ep] = new([len(budget.Lanes)]budget.LaneStats)
	}
	for _, b := range s.Buckets {
		depth[b.Endpoint] += b.Waiting
		keys[b.Endpoint]++
		backlogged[b.Endpoint] = max(backlogged[b.Endpoint], b.Backlogged)
		if ls := lanes[b.Endpoint]; ls != nil {
			for i, l := range b.Lanes {
				ls[i].Waiting += l.Waiting
				ls[i].OldestWait = max(ls[i].OldestWait, l.OldestWait)
			}
		}
	}
	for _, ep := range endpoints {
		for _, m := range budgetMetrics {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(s.Totals[ep], depth[ep], keys[ep]), string(ep))
		}
		for i, lane := range budget.Lanes {
			l := lanes[ep][i]
			ch <- prometheus.MustNewConstMetric(laneDepthDesc, prometheus.GaugeValue, float64(l.Waiting), string(ep), lane.String())
			ch <- prometheus.MustNewConstMetric(laneOldestDesc, prometheus.GaugeValue, l.OldestWait.Seconds(), string(ep), lane.String())
		}
		ch <- prometheus.MustNewConstMetric(backloggedDesc, prometheus.GaugeValue, backlogged[ep].Seconds(), string(ep))
	}
}
