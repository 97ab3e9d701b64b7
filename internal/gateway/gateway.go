// Package gateway is fibergate's REST/JSON view of the gRPC API: grpc-gateway routes from the
// google.api.http annotations in the contract, plus what the generated code does not do on its
// own — a body size limit, reporting unknown JSON fields as warnings instead of dropping them,
// naming the offending field when a body has the wrong JSON shape, and HTTP statuses and
// headers (408, 413, Retry-After) that REST clients expect, also from a stream that fails
// before its first message, server streams as NDJSON, and the OpenAPI description itself.
package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/apierr"
)

// Config configures the gateway.
type Config struct {
	// MaxBodyBytes caps a request body; larger bodies get 413. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// The contract's caps that size a maximal StartBatch (TestDefaultMaxBodyBytesFitsTheContract
// checks them against the contract).
const (
	maxPeople   = 2000 // StartBatchRequest.person_details max_items
	maxURLBytes = 2048 // LinkedInUrl.value max_bytes: bytes of UTF-8, not characters
	// personOverhead is what JSON adds around one URL: `{"linkedinUrl":{"value":""}},` is 30
	// bytes compact, about 80 pretty-printed; the rest is room for whitespace and escapes.
	personOverhead = 1024
	// requestOverhead is the rest of a request: brackets, api_key (at most 512 bytes),
	// request_id, enrichment types, unknown fields and whitespace.
	requestOverhead = 144 << 10
)

// DefaultMaxBodyBytes caps a REST body and a gRPC message: 2000 people with URLs of the
// maximum 2048 bytes, plus JSON overhead, which is exactly 6 MiB (6,291,456 bytes). A maximal
// request is about 4.2 MB as UTF-8 JSON and 4.1 MB as protobuf. JSON that escapes every
// non-ASCII character (\u00e9 for é: up to 3 times the UTF-8 size) may not fit: send UTF-8.
const DefaultMaxBodyBytes = maxPeople*(maxURLBytes+personOverhead) + requestOverhead

// forwardedHeaders are the HTTP headers passed to the gRPC service as metadata. Anything else,
// including Grpc-Metadata-* headers, is dropped so REST clients cannot forge internal metadata.
var forwardedHeaders = map[string]bool{
	"Authorization":             true,
	apierr.IdempotencyKeyHeader: true,
	"X-Request-Id":              true,
}

// New returns the REST handler. conn is a client connection to the gRPC server; the gateway
// calls the service through it, so every gRPC interceptor applies to REST calls too. The
// handler also serves the gRPC health service's answers: GET /healthz is readiness, the
// status of the ContactDetailsService (503 while it is NOT_SERVING, such as while the store
// cannot be reached), and GET /livez liveness, the server's own status "". Either takes
// ?service=NAME to ask about another service. It also serves the OpenAPI
// description (OpenAPIPath, OpenAPIv2Path). Server streams are served as NDJSON.
func New(ctx context.Context, conn *grpc.ClientConn, cfg Config) (http.Handler, error) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	bodies, err := newBodyChecker()
	if err != nil {
		return nil, err
	}
	streams, err := newStreamErrors()
	if err != nil {
		return nil, err
	}
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, marshaler{&runtime.HTTPBodyMarshaler{
			Marshaler: &runtime.JSONPb{
				MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
			},
		}}),
		runtime.WithIncomingHeaderMatcher(func(h string) (string, bool) {
			h = textproto.CanonicalMIMEHeaderKey(h)
			return strings.ToLower(h), forwardedHeaders[h]
		}),
		runtime.WithOutgoingHeaderMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithMetadata(func(ctx context.Context, r *http.Request) metadata.MD {
			paths := unknownFieldsFrom(r.Context())
			if len(paths) == 0 {
				return nil
			}
			return metadata.MD{apierr.UnknownFieldsMetadataKey: paths}
		}),
		runtime.WithMiddlewares(bodies.middleware(cfg.MaxBodyBytes), streams.middleware),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithStreamErrorHandler(streams.handler),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		runtime.WithHealthzEndpoint(readinessClient{grpc_health_v1.NewHealthClient(conn)}),
		runtime.WithHealthEndpointAt(grpc_health_v1.NewHealthClient(conn), "/livez"),
	)
	bodies.mux, streams.mux = mux, mux
	if err := cdv1.RegisterContactDetailsServiceHandler(ctx, mux, conn); err != nil {
		return nil, fmt.Errorf("register gateway: %w", err)
	}
	if err := serveOpenAPI(mux); err != nil {
		return nil, fmt.Errorf("register openapi: %w", err)
	}
	return mux, nil
}

// readinessClient asks about the ContactDetailsService when a health check names no service,
// so that GET /healthz answers whether the service can do its work, not merely whether the
// process runs.
type readinessClient struct{ grpc_health_v1.HealthClient }

func (c readinessClient) Check(ctx context.Context, in *grpc_health_v1.HealthCheckRequest, opts ...grpc.CallOption) (*grpc_health_v1.HealthCheckResponse, error) {
	if in.GetService() == "" {
		in = &grpc_health_v1.HealthCheckRequest{Service: cdv1.ContactDetailsService_ServiceDesc.ServiceName}
	}
	return c.HealthClient.Check(ctx, in, opts...)
}
