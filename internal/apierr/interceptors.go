package apierr

import (
	"context"
	"errors"
	"strings"

	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibergate/fibergate/internal/redact"
)

// UnaryErrorInterceptor makes every error a handler (or an interceptor inside it) returns
// readable in every gRPC language: protovalidate's buf.validate.Violations become a
// google.rpc.BadRequest, and every status gets exactly one google.rpc.ErrorInfo (ToStatus).
// Known secrets (secrets may be nil) are masked in the message and details, whatever text an
// error picked up on its way (Fiber may echo any key). Install it outside the protovalidate
// interceptor.
func UnaryErrorInterceptor(secrets *redact.Secrets) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		return resp, redactStatus(convertError(err), secrets)
	}
}

// StreamErrorInterceptor is UnaryErrorInterceptor for streams.
func StreamErrorInterceptor(secrets *redact.Secrets) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return redactStatus(convertError(handler(srv, ss)), secrets)
	}
}

// UnknownMethod answers calls of a service or method the server does not have (install it
// with grpc.UnknownServiceHandler): UNIMPLEMENTED, with an ErrorInfo (reason
// UNIMPLEMENTED_METHOD, metadata: the method called) once StreamErrorInterceptor has turned it
// into a status. Registered services, such as health and reflection, never get here.
func UnknownMethod(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(stream)
	const maxLen = 256 // the caller chose it: echo no more than a method name's worth
	if len(method) > maxLen {
		method = method[:maxLen]
	}
	return &unknownMethodError{method: strings.ToValidUTF8(method, "")}
}

// redactStatus masks secrets in a status's message and in the text of its ErrorInfo and
// BadRequest details.
func redactStatus(err error, secrets *redact.Secrets) error {
	if err == nil || secrets == nil {
		return err
	}
	sp := status.Convert(err).Proto()
	sp.Message = secrets.Redact(sp.GetMessage())
	for _, a := range sp.GetDetails() {
		m, uerr := a.UnmarshalNew()
		if uerr != nil {
			continue
		}
		switch d := m.(type) {
		case *errdetails.ErrorInfo:
			for k, v := range d.Metadata {
				d.Metadata[k] = secrets.Redact(v)
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				v.Description = secrets.Redact(v.GetDescription())
			}
		default:
			continue
		}
		if nerr := a.MarshalFrom(m); nerr != nil {
			continue
		}
	}
	return status.FromProto(sp).Err()
}

// convertError is ToStatus, except that protovalidate's violations (a status carrying
// buf.validate.Violations, or a *protovalidate.ValidationError) become a BadRequest naming
// every violated field.
func convertError(err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument {
		if v := violations(st); v != nil {
			return validationStatus(v)
		}
	}
	var ve *protovalidate.ValidationError
	if errors.As(err, &ve) {
		return validationStatus(ve.ToProto())
	}
	return ToStatus(err)
}
