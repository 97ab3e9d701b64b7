package fiberfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// FaultKind is what an injected fault does to a call.
type FaultKind string

// The fault kinds. Every kind but FaultSlowBody first waits Fault.Delay.
const (
	// FaultStatus answers Fault.Status with {"message": Fault.Message}
	// without doing any work (nothing is started, charged or counted by the
	// rate limiter), plus a Retry-After header when Fault.RetryAfter > 0.
	FaultStatus FaultKind = "status"
	// FaultDelay only waits Fault.Delay, then the call proceeds normally.
	FaultDelay FaultKind = "delay"
	// FaultBrokenBody does the work (a start really starts and charges), then
	// answers 200 with the first half of the real body: truncated JSON.
	FaultBrokenBody FaultKind = "broken-body"
	// FaultDropBefore closes the connection without reading the request or
	// doing any work.
	FaultDropBefore FaultKind = "drop-before"
	// FaultDropAfter does the work (a start really starts and charges), then
	// closes the connection without answering: the caller cannot know the
	// outcome.
	FaultDropAfter FaultKind = "drop-after"
	// FaultSlowBody does the work (a start really starts and charges), sends
	// the status, the headers and the first half of the body at once, then
	// waits Fault.Delay before the rest: an answer that begins but stalls.
	FaultSlowBody FaultKind = "slow-body"
)

// Fault is an injected misbehaviour. Faults are consumed in the order they
// were injected: a call takes the first one whose Endpoint matches.
type Fault struct {
	// Endpoint is the endpoint affected; empty means every endpoint.
	Endpoint Endpoint
	// Kind is what happens.
	Kind FaultKind
	// Status is the answer of FaultStatus, 400 to 599.
	Status int
	// Message is the body message of FaultStatus; empty means a generic one.
	Message string
	// RetryAfter, when positive, adds a Retry-After header (whole seconds,
	// rounded up) to FaultStatus.
	RetryAfter time.Duration
	// Delay is how long the call waits before the fault acts. The wait ends
	// early when the Sim is closed (then the call goes on). It ends when the
	// caller goes away (then nothing is answered) during FaultSlowBody's
	// stall, and before the other kinds act only for a call without a request
	// body: net/http notices a caller gone once the body has been read, so a
	// call with a body waits the delay out and goes on as if the caller were
	// there. Outside a synctest bubble the wait is real: use small values in
	// tests.
	Delay time.Duration
	// Count is how many calls the fault affects; 0 means every call until
	// ClearFaults.
	Count int
}

// faultJSON is Fault on the wire of the admin handler: durations are Go
// duration strings such as "250ms".
type faultJSON struct {
	Endpoint   Endpoint  `json:"endpoint,omitempty"`
	Kind       FaultKind `json:"kind"`
	Status     int       `json:"status,omitempty"`
	Message    string    `json:"message,omitempty"`
	RetryAfter string    `json:"retryAfter,omitempty"`
	Delay      string    `json:"delay,omitempty"`
	Count      int       `json:"count,omitempty"`
}

// MarshalJSON writes f with lowerCamelCase keys and durations as strings.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Endpoint: f.Endpoint, Kind: f.Kind, Status: f.Status, Message: f.Message, Count: f.Count}
	if f.RetryAfter != 0 {
		j.RetryAfter = f.RetryAfter.String()
	}
	if f.Delay != 0 {
		j.Delay = f.Delay.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := Fault{Endpoint: j.Endpoint, Kind: j.Kind, Status: j.Status, Message: j.Message, Count: j.Count}
	for _, d := range []struct {
		s   string
		dst *time.Duration
	}{{j.RetryAfter, &out.RetryAfter}, {j.Delay, &out.Delay}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil {
			return fmt.Errorf("fault duration: %w", err)
		}
		*d.dst = v
	}
	*f = out
	return nil
}

// validate reports what is wrong with f.
func (f Fault) validate() error {
	if f.Endpoint != "" && !slices.Contains(Endpoints(), f.Endpoint) {
		return fmt.Errorf("unknown endpoint %q", f.Endpoint)
	}
	switch f.Kind {
	case FaultStatus:
		if f.Status < 400 || f.Status > 599 {
			return fmt.Errorf("status fault needs a status from 400 to 599, not %d", f.Status)
		}
	case FaultDelay, FaultBrokenBody, FaultDropBefore, FaultDropAfter, FaultSlowBody:
	default:
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	if f.Count < 0 || f.Delay < 0 || f.RetryAfter < 0 {
		return fmt.Errorf("count, delay and retryAfter must not be negative")
	}
	return nil
}

// message is the body message of a status fault.
func (f Fault) message() string {
	if f.Message != "" {
		return f.Message
	}
	return fmt.Sprintf("injected fault: %d %s", f.Status, http.StatusText(f.Status))
}

// InjectFault queues f behind the faults already injected. It fails when f is
// not valid (unknown kind or endpoint, status outside 400-599, negative
// values).
func (s *Sim) InjectFault(f Fault) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("fiberfake: inject fault: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
	return nil
}

// ClearFaults removes every injected fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Faults returns the faults still queued, with the calls they have left in
// Count.
func (s *Sim) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, *f)
	}
	return out
}

// takeFault consumes one call of the first fault matching ep.
func (s *Sim) takeFault(ep Endpoint) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Endpoint != "" && f.Endpoint != ep {
			continue
		}
		taken := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return taken, true
	}
	return Fault{}, false
}
