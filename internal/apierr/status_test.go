package apierr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/health"
	"github.com/fibergate/fibergate/internal/tasks"
)

func TestToStatusGivesEveryErrorOneErrorInfo(t *testing.T) {
	tests := []struct {
		err    error
		code   codes.Code
		reason string
		field  string            // for INVALID_ARGUMENT: the one BadRequest field violation
		md     map[string]string // ErrorInfo metadata expected among the rest; nil for none
	}{
		{&fiber.Error{Kind: fiber.KindBadRequest, Message: "bad"}, codes.InvalidArgument, ReasonUpstreamBadRequest, "", nil},
		{&fiber.Error{Kind: fiber.KindUnauthenticated}, codes.Unauthenticated, ReasonUpstreamUnauthorized, "", nil},
		{&fiber.Error{Kind: fiber.KindOutOfCredits, OutOfCredits: &fiber.CreditAlert{GetMoreCreditsURL: "u", AvailableCredits: 1.5}}, codes.FailedPrecondition, ReasonUpstreamOutOfCredits, "", nil},
		{&fiber.Error{Kind: fiber.KindForbidden}, codes.PermissionDenied, ReasonUpstreamForbidden, "", nil},
		{&fiber.Error{Kind: fiber.KindNotFound}, codes.NotFound, ReasonUpstreamNotFound, "", nil},
		{&fiber.Error{Kind: fiber.KindRateLimited, RetryAfter: 3 * time.Second}, codes.ResourceExhausted, ReasonUpstreamRateLimited, "", nil},
		{&fiber.Error{Kind: fiber.KindUnavailable}, codes.Unavailable, ReasonUpstreamUnavailable, "", nil},
		{&fiber.Error{Kind: fiber.KindOutcomeUnknown, Endpoint: fiber.EndpointStart}, codes.Unknown, ReasonUpstreamOutcomeUnknown, "", nil},
		{&fiber.Error{Kind: fiber.KindProtocol}, codes.Internal, ReasonUpstreamProtocol, "", nil},
		{fmt.Errorf("start: %w", ErrNoAPIKey), codes.FailedPrecondition, ReasonFiberAPIKeyMissing, "", nil},
		{context.Canceled, codes.Canceled, ReasonCanceled, "", nil},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded, ReasonDeadlineExceeded, "", nil},
		{status.Error(codes.Unimplemented, "nope"), codes.Unimplemented, "UNIMPLEMENTED", "", nil},
		{status.Error(codes.ResourceExhausted, "full"), codes.ResourceExhausted, "RESOURCE_EXHAUSTED", "", nil},
		{status.Error(codes.InvalidArgument, "bare"), codes.InvalidArgument, ReasonValidationFailed, "", nil},
		{errors.New("disk on fire"), codes.Internal, ReasonInternal, "", nil},
		{fmt.Errorf("recovered: %w", ErrPanic), codes.Internal, ReasonInternal, "", nil},
		{&unknownMethodError{method: "/x.Y/Z"}, codes.Unimplemented, ReasonUnknownMethod, "", map[string]string{"method": "/x.Y/Z"}},
		{InField("pageToken", tasks.ErrBadToken), codes.InvalidArgument, ReasonInvalidToken, "pageToken", map[string]string{"field": "pageToken"}},
		{InField("resumeToken", fmt.Errorf("parse: %w", tasks.ErrBadToken)), codes.InvalidArgument, ReasonInvalidToken, "resumeToken", nil},
		{ErrIdempotencyKeyReused, codes.InvalidArgument, ReasonIdempotencyKeyReused, "requestId", nil},
		{InField(IdempotencyKeyHeader, ErrIdempotencyKeyReused), codes.InvalidArgument, ReasonIdempotencyKeyReused, "Idempotency-Key", nil},
		{ErrBadIdempotencyKey, codes.InvalidArgument, ReasonValidationFailed, "Idempotency-Key", nil},
		{ForTask("t-1", tasks.ErrNotFound), codes.NotFound, ReasonTaskNotFound, "", map[string]string{"task_id": "t-1"}},
		{ForTask("t-2", fmt.Errorf("cancel: %w", tasks.ErrFinished)), codes.FailedPrecondition, ReasonTaskFinished, "", map[string]string{"task_id": "t-2"}},
		{ForTask("t-3", tasks.ErrRunning), codes.FailedPrecondition, ReasonTaskRunning, "", map[string]string{"task_id": "t-3"}},
		{fmt.Errorf("auth: %w", ErrUnauthenticated), codes.Unauthenticated, ReasonUnauthenticated, "", nil},
		{ErrRequestKeyRefused, codes.PermissionDenied, ReasonRequestKeyRefused, "", nil},
		{ErrTooManyStreams, codes.ResourceExhausted, ReasonTooManyStreams, "", nil},
		{ErrRequestInProgress, codes.Aborted, ReasonRequestInProgress, "", nil},
		{ErrEarlierOutcomeUnknown, codes.Unknown, ReasonUpstreamOutcomeUnknown, "", nil},
		{fmt.Errorf("claim: %w", health.ErrStoreUnavailable), codes.Unavailable, ReasonStoreUnavailable, "", map[string]string{"retry_after": "1s"}},
		{ForTask("t-4", fmt.Errorf("%w: %w", health.ErrStoreUnavailable, context.DeadlineExceeded)), codes.Unavailable, ReasonStoreUnavailable, "", nil},
	}
	for _, tt := range tests {
		st := status.Convert(ToStatus(tt.err))
		var infos []*errdetails.ErrorInfo
		var violations []*errdetails.BadRequest_FieldViolation
		for _, d := range st.Details() {
			switch d := d.(type) {
			case *errdetails.ErrorInfo:
				infos = append(infos, d)
			case *errdetails.BadRequest:
				violations = append(violations, d.GetFieldViolations()...)
			}
		}
		if st.Code() != tt.code || len(infos) != 1 || infos[0].GetReason() != tt.reason || infos[0].GetDomain() != ErrorDomain {
			t.Errorf("ToStatus(%v) = %v %v, want %v with one ErrorInfo %s", tt.err, st.Code(), infos, tt.code, tt.reason)
			continue
		}
		for k, v := range tt.md {
			if got := infos[0].GetMetadata()[k]; got != v {
				t.Errorf("ToStatus(%v): metadata %s = %q, want %q", tt.err, k, got, v)
			}
		}
		if st.Code() == codes.InvalidArgument && (len(violations) != 1 || violations[0].GetField() != tt.field || violations[0].GetDescription() == "") {
			t.Errorf("ToStatus(%v): field violations %v, want one naming %q", tt.err, violations, tt.field)
		}
		// Already converted: unchanged.
		if again := ToStatus(st.Err()); status.Convert(again).Proto().String() != st.Proto().String() {
			t.Errorf("ToStatus is not idempotent for %v", tt.err)
		}
	}
	if st := status.Convert(ToStatus(errors.New("secret sk-123 inside"))); st.Message() != "internal error" {
		t.Errorf("an unexpected error's text reached the caller: %q", st.Message())
	}
	if st := status.Convert(ToStatus(&fiber.Error{Kind: fiber.KindBadRequest, Message: "personDetails.0: bad"})); !strings.Contains(fmt.Sprint(st.Details()), "personDetails.0: bad") {
		t.Errorf("Fiber's 400 message is not in its violation: %v", st.Details())
	}
}

// TestTaskNotFoundSaysNoMoreThanTheCallerSent: an unknown task and another principal's task
// get the same answer; the task id echoed is the caller's own.
func TestTaskNotFoundSaysNoMoreThanTheCallerSent(t *testing.T) {
	a := status.Convert(ToStatus(ForTask("x", tasks.ErrNotFound))).Proto()
	b := status.Convert(ToStatus(ForTask("x", fmt.Errorf("owned by bob: %w", tasks.ErrNotFound)))).Proto()
	if !proto.Equal(a, b) {
		t.Errorf("the two answers differ:\n%v\n%v", a, b)
	}
}

// TestStoreUnavailableSaysWhenToRetry: STORE_UNAVAILABLE carries a RetryInfo (the gateway's
// Retry-After), and never the failed store call's own error.
func TestStoreUnavailableSaysWhenToRetry(t *testing.T) {
	st := status.Convert(ToStatus(fmt.Errorf("claim request id: %w: %w", health.ErrStoreUnavailable, errors.New("dial tcp 10.0.0.7:5432: connection refused"))))
	var delay time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	if delay != StoreRetryDelay {
		t.Errorf("RetryInfo delay %v, want %v", delay, StoreRetryDelay)
	}
	if strings.Contains(st.Message(), "10.0.0.7") || strings.Contains(st.Message(), "refused") {
		t.Errorf("the store's error reached the caller: %q", st.Message())
	}
}
