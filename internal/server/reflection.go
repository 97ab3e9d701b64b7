package server

import (
	"strings"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/fibergate/fibergate/internal/auth"
)

// healthReflection is the reflection policy of a server whose reflection needs a token: a
// caller without a valid one may still ask reflection about the health service, and nothing
// else, so that `grpcurl ADDR grpc.health.v1.Health/Check` works like the health check itself,
// without a token. Anything else such a caller asks ends the stream with the authentication
// error. A caller with a valid token may ask anything. Calls other than reflection pass.
func healthReflection(tokens *auth.Tokens) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if !strings.HasPrefix(info.FullMethod, "/grpc.reflection.") {
			return handler(srv, ss)
		}
		if _, err := tokens.AuthFunc(ss.Context()); err != nil {
			return handler(srv, &healthOnly{ServerStream: ss, refusal: err})
		}
		return handler(srv, ss)
	}
}

// healthOnly is a reflection stream that fails with refusal at the first request that is not
// about the health service.
type healthOnly struct {
	grpc.ServerStream
	refusal error
}

func (h *healthOnly) RecvMsg(m any) error {
	if err := h.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if !aboutHealth(m) {
		return h.refusal
	}
	return nil
}

// reflectionRequest is what the v1 and v1alpha ServerReflectionRequest have in common.
type reflectionRequest interface {
	GetFileByFilename() string
	GetFileContainingSymbol() string
	GetAllExtensionNumbersOfType() string
}

// aboutHealth reports whether a reflection request asks for the health service's file, one of
// its symbols, or the extensions of one of its messages (there are none, but grpcurl asks).
func aboutHealth(m any) bool {
	req, ok := m.(reflectionRequest)
	if !ok {
		return false
	}
	file := healthpb.File_grpc_health_v1_health_proto
	inHealth := func(symbol string) bool { return strings.HasPrefix(symbol, string(file.Package())+".") }
	return req.GetFileByFilename() == file.Path() ||
		inHealth(req.GetFileContainingSymbol()) ||
		inHealth(req.GetAllExtensionNumbersOfType())
}
