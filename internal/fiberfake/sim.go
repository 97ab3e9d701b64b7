package fiberfake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Endpoint names one of the simulated API calls.
type Endpoint string

// The simulated endpoints.
const (
	EndpointStart  Endpoint = "start"  // POST /v1/contact-details/batch/start
	EndpointPoll   Endpoint = "poll"   // POST /v1/contact-details/batch/poll
	EndpointCancel Endpoint = "cancel" // POST /v1/contact-details/batch/cancel
)

// Endpoints lists every endpoint, in a stable order.
func Endpoints() []Endpoint { return []Endpoint{EndpointStart, EndpointPoll, EndpointCancel} }

// Path returns the URL path of the endpoint.
func (e Endpoint) Path() string { return "/v1/contact-details/batch/" + string(e) }

// endpointOf maps a URL path to its endpoint.
func endpointOf(path string) (Endpoint, bool) {
	name, ok := strings.CutPrefix(path, "/v1/contact-details/batch/")
	if !ok {
		return "", false
	}
	for _, e := range Endpoints() {
		if string(e) == name {
			return e, true
		}
	}
	return "", false
}

// Sim is a simulated Fiber account. All its methods are safe for concurrent
// use. Create it with New (to mount Handler yourself) or Start (to serve it on
// a loopback port), and Close it when done.
type Sim struct {
	cfg    Config
	dice   dice
	closed chan struct{} // closed by Close; aborts injected latency

	closeOnce sync.Once
	srv       *http.Server  // set by Start only
	served    chan struct{} // closed when srv.Serve returns; set by Start only

	mu       sync.Mutex // guards the fields below
	balances map[string]float64
	tasks    map[string]*task
	order    []*task // in start order
	limiter  *limiter
	faults   []*Fault // consumed front to back
	stats    map[Endpoint]*EndpointStats
	polls    map[string][]PollRecord // by task id, in arrival order
}

// New returns a simulator for cfg. It starts no goroutine and opens no
// socket.
func New(cfg Config) *Sim {
	cfg = cfg.withDefaults()
	s := &Sim{
		cfg:      cfg,
		dice:     dice{seed: cfg.Seed},
		closed:   make(chan struct{}),
		balances: cfg.Keys,
		tasks:    make(map[string]*task),
		limiter:  newLimiter(),
		stats:    make(map[Endpoint]*EndpointStats),
		polls:    make(map[string][]PollRecord),
	}
	for _, e := range Endpoints() {
		s.stats[e] = &EndpointStats{Statuses: map[int]int{}}
	}
	return s
}

// Start creates a simulator and serves both Handler and AdminHandler on a
// fresh 127.0.0.1 port. It returns the base URL, like "http://127.0.0.1:4321",
// to which the endpoint paths are appended. The caller must Close the Sim.
func Start(cfg Config) (*Sim, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("fiberfake: listen: %w", err)
	}
	s := New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/_sim/", s.AdminHandler())
	mux.Handle("/", s.Handler())
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(l) // returns http.ErrServerClosed once Close runs
	}()
	return s, "http://" + l.Addr().String(), nil
}

// Close aborts injected latency in flight and, for a Sim made by Start, shuts
// its server down and waits for it. Handlers stay usable and answer normally
// afterwards, without latency. Close is idempotent.
func (s *Sim) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.srv == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err = s.srv.Shutdown(ctx); err != nil {
			err = errors.Join(err, s.srv.Close())
		}
		<-s.served
	})
	return err
}

// Credits returns the balance of an API key, after applying every refund due
// by now, and whether the key exists.
func (s *Sim) Credits(apiKey string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(apiKey, time.Now())
	b, ok := s.balances[apiKey]
	return b, ok
}

// SetCredits sets the balance of an API key, creating the key if needed.
func (s *Sim) SetCredits(apiKey string, credits float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(apiKey, time.Now())
	s.balances[apiKey] = credits
}

// keyExists reports whether apiKey is accepted. It takes the lock.
func (s *Sim) keyExists(apiKey string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.balances[apiKey]
	return ok
}
