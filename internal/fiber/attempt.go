package fiber

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
)

// ErrAttemptTimeout is the cause (Error.Err) of a failure due to the per-attempt timeout of
// WithTimeout. It is deliberately not context.DeadlineExceeded: errors.Is(err,
// context.DeadlineExceeded) holds only when the caller's own context ran out.
var ErrAttemptTimeout = errors.New("attempt timed out")

// attempt sends reqBody, encoded as JSON, to ep once and returns the body and status of a 2xx
// answer. Any other outcome is an error: the caller's context error, wrapped, when the request
// was not sent; otherwise an *Error. It is the Client's only HTTP call: one Client call is one
// attempt, and the Retrier's retries are further Client calls.
func (c *Client) attempt(ctx context.Context, ep Endpoint, apiKey string, reqBody any) ([]byte, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("fiber %s: %w", ep, err)
	}
	body, err := json.Marshal(reqBody)
	if err != nil {
		return nil, 0, &Error{Kind: KindUnavailable, Endpoint: ep, Message: "cannot encode request", Err: sanitize(err, apiKey)}
	}

	actx, cancel := ctx, context.CancelFunc(func() {})
	if c.timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	defer cancel()

	tr := &sendTrace{}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(actx, tr.clientTrace()),
		http.MethodPost, c.urls[ep], bytes.NewReader(body))
	if err != nil {
		return nil, 0, &Error{Kind: KindUnavailable, Endpoint: ep, Message: "cannot build request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, c.sendError(ctx, actx, ep, apiKey, tr, err)
	}
	defer resp.Body.Close()

	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	tooLarge := len(data) > maxResponseBytes
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if readErr != nil || tooLarge {
			data = nil // the status alone decides; the message is built from it
		}
		return nil, resp.StatusCode, statusError(ep, apiKey, resp.StatusCode, resp.Header, data)
	}
	if readErr != nil {
		return nil, resp.StatusCode, &Error{
			Kind:       KindOutcomeUnknown,
			Endpoint:   ep,
			StatusCode: resp.StatusCode,
			Message:    "answer cut off while reading its body",
			Err:        c.cause(ctx, actx, apiKey, readErr),
		}
	}
	if tooLarge {
		return nil, resp.StatusCode, undecodable(ep, resp.StatusCode, "response body exceeds 32 MiB", nil)
	}
	return data, resp.StatusCode, nil
}

// sendError turns a failure of http.Client.Do into the error attempt returns.
func (c *Client) sendError(ctx, actx context.Context, ep Endpoint, apiKey string, tr *sendTrace, err error) error {
	maybeSent, connected := tr.state()
	if !maybeSent && ctx.Err() != nil {
		return fmt.Errorf("fiber %s: %w", ep, ctx.Err())
	}
	e := &Error{Endpoint: ep, Err: c.cause(ctx, actx, apiKey, err)}
	switch {
	case maybeSent:
		e.Kind, e.Message = KindOutcomeUnknown, "request may have been sent, no answer arrived"
	case connected:
		e.Kind, e.Message = KindUnavailable, "connection failed before the request was sent"
	default:
		e.Kind, e.Message = KindUnavailable, "could not connect"
	}
	return e
}

// cause picks the underlying cause of a failed attempt: the caller's context error when it
// ended, ErrAttemptTimeout when the attempt's own deadline passed, else err with the key
// redacted.
func (c *Client) cause(ctx, actx context.Context, apiKey string, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case actx.Err() != nil:
		return fmt.Errorf("%w after %v", ErrAttemptTimeout, c.timeout)
	}
	return sanitize(err, apiKey)
}

// undecodable reports a complete 2xx answer that could not be used. For a start the task may
// nevertheless exist (and be charged), so the outcome is unknown; for poll and cancel the
// answer is simply malformed.
func undecodable(ep Endpoint, status int, msg string, err error) *Error {
	kind := KindProtocol
	if ep == EndpointStart {
		kind = KindOutcomeUnknown
	}
	return &Error{Kind: kind, Endpoint: ep, StatusCode: status, Message: msg, Err: err}
}

// sendTrace records, through httptrace, how far a request got. Its callbacks may run on
// transport goroutines, hence the mutex.
type sendTrace struct {
	mu           sync.Mutex // guards the fields below
	traced       bool       // the transport reported at least GetConn
	connected    bool       // a connection was obtained (in the current round)
	wroteHeaders bool       // the headers were written (in the current round)
	writeFailed  bool       // writing failed (in the current round): the request is incomplete
	wrote        bool       // some round wrote the whole request; sticky
}

// clientTrace returns the hooks that feed t.
func (t *sendTrace) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) {
			t.mu.Lock()
			defer t.mu.Unlock()
			// The transport may retry a request it knows was not sent; each round starts here.
			t.traced, t.connected, t.wroteHeaders, t.writeFailed = true, false, false, false
		},
		GotConn: func(httptrace.GotConnInfo) {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.connected = true
		},
		WroteHeaders: func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.wroteHeaders = true
		},
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			t.mu.Lock()
			defer t.mu.Unlock()
			if info.Err != nil {
				t.writeFailed = true
			} else {
				t.wrote = true
			}
		},
	}
}

// state tells whether the request may have reached the server, and whether a connection was
// obtained. Both are conservative: a request counts as maybe sent once its headers went out,
// unless the transport then reported that writing it failed, and always when the transport
// reported nothing at all.
func (t *sendTrace) state() (maybeSent, connected bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	maybeSent = !t.traced || t.wrote || (t.wroteHeaders && !t.writeFailed)
	return maybeSent, t.connected
}
