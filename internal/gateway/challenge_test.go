package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibergate/fibergate/internal/apierr"
)

func TestUnauthenticatedAnswersCarryABearerChallenge(t *testing.T) {
	withReason := func(code codes.Code, reason string) error {
		st, err := status.New(code, "missing or invalid bearer token").WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: apierr.ErrorDomain})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	const (
		plain   = `Bearer realm="fibergate"`
		invalid = `Bearer realm="fibergate", error="invalid_token"`
	)
	for _, tt := range []struct {
		name, authorization string
		err                 error
		want                string // WWW-Authenticate; "" for none
	}{
		{"no token", "", withReason(codes.Unauthenticated, apierr.ReasonUnauthenticated), plain},
		{"a refused token", "Bearer not-a-token", withReason(codes.Unauthenticated, apierr.ReasonUnauthenticated), invalid},
		{"a refused token, scheme in lower case", "bearer not-a-token", withReason(codes.Unauthenticated, apierr.ReasonUnauthenticated), invalid},
		{"the scheme alone", "Bearer", withReason(codes.Unauthenticated, apierr.ReasonUnauthenticated), plain},
		{"another scheme", "Basic YWxpY2U6c2VjcmV0", withReason(codes.Unauthenticated, apierr.ReasonUnauthenticated), plain},
		{"Fiber refused the server's key", "Bearer good-token", withReason(codes.Unauthenticated, apierr.ReasonUpstreamUnauthorized), plain},
		{"not a 401", "Bearer good-token", withReason(codes.PermissionDenied, "REQUEST_API_KEY_NOT_ALLOWED"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v1/contact-details/batch", nil)
			if tt.authorization != "" {
				r.Header.Set("Authorization", tt.authorization)
			}
			w := httptest.NewRecorder()
			errorHandler(context.Background(), runtime.NewServeMux(), &runtime.JSONPb{}, w, r, tt.err)
			if got := w.Header().Get("WWW-Authenticate"); got != tt.want {
				t.Errorf("WWW-Authenticate %q, want %q (HTTP %d)", got, tt.want, w.Code)
			}
			if len(w.Header().Values("WWW-Authenticate")) > 1 {
				t.Errorf("WWW-Authenticate given %d times", len(w.Header().Values("WWW-Authenticate")))
			}
		})
	}
}
