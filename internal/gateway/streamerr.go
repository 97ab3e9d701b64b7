package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// streamErrors makes a server stream (WatchTask) that fails before its first message answer
// like a unary call: the HTTP status of the error's code and the body {"code", "message",
// "details"}, through errorHandler (so with Retry-After, the 401 challenge, ...). Once a
// message has been sent the status is 200 for good, and an error comes as grpc-gateway's last
// line {"error": {...}}.
//
// grpc-gateway writes a stream's error itself, after asking the stream error handler for the
// status; the middleware wraps the ResponseWriter of each streaming route so that the
// handler can tell whether anything was written yet, answer on the real ResponseWriter if
// not, and have grpc-gateway's own error writes dropped.
type streamErrors struct {
	routes map[string]bool   // "GET /v1/x/{id=*}:watch" of each server-streaming method
	mux    *runtime.ServeMux // for the unary answer; set by New before serving
}

// newStreamErrors reads the routes of the service's server-streaming methods.
func newStreamErrors() (*streamErrors, error) {
	sd := cdv1.File_fibergate_contactdetails_v1_contact_details_proto.Services().ByName("ContactDetailsService")
	if sd == nil {
		return nil, errors.New("gateway: service descriptor not found")
	}
	se := &streamErrors{routes: map[string]bool{}}
	methods := sd.Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		if !m.IsStreamingServer() {
			continue
		}
		rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
		if get := rule.GetGet(); get != "" {
			// runtime.Pattern.String writes a variable {x} as {x=*}.
			se.routes[http.MethodGet+" "+templateVar.ReplaceAllString(get, "{$1=*}")] = true
		}
	}
	return se, nil
}

type streamStartKey struct{}

// middleware wraps the ResponseWriter of every streaming route in a streamStart, also put in
// the request's context for handler.
func (se *streamErrors) middleware(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		pattern, _ := runtime.HTTPPattern(r.Context())
		if !se.routes[r.Method+" "+pattern.String()] {
			next(w, r, params)
			return
		}
		ss := &streamStart{ResponseWriter: w}
		ss.r = r.WithContext(context.WithValue(r.Context(), streamStartKey{}, ss))
		next(ss, ss.r, params)
	}
}

// handler is the mux's stream error handler. Before the first message it answers the request
// like a unary call and returns the status for grpc-gateway's writes, which are dropped;
// afterwards it only returns the status, which grpc-gateway writes as the last line.
func (se *streamErrors) handler(ctx context.Context, err error) *status.Status {
	if ss, _ := ctx.Value(streamStartKey{}).(*streamStart); ss != nil && !ss.wrote && !ss.answered {
		ss.answered = true
		// Set by grpc-gateway for the stream; the unary answer has a length.
		ss.ResponseWriter.Header().Del("Transfer-Encoding")
		writeError(se.mux, ss.ResponseWriter, ss.r, err)
	}
	return status.Convert(err)
}

// streamStart is the ResponseWriter of a server stream: it records whether the stream has
// written, and drops every write once the error was answered like a unary call. It is used
// by the request's goroutine alone.
type streamStart struct {
	http.ResponseWriter
	r        *http.Request
	wrote    bool // a message went out: the status is 200 for good
	answered bool // the error was answered on ResponseWriter: writes are dropped
}

func (s *streamStart) WriteHeader(code int) {
	if !s.answered {
		s.ResponseWriter.WriteHeader(code)
	}
}

func (s *streamStart) Write(b []byte) (int, error) {
	if s.answered {
		return len(b), nil
	}
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController flush the stream's messages.
func (s *streamStart) Unwrap() http.ResponseWriter { return s.ResponseWriter }
