package server_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"

	"github.com/fibergate/fibergate/internal/auth"
	"github.com/fibergate/fibergate/internal/server"
)

const reflectionToken = "tok-reflection-5b1e"

// TestReflectionAboutHealthNeedsNoToken: without a token, reflection answers questions about
// the health service and nothing else (the stream ends UNAUTHENTICATED); with one, anything.
func TestReflectionAboutHealthNeedsNoToken(t *testing.T) {
	tokens, err := auth.ParseTokens(strings.NewReader("alice " + auth.HashToken(reflectionToken) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	grpcAddr, _ := serve(t, server.Config{Service: slowService{}, Tokens: tokens})
	conn := dialGRPC(t, grpcAddr)
	v1 := reflectionv1.NewServerReflectionClient(conn)
	ask := func(ctx context.Context, reqs ...*reflectionv1.ServerReflectionRequest) error {
		s, err := v1.ServerReflectionInfo(ctx)
		if err != nil {
			return err
		}
		for _, req := range reqs {
			if err := s.Send(req); err != nil {
				return err
			}
			resp, err := s.Recv()
			if err != nil {
				return err
			}
			if e := resp.GetErrorResponse(); e != nil {
				t.Errorf("%v: error response %v", req, e)
			}
		}
		return s.CloseSend()
	}
	symbol := func(s string) *reflectionv1.ServerReflectionRequest {
		return &reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: s}}
	}
	health := []*reflectionv1.ServerReflectionRequest{
		symbol("grpc.health.v1.Health"),
		symbol("grpc.health.v1.Health.Check"),
		{MessageRequest: &reflectionv1.ServerReflectionRequest_FileByFilename{FileByFilename: "grpc/health/v1/health.proto"}},
		{MessageRequest: &reflectionv1.ServerReflectionRequest_AllExtensionNumbersOfType{AllExtensionNumbersOfType: "grpc.health.v1.HealthCheckRequest"}},
	}
	list := &reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}
	others := map[string]*reflectionv1.ServerReflectionRequest{
		"list services":          list,
		"the service's symbol":   symbol("fibergate.contactdetails.v1.ContactDetailsService"),
		"a symbol named like it": symbol("grpc.health.v1x.Health"),
		"the service's file":     {MessageRequest: &reflectionv1.ServerReflectionRequest_FileByFilename{FileByFilename: "fibergate/contactdetails/v1/contact_details.proto"}},
		"nothing":                {},
	}

	if err := ask(callContext(t), health...); err != nil {
		t.Errorf("reflection about health without a token: %v", err)
	}
	for name, req := range others {
		// After a question about health on the same stream, too.
		if err := ask(callContext(t), health[0], req); status.Code(err) != codes.Unauthenticated {
			t.Errorf("reflection without a token, %s: %v, want UNAUTHENTICATED", name, err)
		}
	}
	authed := metadata.AppendToOutgoingContext(callContext(t), "authorization", "Bearer "+reflectionToken)
	if err := ask(authed, append(health, list, others["the service's symbol"])...); err != nil {
		t.Errorf("reflection with a token: %v", err)
	}
	wrong := metadata.AppendToOutgoingContext(callContext(t), "authorization", "Bearer not-the-token")
	if err := ask(wrong, list); status.Code(err) != codes.Unauthenticated {
		t.Errorf("list services with a wrong token: %v, want UNAUTHENTICATED", err)
	}

	// The older reflection protocol, which some clients still speak, the same.
	alpha, err := reflectionv1alpha.NewServerReflectionClient(conn).ServerReflectionInfo(callContext(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []*reflectionv1alpha.ServerReflectionRequest{
		{MessageRequest: &reflectionv1alpha.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "grpc.health.v1.Health"}},
		{MessageRequest: &reflectionv1alpha.ServerReflectionRequest_ListServices{}},
	} {
		if err := alpha.Send(req); err != nil {
			t.Fatal(err)
		}
		_, err := alpha.Recv()
		if _, isList := req.GetMessageRequest().(*reflectionv1alpha.ServerReflectionRequest_ListServices); isList != (status.Code(err) == codes.Unauthenticated) {
			t.Errorf("v1alpha %v without a token: %v", req, err)
		}
	}
}
