package fiber_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiber"
)

// fastRetries retries quickly, so that tests do not wait on backoff.
var fastRetries = fiber.RetryPolicy{MaxAttempts: 4, Base: time.Millisecond, Cap: 5 * time.Millisecond}

// answer is one canned response of a scripted handler.
type answer struct {
	status     int
	retryAfter string
	drop       bool // close the connection without answering, after reading the request
}

// scripted answers the n-th request with script[n] (the last one repeats) and counts requests.
type scripted struct {
	script []answer
	n      atomic.Int32
}

var okBodies = map[string]string{
	"/v1/contact-details/batch/start":  `{"output":{"taskId":"t-1","numPeopleEnqueued":1},"chargeInfo":{"method":"charged-now","creditsCharged":5}}`,
	"/v1/contact-details/batch/poll":   `{"output":{"overallStats":{"totalPeopleToFetch":1,"numCompleted":1,"numRemaining":0},"done":true,"failed":false,"canceled":false,"pageResults":[],"nextCursor":null}}`,
	"/v1/contact-details/batch/cancel": `{"output":{"cancelledCount":1,"creditsRefunded":5,"message":"ok"}}`,
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	i := int(s.n.Add(1)) - 1
	a := s.script[min(i, len(s.script)-1)]
	if a.drop {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	if a.status == http.StatusOK {
		_, _ = io.WriteString(w, okBodies[r.URL.Path])
	} else {
		_, _ = io.WriteString(w, `{"message":"scripted `+strconv.Itoa(a.status)+`"}`)
	}
}

func (s *scripted) requests() int { return int(s.n.Load()) }

// fakeLimiter records what a Retrier asks of its Limiter.
type fakeLimiter struct {
	waitErr error // returned by Wait from the failAfter-th call on (1-based); nil never

	failAfter int
	mu        sync.Mutex // guards the fields below
	waits     []string
	undated   int // Waits whose context had no deadline
	sent      []string
	done      []string
	events    []string // "wait", "sent", "done", "429" in the order they came
	penalties []time.Duration
}

func (f *fakeLimiter) Sent(keyID string, ep fiber.Endpoint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, keyID+"/"+string(ep))
	f.events = append(f.events, "sent")
}

func (f *fakeLimiter) Done(keyID string, ep fiber.Endpoint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done = append(f.done, keyID+"/"+string(ep))
	f.events = append(f.events, "done")
}

func (f *fakeLimiter) Wait(ctx context.Context, keyID string, ep fiber.Endpoint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, keyID+"/"+string(ep))
	f.events = append(f.events, "wait")
	if _, ok := ctx.Deadline(); !ok {
		f.undated++
	}
	if f.waitErr != nil && len(f.waits) >= f.failAfter {
		return f.waitErr
	}
	return nil
}

func (f *fakeLimiter) Penalize(keyID string, ep fiber.Endpoint, retryAfter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.penalties = append(f.penalties, retryAfter)
	f.events = append(f.events, "429")
}

// callR runs one Retrier method with canned arguments, like call does for a Client.
func callR(ctx context.Context, r *fiber.Retrier, ep fiber.Endpoint) error {
	var err error
	switch ep {
	case fiber.EndpointStart:
		_, err = r.Start(ctx, testKey, fiber.StartRequest{LinkedInURLs: []string{"https://www.linkedin.com/in/jake"}})
	case fiber.EndpointPoll:
		_, err = r.Poll(ctx, testKey, fiber.PollRequest{TaskID: "task-1"})
	case fiber.EndpointCancel:
		_, err = r.Cancel(ctx, testKey, "task-1")
	}
	return err
}

// TestRetryDecisions checks, per endpoint and failure, whether the Retrier tries again.
func TestRetryDecisions(t *testing.T) {
	ok := answer{status: http.StatusOK}
	tests := []struct {
		name     string
		script   []answer
		start    bool            // the outcome for a start differs from poll and cancel
		wantKind fiber.ErrorKind // for poll and cancel (0: success)
		wantReqs int             // for poll and cancel
		// for a start:
		startKind      fiber.ErrorKind
		startReqs      int
		startAmbiguous bool
	}{
		{name: "429 then ok", script: []answer{{status: 429}, ok}, wantReqs: 2, startReqs: 2},
		{name: "429 with Retry-After then ok", script: []answer{{status: 429, retryAfter: "0"}, ok}, wantReqs: 2, startReqs: 2},
		{name: "500 then ok", script: []answer{{status: 500}, ok}, wantReqs: 2, startKind: fiber.KindOutcomeUnknown, startReqs: 1, startAmbiguous: true},
		{name: "503 503 then ok", script: []answer{{status: 503}, {status: 503}, ok}, wantReqs: 3, startKind: fiber.KindOutcomeUnknown, startReqs: 1, startAmbiguous: true},
		{name: "dropped then ok", script: []answer{{drop: true}, ok}, wantReqs: 2, startKind: fiber.KindOutcomeUnknown, startReqs: 1, startAmbiguous: true},
		{name: "always 503", script: []answer{{status: 503}}, wantKind: fiber.KindUnavailable, wantReqs: 4, startKind: fiber.KindOutcomeUnknown, startReqs: 1, startAmbiguous: true},
		{name: "always 429", script: []answer{{status: 429}}, wantKind: fiber.KindRateLimited, wantReqs: 4, startKind: fiber.KindRateLimited, startReqs: 4},
		{name: "400", script: []answer{{status: 400}, ok}, wantKind: fiber.KindBadRequest, wantReqs: 1, startKind: fiber.KindBadRequest, startReqs: 1},
		{name: "401", script: []answer{{status: 401}, ok}, wantKind: fiber.KindUnauthenticated, wantReqs: 1, startKind: fiber.KindUnauthenticated, startReqs: 1},
		{name: "402", script: []answer{{status: 402}, ok}, wantKind: fiber.KindOutOfCredits, wantReqs: 1, startKind: fiber.KindOutOfCredits, startReqs: 1},
		{name: "404", script: []answer{{status: 404}, ok}, wantKind: fiber.KindNotFound, wantReqs: 1, startKind: fiber.KindNotFound, startReqs: 1},
		{name: "418", script: []answer{{status: 418}, ok}, wantKind: fiber.KindProtocol, wantReqs: 1, startKind: fiber.KindProtocol, startReqs: 1},
	}
	for _, tt := range tests {
		for _, ep := range allEndpoints() {
			t.Run(tt.name+"/"+string(ep), func(t *testing.T) {
				h := &scripted{script: tt.script}
				c, _ := newTestClient(t, h)
				r := fiber.NewRetrier(c, fiber.RetryConfig{Policy: fastRetries})
				err := callR(testContext(t), r, ep)
				wantKind, wantReqs, wantAmb := tt.wantKind, tt.wantReqs, false
				if ep == fiber.EndpointStart {
					wantKind, wantReqs, wantAmb = tt.startKind, tt.startReqs, tt.startAmbiguous
				}
				if got := fiber.KindOf(err); got != wantKind || (wantKind == 0) != (err == nil) {
					t.Errorf("got %v (kind %v), want kind %v", err, got, wantKind)
				}
				if got := h.requests(); got != wantReqs {
					t.Errorf("%d requests, want %d", got, wantReqs)
				}
				if got := fiber.KindOf(err) == fiber.KindOutcomeUnknown; got != wantAmb {
					t.Errorf("outcome unknown = %v, want %v", got, wantAmb)
				}
				assertNoKey(t, err)
			})
		}
	}
}

// TestAmbiguousStart: a start whose answer was lost comes back once, as a start of unknown
// outcome, for the caller to record for reconciliation.
func TestAmbiguousStart(t *testing.T) {
	h := &scripted{script: []answer{{drop: true}}}
	c, _ := newTestClient(t, h)
	r := fiber.NewRetrier(c, fiber.RetryConfig{Policy: fastRetries})
	_, err := r.Start(testContext(t), testKey, fiber.StartRequest{LinkedInURLs: []string{"a", "b", "c"}})
	wantError(t, err, fiber.EndpointStart, fiber.KindOutcomeUnknown)
	if n := h.requests(); n != 1 {
		t.Errorf("%d requests, want 1: an ambiguous start is not retried", n)
	}
}

// TestStartRetriedWhenNeverSent: a start whose connection failed before anything was written
// is retried; the server sees it once. The failed attempt reports Done to the Limiter without
// Sent, so that nothing stays in flight.
func TestStartRetriedWhenNeverSent(t *testing.T) {
	h := &scripted{script: []answer{{status: http.StatusOK}}}
	_, srv := newTestClient(t, h)
	var dials atomic.Int32
	d := &net.Dialer{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			return nil, errors.New("connect: connection refused")
		}
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := fiber.New(srv.URL, fiber.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	lim := &fakeLimiter{}
	r := fiber.NewRetrier(c, fiber.RetryConfig{Policy: fastRetries, Limiter: lim})
	if err := callR(testContext(t), r, fiber.EndpointStart); err != nil {
		t.Fatal(err)
	}
	if dials.Load() != 2 || h.requests() != 1 {
		t.Errorf("%d dials, %d requests; want 2, 1", dials.Load(), h.requests())
	}
	if diff := cmp.Diff([]string{"wait", "done", "wait", "sent", "done"}, lim.events); diff != "" {
		t.Errorf("limiter reports (-want +got):\n%s", diff)
	}
}

// TestRetryWithLimiter: every attempt waits on the Limiter, every 429 is reported to it with
// its Retry-After, and a 429 is retried without a pause of the Retrier's own (the Limiter's
// pause covers it).
func TestRetryWithLimiter(t *testing.T) {
	h := &scripted{script: []answer{{status: 429, retryAfter: "30"}, {status: 503}, {status: http.StatusOK}}}
	c, _ := newTestClient(t, h)
	lim := &fakeLimiter{}
	var attempts []string // guarded by lim.mu
	r := fiber.NewRetrier(c, fiber.RetryConfig{Policy: fiber.RetryPolicy{Base: time.Millisecond}, Limiter: lim,
		OnAttempt: func(ep fiber.Endpoint, err error, took time.Duration) {
			lim.mu.Lock()
			defer lim.mu.Unlock()
			attempts = append(attempts, fmt.Sprintf("%s %v %t", ep, fiber.KindOf(err), took > 0))
		}})
	start := time.Now()
	if err := callR(testContext(t), r, fiber.EndpointPoll); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"poll rate limited true", "poll unavailable true", "poll ErrorKind(0) true"}, attempts); diff != "" {
		t.Errorf("OnAttempt calls (-want +got):\n%s", diff)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v: the Retrier slept on Retry-After itself", d)
	}
	id := fiber.KeyID(testKey)
	if diff := cmp.Diff([]string{id + "/poll", id + "/poll", id + "/poll"}, lim.waits); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(lim.waits, lim.sent); diff != "" {
		t.Errorf("sent reports (-waits +sent):\n%s", diff)
	}
	// Each attempt: granted, written, answered; the 429 is reported after its answer.
	want := []string{"wait", "sent", "done", "429", "wait", "sent", "done", "wait", "sent", "done"}
	if diff := cmp.Diff(want, lim.events); diff != "" {
		t.Errorf("limiter reports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{30 * time.Second}, lim.penalties); diff != "" {
		t.Errorf("penalties (-want +got):\n%s", diff)
	}
}

// TestLimiterWaitsBeforeEachAttempt: the Retrier waits on its Limiter once before each
// attempt, with the caller's context, the key's id (never the key) and the endpoint.
func TestLimiterWaitsBeforeEachAttempt(t *testing.T) {
	rec := &recorder{status: http.StatusNotFound, body: `{"message":"no"}`}
	c, _ := newTestClient(t, rec)
	lim := &fakeLimiter{}
	r := fiber.NewRetrier(c, fiber.RetryConfig{Policy: fastRetries, Limiter: lim})
	for _, ep := range allEndpoints() {
		if err := callR(testContext(t), r, ep); fiber.KindOf(err) != fiber.KindNotFound {
			t.Fatalf("%s: got %v, want KindNotFound", ep, err)
		}
	}
	id := fiber.KeyID(testKey)
	if diff := cmp.Diff([]string{id + "/start", id + "/poll", id + "/cancel"}, lim.waits); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if lim.undated != 0 {
		t.Errorf("%d Waits without the caller's deadline", lim.undated)
	}
	if n := len(rec.requests()); n != 3 {
		t.Errorf("server got %d requests, want 3", n)
	}
}

// TestLimiterRefusal: a refused first Wait sends nothing; a refused retry returns the last
// upstream error with the refusal in the chain.
func TestLimiterRefusal(t *testing.T) {
	refused := errors.New("no slot in time")
	t.Run("first attempt", func(t *testing.T) {
		h := &scripted{script: []answer{{status: http.StatusOK}}}
		c, _ := newTestClient(t, h)
		r := fiber.NewRetrier(c, fiber.RetryConfig{Policy: fastRetries, Limiter: &fakeLimiter{waitErr: refused, failAfter: 1}})
		for _, ep := range allEndpoints() {
			err := callR(testContext(t), r, ep)
			if !errors.Is(err, refused) || fiber.KindOf(err) != 0 {
				t.Errorf("%s: got %v, want the refusal", ep, err)
			}
			if err != nil && !strings.Contains(err.Error(), string(ep)) {
				t.Errorf("%s: error %q does not name the endpoint", ep, err)
			}
			assertNoKey(t, err)
		}
		if h.requests() != 0 {
			t.Errorf("%d requests sent", h.requests())
		}
	})
	t.Run("retry", func(t *testing.T) {
		h := &scripted{script: []answer{{status: 429}}}
		c, _ := newTestClient(t, h)
		r := fiber.NewRetrier(c, fiber.RetryConfig{Policy: fastRetries, Limiter: &fakeLimiter{waitErr: refused, failAfter: 2}})
		err := callR(testContext(t), r, fiber.EndpointStart)
		if !errors.Is(err, refused) || fiber.KindOf(err) != fiber.KindRateLimited {
			t.Errorf("got %v, want the 429 with the refusal in its chain", err)
		}
		if h.requests() != 1 {
			t.Errorf("%d requests sent, want 1", h.requests())
		}
	})
}

// TestRetryRespectsContext: no backoff outlasts the deadline, and a cancelled call is not
// retried.
func TestRetryRespectsContext(t *testing.T) {
	t.Run("backoff beyond deadline", func(t *testing.T) {
		h := &scripted{script: []answer{{status: 503}}}
		c, _ := newTestClient(t, h)
		r := fiber.NewRetrier(c, fiber.RetryConfig{Policy: fiber.RetryPolicy{MaxAttempts: 5, Base: 2 * time.Second}})
		ctx, cancel := context.WithTimeout(testContext(t), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := callR(ctx, r, fiber.EndpointPoll)
		if fiber.KindOf(err) != fiber.KindUnavailable || h.requests() != 1 {
			t.Errorf("got %v after %d requests, want the 503 after 1", err, h.requests())
		}
		if d := time.Since(start); d > 400*time.Millisecond {
			t.Errorf("returned after %v, want at once", d)
		}
	})
	t.Run("Retry-After beyond deadline", func(t *testing.T) {
		h := &scripted{script: []answer{{status: 429, retryAfter: "5"}, {status: http.StatusOK}}}
		c, _ := newTestClient(t, h)
		r := fiber.NewRetrier(c, fiber.RetryConfig{Policy: fastRetries})
		ctx, cancel := context.WithTimeout(testContext(t), time.Second)
		defer cancel()
		err := callR(ctx, r, fiber.EndpointStart)
		var fe *fiber.Error
		if !errors.As(err, &fe) || fe.Kind != fiber.KindRateLimited || fe.RetryAfter != 5*time.Second || h.requests() != 1 {
			t.Errorf("got %v after %d requests, want the 429 with Retry-After 5s after 1", err, h.requests())
		}
	})
	t.Run("Retry-After honoured", func(t *testing.T) {
		h := &scripted{script: []answer{{status: 429, retryAfter: "1"}, {status: http.StatusOK}}}
		c, _ := newTestClient(t, h)
		r := fiber.NewRetrier(c, fiber.RetryConfig{Policy: fastRetries})
		start := time.Now()
		if err := callR(testContext(t), r, fiber.EndpointCancel); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("retried after %v, want Retry-After's 1s", d)
		}
	})
	t.Run("cancelled while in flight", func(t *testing.T) {
		got := make(chan struct{}, 8)
		c, _ := newTestClient(t, blockingHandler(got))
		r := fiber.NewRetrier(c, fiber.RetryConfig{Policy: fastRetries})
		ctx, cancel := context.WithCancel(testContext(t))
		go func() {
			<-got
			cancel()
		}()
		err := callR(ctx, r, fiber.EndpointPoll)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		if n := len(got); n != 0 {
			t.Errorf("%d more requests after the cancel", n)
		}
	})
}

func TestNewRetrierNilClient(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewRetrier(nil) did not panic")
		}
	}()
	fiber.NewRetrier(nil, fiber.RetryConfig{})
}

// TestStartSentIsSeenThroughWhenTheCallerGoesAway: a caller that gives up while its start is
// at Fiber does not cut the start off: the Retrier waits for Fiber's answer and returns it, so
// the task can be recorded. A caller that gave up before anything was sent sends nothing.
func TestStartSentIsSeenThroughWhenTheCallerGoesAway(t *testing.T) {
	const startAnswer = `{"output":{"taskId":"t-1","numPeopleEnqueued":1},"chargeInfo":{"method":"charged-now","creditsCharged":5}}`
	t.Run("caller cancels after sending", func(t *testing.T) {
		arrived, release := make(chan struct{}), make(chan struct{})
		var requests atomic.Int32
		c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			io.Copy(io.Discard, r.Body)
			close(arrived)
			<-release // Fiber is slow; the caller goes away meanwhile
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, startAnswer)
		}))
		r := fiber.NewRetrier(c, fiber.RetryConfig{Policy: fastRetries, Limiter: &fakeLimiter{}})
		ctx, cancel := context.WithCancel(testContext(t))
		go func() {
			<-arrived
			cancel()
			close(release)
		}()
		resp, err := r.Start(ctx, testKey, fiber.StartRequest{LinkedInURLs: []string{"a"}})
		if err != nil || resp.TaskID != "t-1" || requests.Load() != 1 {
			t.Fatalf("got %+v, %v after %d requests; want Fiber's answer after one", resp, err, requests.Load())
		}
	})
	t.Run("caller gone before sending", func(t *testing.T) {
		h := &scripted{script: []answer{{status: http.StatusOK}}}
		c, _ := newTestClient(t, h)
		r := fiber.NewRetrier(c, fiber.RetryConfig{Policy: fastRetries})
		ctx, cancel := context.WithCancel(testContext(t))
		cancel()
		_, err := r.Start(ctx, testKey, fiber.StartRequest{LinkedInURLs: []string{"a"}})
		if !errors.Is(err, context.Canceled) || h.requests() != 0 {
			t.Fatalf("got %v after %d requests, want context.Canceled and none sent", err, h.requests())
		}
	})
}
