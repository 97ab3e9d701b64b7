package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/health"
	"github.com/fibergate/fibergate/internal/storage"
)

var errRefused = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

// fakeHealth is a StoreHealth whose verdicts the test sets: Up answers up; Failed marks an
// error unavailable when down is true.
type fakeHealth struct {
	mu       sync.Mutex // guards up, down, failures
	up, down bool
	failures []error // the errors Failed was given
}

func (h *fakeHealth) Up() (bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.up, nil
}

func (h *fakeHealth) Failed(_ context.Context, err error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures = append(h.failures, err)
	if h.down {
		return fmt.Errorf("%w: %w", health.ErrStoreUnavailable, err)
	}
	return err
}

// refusingRequests is a RequestStore whose claims fail with errRefused.
type refusingRequests struct{ RequestStore }

func (refusingRequests) ClaimRequest(context.Context, storage.Request, time.Duration) (storage.Request, bool, error) {
	return storage.Request{}, false, errRefused
}

// countingStarter counts the starts it is given; it fails them all with err.
type countingStarter struct {
	err    error
	mu     sync.Mutex // guards starts
	starts int
}

func (c *countingStarter) Start(context.Context, string, fiber.StartRequest) (*fiber.StartResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starts++
	return nil, c.err
}

// TestStartBatchSendsNothingWhileTheStoreIsDown: a start, with a request id or without, is
// refused with ErrStoreUnavailable while the store is known down, and so is one whose claim
// of its request id fails and finds the store down; neither reaches the Fiber client. A claim
// that fails while the store answers keeps its error. A start the client refuses before
// sending for a reason of its own (the budget could not book it in the store) is
// ErrStoreUnavailable if the store is found down; Fiber's own errors are never.
func TestStartBatchSendsNothingWhileTheStoreIsDown(t *testing.T) {
	req := func(id string) *cdv1.StartBatchRequest {
		return &cdv1.StartBatchRequest{RequestId: id, PersonDetails: []*cdv1.PersonDetails{
			{LinkedinUrl: &cdv1.LinkedInUrl{Value: "https://www.linkedin.com/in/jake"}},
		}}
	}
	const id = "7d444840-9dc0-11d1-b245-5ffdce74fad2"
	fiberDown := &fiber.Error{Kind: fiber.KindUnavailable, Endpoint: fiber.EndpointStart, Message: "connection refused"}
	tests := []struct {
		name       string
		up, down   bool
		req        *cdv1.StartBatchRequest
		starterErr error // what the Fiber client answers
		want       error // matched with errors.Is
		starts     int   // starts given to the Fiber client
		failures   int   // calls of Failed
	}{
		{"known down, no request id", false, true, req(""), nil, health.ErrStoreUnavailable, 0, 0},
		{"known down, a request id", false, true, req(id), nil, health.ErrStoreUnavailable, 0, 0},
		{"the claim finds it down", true, true, req(id), nil, health.ErrStoreUnavailable, 0, 1},
		{"the claim fails, the store answers", true, false, req(id), nil, errRefused, 0, 1},
		{"the budget cannot book it, the store is down", true, true, req(""), errRefused, health.ErrStoreUnavailable, 1, 1},
		{"the budget cannot book it, the store answers", true, false, req(""), errRefused, errRefused, 1, 1},
		{"Fiber cannot be reached", true, true, req(""), fiberDown, fiberDown, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &fakeHealth{up: tt.up, down: tt.down}
			starter := &countingStarter{err: tt.starterErr}
			svc := New(Config{
				Fiber: starter, Requests: refusingRequests{}, Health: h,
				DefaultAPIKey: "sk-test", Logger: slog.New(slog.DiscardHandler),
			})
			_, err := svc.StartBatch(t.Context(), tt.req)
			if !errors.Is(err, tt.want) {
				t.Errorf("StartBatch: %v, want %v", err, tt.want)
			}
			if tt.want != health.ErrStoreUnavailable && errors.Is(err, health.ErrStoreUnavailable) {
				t.Errorf("StartBatch: %v, want no ErrStoreUnavailable", err)
			}
			if starter.starts != tt.starts {
				t.Errorf("%d starts given to the Fiber client, want %d", starter.starts, tt.starts)
			}
			if len(h.failures) != tt.failures || (tt.failures > 0 && !errors.Is(h.failures[0], errRefused)) {
				t.Errorf("Failed was told of %v, want %d failures of the claim", h.failures, tt.failures)
			}
		})
	}
}
