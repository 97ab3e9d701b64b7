package service

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibergate/fibergate/internal/fiber"
)

func TestToStatusGivesEveryErrorOneErrorInfo(t *testing.T) {
	tests := []struct {
		err    error
		code   codes.Code
		reason string
	}{
		{&fiber.Error{Kind: fiber.KindBadRequest, Message: "bad"}, codes.InvalidArgument, ReasonUpstreamBadRequest},
		{&fiber.Error{Kind: fiber.KindUnauthenticated}, codes.Unauthenticated, ReasonUpstreamUnauthorized},
		{&fiber.Error{Kind: fiber.KindOutOfCredits, OutOfCredits: &fiber.CreditAlert{GetMoreCreditsURL: "u", AvailableCredits: 1.5}}, codes.FailedPrecondition, ReasonUpstreamOutOfCredits},
		{&fiber.Error{Kind: fiber.KindForbidden}, codes.PermissionDenied, ReasonUpstreamForbidden},
		{&fiber.Error{Kind: fiber.KindNotFound}, codes.NotFound, ReasonUpstreamNotFound},
		{&fiber.Error{Kind: fiber.KindRateLimited, RetryAfter: 3 * time.Second}, codes.ResourceExhausted, ReasonUpstreamRateLimited},
		{&fiber.Error{Kind: fiber.KindUnavailable}, codes.Unavailable, ReasonUpstreamUnavailable},
		{&fiber.Error{Kind: fiber.KindOutcomeUnknown, Endpoint: fiber.EndpointStart}, codes.Unknown, ReasonUpstreamOutcomeUnknown},
		{&fiber.Error{Kind: fiber.KindProtocol}, codes.Internal, ReasonUpstreamProtocol},
		{fmt.Errorf("start: %w", ErrNoAPIKey), codes.FailedPrecondition, ReasonFiberAPIKeyMissing},
		{context.Canceled, codes.Canceled, ReasonCanceled},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded, ReasonDeadlineExceeded},
		{status.Error(codes.Unimplemented, "nope"), codes.Unimplemented, "UNIMPLEMENTED"},
		{status.Error(codes.ResourceExhausted, "full"), codes.ResourceExhausted, "RESOURCE_EXHAUSTED"},
		{errors.New("disk on fire"), codes.Internal, ReasonInternal},
	}
	for _, tt := range tests {
		st := status.Convert(ToStatus(tt.err))
		var infos []*errdetails.ErrorInfo
		for _, d := range st.Details() {
			if ei, ok := d.(*errdetails.ErrorInfo); ok {
				infos = append(infos, ei)
			}
		}
		if st.Code() != tt.code || len(infos) != 1 || infos[0].GetReason() != tt.reason || infos[0].GetDomain() != ErrorDomain {
			t.Errorf("ToStatus(%v) = %v %v, want %v with one ErrorInfo %s", tt.err, st.Code(), infos, tt.code, tt.reason)
		}
		// Already converted: unchanged.
		if again := ToStatus(st.Err()); status.Convert(again).Proto().String() != st.Proto().String() {
			t.Errorf("ToStatus is not idempotent for %v", tt.err)
		}
	}
	if st := status.Convert(ToStatus(errors.New("secret sk-123 inside"))); st.Message() != "internal error" {
		t.Errorf("an unexpected error's text reached the caller: %q", st.Message())
	}
}

func TestJSONPath(t *testing.T) {
	for in, want := range map[string]string{
		"person_details[0].linkedin_url.value": "personDetails[0].linkedinUrl.value",
		"request_id":                           "requestId",
		"labels[\"a_b\"].x_y":                  "labels[\"a_b\"].xY",
		"":                                     "",
	} {
		if got := jsonPath(in); got != want {
			t.Errorf("jsonPath(%q) = %q, want %q", in, got, want)
		}
	}
}
