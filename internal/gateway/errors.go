package gateway

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibergate/fibergate/internal/apierr"
)

// routingErrorHandler answers requests that match no route, in the same format as every
// other error: 404 for an unknown path, 405 for a known path with another method.
func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	var err error
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		err = apierr.New(codes.Unimplemented, apierr.ReasonMethodNotAllowed, fmt.Sprintf("method %s is not allowed on this path", r.Method), nil)
	case http.StatusNotFound:
		err = apierr.New(codes.NotFound, apierr.ReasonRouteNotFound, "no such route", nil)
	default:
		// grpc-gateway says 400 for a request target it cannot route at all, such as one not
		// starting with "/": the violation is of the path.
		err = apierr.New(codes.InvalidArgument, apierr.ReasonBadRequest, http.StatusText(httpStatus), nil,
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
				Field: "path", Description: "the request path matches no route: " + http.StatusText(httpStatus), Reason: apierr.ReasonBadRequest,
			}}})
	}
	errorHandler(ctx, mux, m, w, r, err)
}

// errBodyTooLarge answers a body larger than max bytes: 413 (see errorHandler).
func errBodyTooLarge(max int64) error {
	return apierr.New(codes.ResourceExhausted, apierr.ReasonBodyTooLarge, fmt.Sprintf("request body larger than %d bytes", max),
		map[string]string{apierr.MetaMaxBytes: strconv.FormatInt(max, 10)})
}

// writeError answers a request the generated handlers never saw, in the gateway's format and
// with its marshaler.
func writeError(mux *runtime.ServeMux, w http.ResponseWriter, r *http.Request, err error) {
	_, out := runtime.MarshalerForRequest(mux, r)
	errorHandler(r.Context(), mux, out, w, r, err)
}

// errorHandler is runtime.DefaultHTTPErrorHandler plus: an ErrorInfo on every error, 413 for
// an oversized body, 405 for a method a path does not take, and a Retry-After header (whole
// seconds, rounded up) when the status carries a RetryInfo. Statuses that came back from the
// gRPC service, and the gateway's own, already carry their ErrorInfo and pass ToStatus
// unchanged; only those grpc-gateway makes itself, such as for a bad query parameter, get
// theirs here.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	err = apierr.ToStatus(queryParamError(err))
	st := status.Convert(err)
	code := 0
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			switch d.GetReason() {
			case apierr.ReasonBodyTooLarge:
				code = http.StatusRequestEntityTooLarge
			case apierr.ReasonMethodNotAllowed:
				code = http.StatusMethodNotAllowed
			}
		case *errdetails.RetryInfo:
			secs := math.Ceil(d.GetRetryDelay().AsDuration().Seconds())
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(secs))))
		}
	}
	if code != 0 {
		w = &statusOverride{ResponseWriter: w, code: code}
	}
	w = withChallenge(w, r, st)
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// statusOverride replaces the status code the default handler writes.
type statusOverride struct {
	http.ResponseWriter
	code int
}

func (s *statusOverride) WriteHeader(int) { s.ResponseWriter.WriteHeader(s.code) }

// queryParamPrefix matches grpc-gateway's message for a query parameter it cannot parse.
var queryParamPrefix = regexp.MustCompile(`^parsing field "([a-z0-9_.]+)": `)

// queryParamError turns grpc-gateway's bare INVALID_ARGUMENT for a bad query parameter (e.g.
// ?pageSize=abc) into one with a BadRequest naming the parameter by its JSON name.
func queryParamError(err error) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument || len(st.Details()) > 0 {
		return err
	}
	m := queryParamPrefix.FindStringSubmatch(st.Message())
	if m == nil {
		return err
	}
	field := lowerCamel(m[1])
	return apierr.BadRequest(field, "cannot parse the query parameter: "+st.Message()[len(m[0]):], "query.parse")
}

// lowerCamel maps a proto field path to its JSON names ("page_size" -> "pageSize").
func lowerCamel(path string) string {
	var b strings.Builder
	upper := false
	for _, r := range path {
		if r == '_' {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
		}
		upper = false
		b.WriteRune(r)
	}
	return b.String()
}
