package fiberfake

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Handler returns the HTTP handler of the three API endpoints, at their
// documented paths. Another path answers 404 and a method other than POST 405,
// both with a {"message"} body; a body over Config.MaxBodyBytes answers 413.
// The handler is safe for concurrent use.
//
// The drop-connection faults need a connection to hijack (an HTTP/1 server);
// elsewhere they panic with http.ErrAbortHandler, which net/http servers treat
// as an abort.
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serveAPI) }

// serveAPI runs one call: route, count, apply a fault, do the work, answer.
func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request) {
	ep, ok := endpointOf(r.URL.Path)
	if !ok {
		errorReply(http.StatusNotFound, "not found: "+r.URL.Path).write(w)
		return
	}
	s.arrive(ep)
	if r.Method != http.MethodPost {
		rep := errorReply(http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: use POST")
		rep.header.Set("Allow", http.MethodPost)
		s.send(w, ep, rep, "")
		return
	}
	f, faulted := s.takeFault(ep)
	if !faulted {
		s.send(w, ep, s.process(ep, w, r), "")
		return
	}
	if f.Kind == FaultSlowBody {
		s.slowBody(w, r, ep, f)
		return
	}
	if err := s.sleep(r.Context(), f.Delay); err != nil {
		s.cfg.Logger.Debug("fiberfake call abandoned during injected delay", "endpoint", ep)
		return
	}
	switch f.Kind {
	case FaultStatus:
		rep := errorReply(f.Status, f.message())
		if f.RetryAfter > 0 {
			rep.header.Set("Retry-After", retryAfterSeconds(f.RetryAfter))
		}
		s.send(w, ep, rep, f.Kind)
	case FaultDropBefore:
		s.dropped(w, ep, f.Kind)
	case FaultDropAfter:
		_ = s.process(ep, w, r)
		s.dropped(w, ep, f.Kind)
	case FaultBrokenBody:
		rep := s.process(ep, w, r)
		rep.status = http.StatusOK
		rep.body = rep.body[:max(len(rep.body)/2, 1)]
		s.send(w, ep, rep, f.Kind)
	default: // FaultDelay: the delay is all
		s.send(w, ep, s.process(ep, w, r), f.Kind)
	}
}

// slowBody does the work and answers with a body that stalls halfway for f.Delay.
func (s *Sim) slowBody(w http.ResponseWriter, r *http.Request, ep Endpoint, f Fault) {
	rep := s.process(ep, w, r)
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	half := len(rep.body) / 2
	_, _ = w.Write(rep.body[:half])
	_ = http.NewResponseController(w).Flush()
	s.record(ep, rep.status, f.Kind)
	if err := s.sleep(r.Context(), f.Delay); err != nil {
		s.cfg.Logger.Debug("fiberfake caller left during a stalled body", "endpoint", ep)
		return
	}
	_, _ = w.Write(rep.body[half:])
	s.cfg.Logger.Debug("fiberfake call", "endpoint", ep, "status", rep.status, "fault", f.Kind)
}

// process reads the body and does the endpoint's work.
func (s *Sim) process(ep Endpoint, w http.ResponseWriter, r *http.Request) reply {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return errorReply(http.StatusRequestEntityTooLarge, "request body is larger than the limit")
		}
		return errorReply(http.StatusBadRequest, "could not read the request body")
	}
	var rerr *reqError
	var rep reply
	switch ep {
	case EndpointStart:
		rep, rerr = s.start(body)
	case EndpointPoll:
		rep, rerr = s.poll(body)
	default:
		rep, rerr = s.cancel(body)
	}
	if rerr != nil {
		return errorReplyFor(rerr)
	}
	return rep
}

// errorReplyFor turns a refused request into its answer.
func errorReplyFor(e *reqError) reply {
	rep := jsonReply(e.status, errorBody{Message: e.msg, OutOfCreditsAlert: e.alert})
	if e.retryAfter > 0 {
		rep.header.Set("Retry-After", retryAfterSeconds(e.retryAfter))
	}
	return rep
}

// send writes rep and records it.
func (s *Sim) send(w http.ResponseWriter, ep Endpoint, rep reply, kind FaultKind) {
	rep.write(w)
	s.record(ep, rep.status, kind)
	s.cfg.Logger.Debug("fiberfake call", "endpoint", ep, "status", rep.status, "fault", kind)
}

// dropped closes the connection without an answer and records it.
func (s *Sim) dropped(w http.ResponseWriter, ep Endpoint, kind FaultKind) {
	s.record(ep, 0, kind)
	s.cfg.Logger.Debug("fiberfake call dropped", "endpoint", ep, "fault", kind)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// sleep waits d. It returns early with nil when the Sim is closed, and with
// the context's error when the caller has gone.
func (s *Sim) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.closed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
