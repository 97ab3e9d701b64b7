package apierr

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

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/health"
	"github.com/fibergate/fibergate/internal/tasks"
)

// StoreRetryDelay is the RetryInfo of a STORE_UNAVAILABLE answer: about the time the store's
// health is checked again (health.DefaultInterval), so that a caller retries once the store
// may be back. Over REST it is the Retry-After header.
const StoreRetryDelay = health.DefaultInterval

// ToStatus turns any error into a gRPC status error carrying exactly one google.rpc.ErrorInfo:
// a domain error into its code and reason, a bare status (from gRPC itself, grpc-gateway or a
// third-party interceptor) into the same status with an ErrorInfo, anything else into INTERNAL
// with a message that says no more than "internal error". Errors that already are statuses
// with an ErrorInfo pass through unchanged, so calling it twice does no harm. The error
// interceptors call it once for every call.
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
	var snr *StartNotRecordedError
	switch {
	case errors.As(err, &snr):
		return notRecordedStatus(snr)
	case errors.Is(err, health.ErrStoreUnavailable):
		// Before anything else that could match the wrapped error of the failed store call.
		return New(codes.Unavailable, ReasonStoreUnavailable,
			"fibergate's store cannot be reached: nothing was sent to Fiber; retry shortly (a WatchTask resumes with its last resume_token)",
			map[string]string{MetaRetryAfter: StoreRetryDelay.String()},
			&errdetails.RetryInfo{RetryDelay: durationpb.New(StoreRetryDelay)})
	case errors.As(err, &we):
		return budgetStatus(we)
	case errors.As(err, &fe):
		return upstreamStatus(fe)
	case errors.Is(err, tasks.ErrNotFound):
		return New(codes.NotFound, ReasonTaskNotFound, "task not found", taskMetadata(err))
	case errors.Is(err, tasks.ErrRunning):
		return New(codes.FailedPrecondition, ReasonTaskRunning, "the task is still running: cancel it or wait until it ends", taskMetadata(err))
	case errors.Is(err, tasks.ErrFinished):
		return New(codes.FailedPrecondition, ReasonTaskFinished, "the task has already finished", taskMetadata(err))
	case errors.Is(err, tasks.ErrKeyUnavailable):
		return New(codes.FailedPrecondition, ReasonFiberAPIKeyUnavailable, tasks.ErrKeyUnavailable.Error(), taskMetadata(err))
	case errors.Is(err, tasks.ErrBadToken):
		return badRequestStatus(ReasonInvalidToken, fieldOf(err), "the token is malformed or belongs to another task or listing")
	case errors.Is(err, tasks.ErrShuttingDown):
		return New(codes.Unavailable, ReasonShuttingDown, tasks.ErrShuttingDown.Error(), nil)
	case errors.Is(err, ErrIdempotencyKeyReused):
		field := fieldOf(err)
		if field == "" {
			field = FieldRequestID
		}
		return badRequestStatus(ReasonIdempotencyKeyReused, field, ErrIdempotencyKeyReused.Error())
	case errors.Is(err, ErrBadIdempotencyKey):
		return badRequestStatus(ReasonValidationFailed, IdempotencyKeyHeader, ErrBadIdempotencyKey.Error())
	case errors.Is(err, ErrEarlierOutcomeUnknown):
		return New(codes.Unknown, ReasonUpstreamOutcomeUnknown, ErrEarlierOutcomeUnknown.Error(), nil)
	case errors.Is(err, ErrRequestInProgress):
		return New(codes.Aborted, ReasonRequestInProgress, ErrRequestInProgress.Error(), nil)
	case errors.Is(err, ErrUnauthenticated):
		return New(codes.Unauthenticated, ReasonUnauthenticated, ErrUnauthenticated.Error(), nil)
	case errors.Is(err, ErrTooManyStreams):
		return New(codes.ResourceExhausted, ReasonTooManyStreams, ErrTooManyStreams.Error(), nil)
	case errors.Is(err, ErrRequestKeyRefused):
		return New(codes.PermissionDenied, ReasonRequestKeyRefused, ErrRequestKeyRefused.Error(), nil)
	case errors.Is(err, ErrNoAPIKey):
		return New(codes.FailedPrecondition, ReasonFiberAPIKeyMissing, err.Error(), nil)
	case errors.Is(err, ErrPanic):
		return New(codes.Internal, ReasonInternal, "internal error", nil)
	case errors.As(err, &um):
		return New(codes.Unimplemented, ReasonUnknownMethod, um.Error(), map[string]string{MetaMethod: um.method})
	case errors.Is(err, context.Canceled):
		return New(codes.Canceled, ReasonCanceled, "the call was canceled", nil)
	case errors.Is(err, context.DeadlineExceeded):
		return New(codes.DeadlineExceeded, ReasonDeadlineExceeded, "the call's deadline passed", nil)
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
	return New(codes.Internal, ReasonInternal, "internal error", nil)
}

// budgetStatus: the call would wait too long for a slot of Fiber's rate limit. Nothing was
// sent upstream.
func budgetStatus(we *budget.WaitError) error {
	return New(codes.ResourceExhausted, ReasonRateLimited,
		fmt.Sprintf("fiber %s rate limit (%v per API key) is fully booked: the next slot is expected in %v, later than this call can wait (%v); retry after that",
			we.Endpoint, we.Limit, we.RetryAfter.Round(time.Millisecond), we.Allowed.Round(time.Millisecond)),
		map[string]string{MetaEndpoint: string(we.Endpoint), MetaKeyID: we.KeyID, MetaLimit: we.Limit.String(), MetaRetryAfter: we.RetryAfter.Round(time.Millisecond).String()},
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
	md := map[string]string{MetaEndpoint: string(fe.Endpoint)}
	if fe.StatusCode != 0 {
		md[MetaHTTPStatus] = strconv.Itoa(fe.StatusCode)
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
			md[MetaGetMoreCreditsURL] = a.GetMoreCreditsURL
			md[MetaAvailableCredits] = strconv.FormatFloat(a.AvailableCredits, 'f', -1, 64)
		}
	case fiber.KindForbidden:
		code, reason = codes.PermissionDenied, ReasonUpstreamForbidden
	case fiber.KindNotFound:
		code, reason = codes.NotFound, ReasonUpstreamNotFound
	case fiber.KindRateLimited:
		code, reason = codes.ResourceExhausted, ReasonUpstreamRateLimited
		if fe.RetryAfter > 0 {
			md[MetaRetryAfter] = fe.RetryAfter.String()
			extra = append(extra, &errdetails.RetryInfo{RetryDelay: durationpb.New(fe.RetryAfter)})
		}
	case fiber.KindUnavailable:
		code, reason = codes.Unavailable, ReasonUpstreamUnavailable
	case fiber.KindOutcomeUnknown:
		code, reason = codes.Unknown, ReasonUpstreamOutcomeUnknown
		msg = fmt.Sprintf("fiber %s: outcome unknown (%s): it may or may not have taken effect upstream", fe.Endpoint, fe.Message)
	}
	return New(code, reason, msg, md, extra...)
}

// New returns a status error of code with msg and exactly one ErrorInfo (reason, domain
// ErrorDomain, metadata md, which may be nil), followed by the details in extra. It is for
// answers that no domain error stands for, such as the REST gateway's routing errors; ToStatus
// passes them through unchanged.
func New(code codes.Code, reason, msg string, md map[string]string, extra ...protoadapt.MessageV1) error {
	return withInfo(status.New(code, msg), reason, md, extra...)
}

// notRecordedStatus: Fiber started a task that fibergate could not record.
func notRecordedStatus(e *StartNotRecordedError) error {
	out := e.Response.GetOutput()
	md := map[string]string{MetaTaskID: out.GetTaskId()}
	record := ""
	if e.RecordID != "" {
		md[MetaRecordID] = e.RecordID
		record = " (record " + e.RecordID + ")"
	}
	if errors.Is(e.Err, tasks.ErrIDConflict) {
		return New(codes.Internal, ReasonTaskIDConflict, fmt.Sprintf(
			"Fiber started the batch as task %s (%d people enqueued and charged), but fibergate already holds another task with that id: the new task is not followed, and the stored one is never served for it. An operator was told%s; do not start these people again before it is reconciled",
			out.GetTaskId(), out.GetNumPeopleEnqueued(), record), md, e.Response)
	}
	return New(codes.Internal, ReasonTaskNotRecorded, fmt.Sprintf(
		"Fiber started the batch as task %s (%d people enqueued and charged), but fibergate could not record it yet: it keeps trying and follows the task once recorded%s. Do not start these people again: retry with the same request_id for this answer, or find the task with GetTask later",
		out.GetTaskId(), out.GetNumPeopleEnqueued(), record), md, e.Response)
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
