package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

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

// unknownMethodError is a call of a method the server does not have.
type unknownMethodError struct{ method string }

func (e *unknownMethodError) Error() string { return "unknown service or method " + e.method }

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

func convertError(err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument {
		if v := violations(st); v != nil {
			return badRequest(v)
		}
	}
	var ve *protovalidate.ValidationError
	if errors.As(err, &ve) {
		return badRequest(ve.ToProto())
	}
	return ToStatus(err)
}

func violations(st *status.Status) *validatepb.Violations {
	for _, d := range st.Details() {
		if v, ok := d.(*validatepb.Violations); ok {
			return v
		}
	}
	return nil
}

// badRequest builds INVALID_ARGUMENT with a google.rpc.BadRequest naming each violated field
// by its JSON path (Fiber's lowerCamelCase names, as REST clients send them), one ErrorInfo
// (reason VALIDATION_FAILED, metadata: the first violated field and rule) and the original
// buf.validate.Violations for clients that understand them.
func badRequest(v *validatepb.Violations) error {
	br := &errdetails.BadRequest{}
	var msg strings.Builder
	msg.WriteString("invalid request: ")
	for i, viol := range v.GetViolations() {
		field := jsonPath(protovalidate.FieldPathString(viol.GetField()))
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       field,
			Description: viol.GetMessage(),
			Reason:      viol.GetRuleId(),
		})
		switch {
		case i < 3:
			if i > 0 {
				msg.WriteString("; ")
			}
			if field != "" {
				msg.WriteString(field + ": ")
			}
			msg.WriteString(viol.GetMessage())
		case i == 3:
			fmt.Fprintf(&msg, "; and %d more", len(v.GetViolations())-3)
		}
	}
	md := map[string]string{}
	if len(br.FieldViolations) > 0 {
		md["field"] = br.FieldViolations[0].Field
		md["rule"] = br.FieldViolations[0].Reason
	}
	return withInfo(status.New(codes.InvalidArgument, msg.String()), ReasonValidationFailed, md,
		[]protoadapt.MessageV1{br, v}...)
}

// jsonPath turns a protovalidate field path ("person_details[0].linkedin_url") into the JSON
// names protojson uses ("personDetails[0].linkedinUrl"). The contract sets no json_name, so
// the JSON name is the lowerCamelCase of the proto name. Map keys in brackets are kept.
func jsonPath(p string) string {
	var b strings.Builder
	inBracket, upper := false, false
	for _, r := range p {
		switch {
		case r == '[':
			inBracket = true
		case r == ']':
			inBracket = false
		case !inBracket && r == '_':
			upper = true
			continue
		case upper:
			r = unicode.ToUpper(r)
		}
		upper = false
		b.WriteRune(r)
	}
	return b.String()
}

// BadRequest returns the INVALID_ARGUMENT status used for a request that never reached the
// handlers, such as a REST body of the wrong JSON shape. field is the path of the offending
// field ("" when unknown).
func BadRequest(field, description, rule string) error {
	br := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
		Field: field, Description: description, Reason: rule,
	}}}
	msg := "invalid request: " + description
	if field != "" {
		msg = "invalid request: " + field + ": " + description
	}
	return withInfo(status.New(codes.InvalidArgument, msg), ReasonValidationFailed,
		map[string]string{"field": field, "rule": rule}, br)
}
