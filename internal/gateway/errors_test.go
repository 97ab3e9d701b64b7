package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/fibergate/fibergate/internal/apierr"
)

// newTestGateway is the gateway in front of a connection that is never used: routing errors
// are answered before any call.
func newTestGateway(t *testing.T) http.Handler {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	gw, err := New(ctx, conn, Config{})
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

func TestRoutingErrorsCarryErrorInfoAndBadRequest(t *testing.T) {
	gw := newTestGateway(t)
	tests := []struct {
		name, method, path string
		http               int
		code               codes.Code
		reason             string
		field              string // BadRequest field; "" for no BadRequest
	}{
		{"path not starting with a slash", http.MethodGet, "v1/contact-details/batch", http.StatusBadRequest, codes.InvalidArgument, apierr.ReasonBadRequest, "path"},
		{"unknown route", http.MethodGet, "/v2/nothing", http.StatusNotFound, codes.NotFound, apierr.ReasonRouteNotFound, ""},
		{"wrong method", http.MethodPut, "/v1/contact-details/batch/start", http.StatusMethodNotAllowed, codes.Unimplemented, apierr.ReasonMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", nil)
			r.URL.Path = tt.path
			w := httptest.NewRecorder()
			gw.ServeHTTP(w, r)
			if w.Code != tt.http {
				t.Errorf("HTTP %d, want %d: %s", w.Code, tt.http, w.Body)
			}
			var sp spb.Status
			if err := protojson.Unmarshal(w.Body.Bytes(), &sp); err != nil {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			if codes.Code(sp.GetCode()) != tt.code {
				t.Errorf("code %v, want %v", codes.Code(sp.GetCode()), tt.code)
			}
			var infos []*errdetails.ErrorInfo
			var violations []*errdetails.BadRequest_FieldViolation
			for _, a := range sp.GetDetails() {
				m, err := a.UnmarshalNew()
				if err != nil {
					t.Fatal(err)
				}
				switch d := m.(type) {
				case *errdetails.ErrorInfo:
					infos = append(infos, d)
				case *errdetails.BadRequest:
					violations = append(violations, d.GetFieldViolations()...)
				}
			}
			if len(infos) != 1 || infos[0].GetReason() != tt.reason || infos[0].GetDomain() != "fibergate" {
				t.Errorf("ErrorInfo %v, want one with reason %s", infos, tt.reason)
			}
			switch {
			case tt.field == "" && len(violations) != 0:
				t.Errorf("field violations %v, want none", violations)
			case tt.field != "" && (len(violations) != 1 || violations[0].GetField() != tt.field):
				t.Errorf("field violations %v, want one naming %q", violations, tt.field)
			}
		})
	}
}
