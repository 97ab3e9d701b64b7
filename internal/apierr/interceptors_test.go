package apierr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/redact"
	"github.com/fibergate/fibergate/internal/tasks"
)

const secret = "sk-apierr-test-secret-42"

// TestErrorInterceptorsConvertDomainErrorsAndMaskSecrets: what a handler returns, a domain
// error, reaches the caller as a status with an ErrorInfo and without known secrets.
func TestErrorInterceptorsConvertDomainErrorsAndMaskSecrets(t *testing.T) {
	secrets := redact.NewSecrets(secret)
	unary := UnaryErrorInterceptor(secrets)
	stream := StreamErrorInterceptor(secrets)
	for _, tt := range []struct {
		err    error
		code   codes.Code
		reason string
	}{
		{nil, codes.OK, ""},
		{fmt.Errorf("watch: %w", ForTask("t-1", tasks.ErrNotFound)), codes.NotFound, ReasonTaskNotFound},
		{&fiber.Error{Kind: fiber.KindBadRequest, Message: "key " + secret + " is not valid"}, codes.InvalidArgument, ReasonUpstreamBadRequest},
		{fmt.Errorf("auth: %w", ErrUnauthenticated), codes.Unauthenticated, ReasonUnauthenticated},
		{status.Error(codes.Unavailable, "transport closing"), codes.Unavailable, "UNAVAILABLE"},
	} {
		_, uerr := unary(context.Background(), nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) { return nil, tt.err })
		serr := stream(nil, nil, &grpc.StreamServerInfo{}, func(any, grpc.ServerStream) error { return tt.err })
		for name, err := range map[string]error{"unary": uerr, "stream": serr} {
			st := status.Convert(err)
			infos, _ := details(st)
			if tt.err == nil {
				if err != nil {
					t.Errorf("%s: nil became %v", name, err)
				}
				continue
			}
			if st.Code() != tt.code || len(infos) != 1 || infos[0].GetReason() != tt.reason {
				t.Errorf("%s(%v) = %v %v, want %v with one ErrorInfo %s", name, tt.err, st.Code(), infos, tt.code, tt.reason)
			}
			if strings.Contains(st.Proto().String(), secret) {
				t.Errorf("%s(%v): the answer holds a secret: %v", name, tt.err, st.Proto())
			}
		}
	}
}

func TestPanicsSayNoMore(t *testing.T) {
	st := status.Convert(ToStatus(fmt.Errorf("recovered %v: %w", errors.New("cannot use "+secret), ErrPanic)))
	if st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Errorf("a panic: %v %q, want INTERNAL \"internal error\"", st.Code(), st.Message())
	}
}
