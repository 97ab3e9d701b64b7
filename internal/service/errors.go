package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fibergate/fibergate/internal/auth"
	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/tasks"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of every fibergate error.
const ErrorDomain = "fibergate"

// ErrorInfo reasons. They are part of the API: clients switch on them.
const (
	ReasonValidationFailed       = "VALIDATION_FAILED"
	ReasonFiberAPIKeyMissing     = "FIBER_API_KEY_MISSING"
	ReasonUpstreamBadRequest     = "UPSTREAM_INVALID_ARGUMENT"
	ReasonUpstreamUnauthorized   = "UPSTREAM_UNAUTHENTICATED"
	ReasonUpstreamOutOfCredits   = "UPSTREAM_OUT_OF_CREDITS"
	ReasonUpstreamForbidden      = "UPSTREAM_PERMISSION_DENIED"
	ReasonUpstreamNotFound       = "UPSTREAM_NOT_FOUND"
	ReasonUpstreamRateLimited    = "UPSTREAM_RATE_LIMITED"
	ReasonUpstreamUnavailable    = "UPSTREAM_UNAVAILABLE"
	ReasonUpstreamOutcomeUnknown = "UPSTREAM_OUTCOME_UNKNOWN"
	ReasonUpstreamProtocol       = "UPSTREAM_PROTOCOL_ERROR"
	ReasonTaskNotFound           = "TASK_NOT_FOUND"
	ReasonTaskRunning            = "TASK_RUNNING"
	ReasonTaskFinished           = "TASK_FINISHED"
	ReasonFiberAPIKeyUnavailable = "FIBER_API_KEY_UNAVAILABLE"
	ReasonInvalidToken           = "INVALID_TOKEN"
	ReasonShuttingDown           = "SHUTTING_DOWN"
	ReasonIdempotencyKeyReused   = "IDEMPOTENCY_KEY_REUSED"
	ReasonRequestInProgress      = "REQUEST_IN_PROGRESS"
	ReasonUnauthenticated        = "UNAUTHENTICATED"
	ReasonRequestKeyRefused      = "REQUEST_API_KEY_NOT_ALLOWED"
	ReasonTooManyStreams         = "TOO_MANY_STREAMS"
	ReasonRateLimited            = "RATE_LIMITED"
	ReasonCanceled               = "CANCELED"
	ReasonDeadlineExceeded       = "DEADLINE_EXCEEDED"
	ReasonInternal               = "INTERNAL"
	ReasonUnknownMethod          = "UNIMPLEMENTED_METHOD"
)

// ErrPanic stands for a handler that panicked; the recovery interceptor returns it. Its status
// says no more than "internal error".
var ErrPanic = errors.New("handler panicked")

// ErrNoAPIKey means a call needs a Fiber API key and neither the request nor the server has one.
var ErrNoAPIKey = errors.New("no Fiber API key: the request carries no api_key and the server has none configured (set FIBER_API_KEY)")

// ToStatus turns any error returned by the handlers' collaborators into a gRPC status error
// carrying exactly one google.rpc.ErrorInfo. Errors that already are statuses with an
// ErrorInfo pass through unchanged.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok && hasErrorInfo(st) {
		return err
	}
	var fe *fiber.Error
	var we *budget.WaitError
	var um *unknownMethodError
	switch {
	case errors.As(err, &we):
		return budgetStatus(we)
	case errors.As(err, &fe):
		return upstreamStatus(fe)
	case errors.Is(err, tasks.ErrNotFound):
		return newStatus(codes.NotFound, ReasonTaskNotFound, "task not found", taskMetadata(err))
	case errors.Is(err, tasks.ErrRunning):
		return newStatus(codes.FailedPrecondition, ReasonTaskRunning, "the task is still running: cancel it or wait until it ends", taskMetadata(err))
	case errors.Is(err, tasks.ErrFinished):
		return newStatus(codes.FailedPrecondition, ReasonTaskFinished, "the task has already finished", taskMetadata(err))
	case errors.Is(err, tasks.ErrKeyUnavailable):
		return newStatus(codes.FailedPrecondition, ReasonFiberAPIKeyUnavailable, tasks.ErrKeyUnavailable.Error(), taskMetadata(err))
	case errors.Is(err, tasks.ErrBadToken):
		return badRequestStatus(ReasonInvalidToken, fieldOf(err), "the token is malformed or belongs to another task or listing")
	case errors.Is(err, tasks.ErrShuttingDown):
		return newStatus(codes.Unavailable, ReasonShuttingDown, tasks.ErrShuttingDown.Error(), nil)
	case errors.Is(err, ErrIdempotencyKeyReused):
		field := fieldOf(err)
		if field == "" {
			field = fieldRequestID
		}
		return badRequestStatus(ReasonIdempotencyKeyReused, field, ErrIdempotencyKeyReused.Error())
	case errors.Is(err, ErrBadIdempotencyKey):
		return badRequestStatus(ReasonValidationFailed, fieldIdempotencyKey, ErrBadIdempotencyKey.Error())
	case errors.Is(err, ErrEarlierOutcomeUnknown):
		return newStatus(codes.Unknown, ReasonUpstreamOutcomeUnknown, ErrEarlierOutcomeUnknown.Error(), nil)
	case errors.Is(err, ErrRequestInProgress):
		return newStatus(codes.Aborted, ReasonRequestInProgress, ErrRequestInProgress.Error(), nil)
	case errors.Is(err, auth.ErrUnauthenticated):
		return newStatus(codes.Unauthenticated, ReasonUnauthenticated, auth.ErrUnauthenticated.Error(), nil)
	case errors.Is(err, ErrTooManyStreams):
		return newStatus(codes.ResourceExhausted, ReasonTooManyStreams, ErrTooManyStreams.Error(), nil)
	case errors.Is(err, ErrRequestKeyRefused):
		return newStatus(codes.PermissionDenied, ReasonRequestKeyRefused, ErrRequestKeyRefused.Error(), nil)
	case errors.Is(err, ErrNoAPIKey):
		return newStatus(codes.FailedPrecondition, ReasonFiberAPIKeyMissing, err.Error(), nil)
	case errors.Is(err, ErrPanic):
		return newStatus(codes.Internal, ReasonInternal, "internal error", nil)
	case errors.As(err, &um):
		return newStatus(codes.Unimplemented, ReasonUnknownMethod, um.Error(), map[string]string{"method": um.method})
	case errors.Is(err, context.Canceled):
		return newStatus(codes.Canceled, ReasonCanceled, "the call was canceled", nil)
	case errors.Is(err, context.DeadlineExceeded):
		return newStatus(codes.DeadlineExceeded, ReasonDeadlineExceeded, "the call's deadline passed", nil)
	}
	if st, ok := status.FromError(err); ok {
		// A bare status from gRPC itself or an interceptor: add the ErrorInfo, and to an
		// INVALID_ARGUMENT a BadRequest (the field is not known: "").
		if st.Code() == codes.InvalidArgument {
			return withInfo(st, reasonForCode(st.Code()), nil, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
				Description: st.Message(), Reason: reasonForCode(st.Code()),
			}}})
		}
		return withInfo(st, reasonForCode(st.Code()), nil)
	}
	return newStatus(codes.Internal, ReasonInternal, "internal error", nil)
}

// budgetStatus: the call would wait too long for a slot of Fiber's rate limit. Nothing was
// sent upstream.
func budgetStatus(we *budget.WaitError) error {
	return newStatus(codes.ResourceExhausted, ReasonRateLimited,
		fmt.Sprintf("fiber %s rate limit (%v per API key) is fully booked: the next slot is expected in %v, later than this call can wait (%v); retry after that",
			we.Endpoint, we.Limit, we.RetryAfter.Round(time.Millisecond), we.Allowed.Round(time.Millisecond)),
		map[string]string{"endpoint": string(we.Endpoint), "key_id": we.KeyID, "limit": we.Limit.String(), "retry_after": we.RetryAfter.Round(time.Millisecond).String()},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(we.RetryAfter)},
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
			Subject:     "fiber-api-key:" + we.KeyID,
			Description: fmt.Sprintf("fiber %s calls: %v", we.Endpoint, we.Limit),
		}}},
	)
}

// upstreamStatus maps a Fiber error. Fiber's message is kept; the client guarantees it holds no
// API key.
func upstreamStatus(fe *fiber.Error) error {
	md := map[string]string{"endpoint": string(fe.Endpoint)}
	if fe.StatusCode != 0 {
		md["http_status"] = strconv.Itoa(fe.StatusCode)
	}
	msg := "fiber: " + fe.Message
	var extra []protoadapt.MessageV1
	code, reason := codes.Internal, ReasonUpstreamProtocol
	switch fe.Kind {
	case fiber.KindBadRequest:
		// Fiber's message names the offending part of the request in Fiber's own words; there
		// is no field path to rely on, so the violation is of the request as a whole ("").
		code, reason = codes.InvalidArgument, ReasonUpstreamBadRequest
		extra = append(extra, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
			Description: msg, Reason: reason,
		}}})
	case fiber.KindUnauthenticated:
		code, reason = codes.Unauthenticated, ReasonUpstreamUnauthorized
	case fiber.KindOutOfCredits:
		code, reason = codes.FailedPrecondition, ReasonUpstreamOutOfCredits
		if a := fe.OutOfCredits; a != nil {
			md["get_more_credits_url"] = a.GetMoreCreditsURL
			md["available_credits"] = strconv.FormatFloat(a.AvailableCredits, 'f', -1, 64)
		}
	case fiber.KindForbidden:
		code, reason = codes.PermissionDenied, ReasonUpstreamForbidden
	case fiber.KindNotFound:
		code, reason = codes.NotFound, ReasonUpstreamNotFound
	case fiber.KindRateLimited:
		code, reason = codes.ResourceExhausted, ReasonUpstreamRateLimited
		if fe.RetryAfter > 0 {
			md["retry_after"] = fe.RetryAfter.String()
			extra = append(extra, &errdetails.RetryInfo{RetryDelay: durationpb.New(fe.RetryAfter)})
		}
	case fiber.KindUnavailable:
		code, reason = codes.Unavailable, ReasonUpstreamUnavailable
	case fiber.KindOutcomeUnknown:
		code, reason = codes.Unknown, ReasonUpstreamOutcomeUnknown
		msg = fmt.Sprintf("fiber %s: outcome unknown (%s): it may or may not have taken effect upstream", fe.Endpoint, fe.Message)
	}
	return newStatus(code, reason, msg, md, extra...)
}

// badRequestStatus is INVALID_ARGUMENT with a BadRequest naming field ("" for the request as a
// whole).
func badRequestStatus(reason, field, msg string) error {
	br := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: msg, Reason: reason}}}
	if field != "" {
		msg = field + ": " + msg
	}
	return newStatus(codes.InvalidArgument, reason, msg, map[string]string{"field": field}, br)
}

func newStatus(code codes.Code, reason, msg string, md map[string]string, extra ...protoadapt.MessageV1) error {
	return withInfo(status.New(code, msg), reason, md, extra...)
}

// withInfo adds an ErrorInfo (and any extra details) to st.
func withInfo(st *status.Status, reason string, md map[string]string, extra ...protoadapt.MessageV1) error {
	details := append([]protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: md}}, extra...)
	ds, err := st.WithDetails(details...)
	if err != nil {
		return st.Err()
	}
	return ds.Err()
}

func hasErrorInfo(st *status.Status) bool {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.ErrorInfo); ok {
			return true
		}
	}
	return false
}

// reasonForCode names the reason of a status made outside this package (e.g. by gRPC itself):
// its code in UPPER_SNAKE, such as UNIMPLEMENTED or RESOURCE_EXHAUSTED.
func reasonForCode(c codes.Code) string {
	if c == codes.InvalidArgument {
		return ReasonValidationFailed
	}
	name := c.String() // e.g. "DeadlineExceeded"
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}
