package fiber

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// Limiter keeps the upstream rate limits. The Retrier calls Wait before every attempt, retries
// included, Sent once the attempt's request is written, Done once its answer begins to arrive or
// the attempt ends (always, after every granted Wait), and Penalize after every 429.
// *budget.Limiter implements it.
type Limiter interface {
	// Wait blocks until a request of key keyID to ep may be sent, and consumes that slot. An
	// error means the request must not be sent.
	Wait(ctx context.Context, keyID string, ep Endpoint) error
	// Sent reports that the request of a granted Wait was just written in full, so that its
	// departure can be counted from then rather than from the grant.
	Sent(keyID string, ep Endpoint)
	// Done reports that the answer to the request of a granted Wait began to arrive, or that
	// the attempt ended without one, so that its arrival at Fiber is known to be no later.
	Done(keyID string, ep Endpoint)
	// Penalize reports a 429 to a request of keyID at ep, with Fiber's Retry-After or 0.
	Penalize(keyID string, ep Endpoint, retryAfter time.Duration)
}

// RetryPolicy bounds the retries of one call: at most MaxAttempts attempts in all, the n-th
// retry waiting Base doubled n-1 times, at most Cap, of which the upper half is drawn at random.
// MaxAttempts 1 disables retries.
type RetryPolicy struct {
	MaxAttempts int           // zero means DefaultMaxAttempts
	Base        time.Duration // zero means DefaultRetryBase
	Cap         time.Duration // zero means DefaultRetryCap, or Base when that is larger
}

// The values that zero RetryPolicy fields stand for.
const (
	DefaultMaxAttempts = 4
	DefaultRetryBase   = 250 * time.Millisecond
	DefaultRetryCap    = 5 * time.Second
)

// RetryConfig configures a Retrier.
type RetryConfig struct {
	// Policy bounds the retries; see RetryPolicy for its zero fields.
	Policy RetryPolicy

	// Limiter, when not nil, is waited on before every attempt and told of every 429; a 429 is
	// then retried as soon as the Limiter grants a slot, since its pause covers Retry-After.
	// Without one, a 429 is retried after Retry-After, or the backoff when Fiber sent none.
	Limiter Limiter

	// OnAttempt, when not nil, is called after every attempt (retries included) with its
	// endpoint, its error (nil on success) and how long it took, for metrics. It must be safe
	// for concurrent use and quick.
	OnAttempt func(ep Endpoint, err error, took time.Duration)
}

// Retrier calls Fiber through a Client, spending the rate limits of a Limiter and retrying what
// is safe to retry. It has the Client's Start, Poll and Cancel methods, so it can stand in
// wherever one is used; the Client itself stays one HTTP attempt per call. A Retrier is safe for
// concurrent use.
//
// What is retried, with capped exponential backoff with jitter, within MaxAttempts and ctx:
//   - Poll and Cancel, which are idempotent: on 429, on KindUnavailable (5xx, or not sent) and
//     on KindOutcomeUnknown. A cancel whose first attempt took effect may then answer 422, as
//     the task is no longer cancellable; polling the task tells.
//   - Start, which costs credits, only when Fiber surely did not act on it: on 429, and on
//     KindUnavailable, which the Client reports for a start only when the request was surely
//     never written (connection refused or lost before sending). KindOutcomeUnknown (no
//     answer, or a 5xx) may hide a created task: it is returned as is, for the caller to
//     record for reconciliation.
//
// A retry is not attempted when the backoff would outlast ctx's deadline. Errors come back as
// the Client returns them; when the Limiter refuses a retry (a *budget.WaitError, or ctx ended
// while queued), the last upstream error is returned with the refusal also in its chain.
type Retrier struct {
	c         *Client
	policy    RetryPolicy
	lim       Limiter
	onAttempt func(ep Endpoint, err error, took time.Duration)
}

// NewRetrier returns a Retrier that calls Fiber through c. It panics if c is nil.
func NewRetrier(c *Client, cfg RetryConfig) *Retrier {
	if c == nil {
		panic("fiber: NewRetrier with a nil Client")
	}
	p := cfg.Policy
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.Base <= 0 {
		p.Base = DefaultRetryBase
	}
	if p.Cap <= 0 {
		p.Cap = DefaultRetryCap
	}
	p.Cap = max(p.Cap, p.Base)
	return &Retrier{c: c, policy: p, lim: cfg.Limiter, onAttempt: cfg.OnAttempt}
}

// Start starts a batch like Client.Start, waiting for the start budget and retrying only
// starts that Fiber surely did not act on.
//
// ctx bounds the wait for the budget, and nothing is sent once it has ended. An attempt that
// is sent, though, is seen through to Fiber's answer (bounded by the Client's per-attempt
// timeout, WithTimeout) even if ctx ends meanwhile: a start cut off mid-way may have been
// paid for, and its task could then be neither recorded nor followed.
func (r *Retrier) Start(ctx context.Context, apiKey string, req StartRequest) (*StartResponse, error) {
	var resp *StartResponse
	err := r.do(ctx, EndpointStart, KeyID(apiKey), func(actx context.Context) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("fiber %s: %w", EndpointStart, err) // given up before sending
		}
		var err error
		resp, err = r.c.Start(context.WithoutCancel(actx), apiKey, req)
		return err
	})
	return resp, err
}

// Poll polls a task like Client.Poll, waiting for the poll budget and retrying failures.
func (r *Retrier) Poll(ctx context.Context, apiKey string, req PollRequest) (*PollResponse, error) {
	var resp *PollResponse
	err := r.do(ctx, EndpointPoll, KeyID(apiKey), func(ctx context.Context) error {
		var err error
		resp, err = r.c.Poll(ctx, apiKey, req)
		return err
	})
	return resp, err
}

// Cancel cancels a task like Client.Cancel, waiting for the cancel budget and retrying
// failures. When an attempt that may have reached Fiber got no usable answer and a retry is
// then refused with 422 (the task is no longer cancellable), the first attempt may well have
// cancelled it: the error is then KindOutcomeUnknown, not Fiber's 422.
func (r *Retrier) Cancel(ctx context.Context, apiKey, taskID string) (*CancelResponse, error) {
	var (
		resp         *CancelResponse
		mayHaveActed bool // an attempt before the current one may have cancelled the task
		earlier      bool
	)
	err := r.do(ctx, EndpointCancel, KeyID(apiKey), func(ctx context.Context) error {
		mayHaveActed = mayHaveActed || earlier
		var err error
		resp, err = r.c.Cancel(ctx, apiKey, taskID)
		var fe *Error
		earlier = errors.As(err, &fe) && (fe.Kind == KindOutcomeUnknown || fe.Kind == KindUnavailable && fe.StatusCode >= 500)
		return err
	})
	var fe *Error
	if mayHaveActed && errors.As(err, &fe) && fe.StatusCode == http.StatusUnprocessableEntity {
		return nil, &Error{Kind: KindOutcomeUnknown, Endpoint: EndpointCancel, StatusCode: fe.StatusCode,
			Message: "an earlier attempt may have cancelled the task; Fiber now says: " + fe.Message, Err: err}
	}
	return resp, err
}

// do runs attempt until it succeeds or must not be retried.
func (r *Retrier) do(ctx context.Context, ep Endpoint, keyID string, attempt func(context.Context) error) error {
	var last error
	for n := 1; ; n++ {
		if r.lim != nil {
			if err := r.lim.Wait(ctx, keyID, ep); err != nil {
				if last != nil {
					return fmt.Errorf("%w (not retried: %w)", last, err)
				}
				return fmt.Errorf("fiber %s: %w", ep, err)
			}
		}
		began := time.Now()
		err := r.attempt(ctx, keyID, ep, attempt)
		if r.onAttempt != nil {
			r.onAttempt(ep, err, time.Since(began))
		}
		if err == nil {
			return nil
		}
		var fe *Error
		if !errors.As(err, &fe) {
			return err // the context ended before sending
		}
		if fe.Kind == KindRateLimited && r.lim != nil {
			r.lim.Penalize(keyID, ep, fe.RetryAfter)
		}
		if n >= r.policy.MaxAttempts || !retryable(ep, fe) || ctx.Err() != nil {
			return err
		}
		last = err
		delay := backoff(r.policy, n)
		if fe.Kind == KindRateLimited {
			switch {
			case r.lim != nil:
				delay = 0 // the Limiter's pause holds every request of the bucket
			case fe.RetryAfter > 0:
				delay = fe.RetryAfter
			}
		}
		if !sleep(ctx, delay) {
			return err
		}
	}
}

// attempt runs one attempt with a trace that reports to the Limiter when the request has been
// written (Sent) and when the first byte of the answer came (Done); an attempt that ends
// without an answer reports Done when it returns. The Client's own trace, added on top,
// composes with it.
func (r *Retrier) attempt(ctx context.Context, keyID string, ep Endpoint, attempt func(context.Context) error) error {
	if r.lim == nil {
		return attempt(ctx)
	}
	var sent, done sync.Once
	reportDone := func() { done.Do(func() { r.lim.Done(keyID, ep) }) }
	defer reportDone()
	return attempt(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				sent.Do(func() { r.lim.Sent(keyID, ep) })
			}
		},
		GotFirstResponseByte: reportDone,
	}))
}

// retryable reports whether a failed attempt of ep may be repeated.
func retryable(ep Endpoint, fe *Error) bool {
	if errors.Is(fe, context.Canceled) || errors.Is(fe, context.DeadlineExceeded) {
		return false // the caller gave up
	}
	switch fe.Kind {
	case KindRateLimited:
		return true // Fiber refused it before doing anything
	case KindUnavailable:
		return true // a start is KindUnavailable only when surely never sent
	case KindOutcomeUnknown:
		return ep != EndpointStart
	}
	return false
}

// backoff returns the pause before retry n (1-based): Base doubled n-1 times, at most Cap,
// with equal jitter (a uniform draw from its upper half).
func backoff(p RetryPolicy, n int) time.Duration {
	d := p.Cap
	if n-1 < 62 && p.Base <= p.Cap>>(n-1) {
		d = p.Base << (n - 1)
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleep waits d and reports true, or returns false at once when ctx would end first, or when it
// ends during the wait.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
