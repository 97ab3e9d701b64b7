package apierr

import (
	"fmt"
	"strings"
	"unicode"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// BadRequest returns the INVALID_ARGUMENT status used for a request that never reached the
// handlers, such as a REST body of the wrong JSON shape: reason VALIDATION_FAILED and a
// google.rpc.BadRequest with one violation. field is the JSON path of the offending field (""
// when unknown), rule names the check it failed (such as "json.type").
func BadRequest(field, description, rule string) error {
	br := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
		Field: field, Description: description, Reason: rule,
	}}}
	msg := "invalid request: " + description
	if field != "" {
		msg = "invalid request: " + field + ": " + description
	}
	return New(codes.InvalidArgument, ReasonValidationFailed, msg,
		map[string]string{MetaField: field, MetaRule: rule}, br)
}

// badRequestStatus is INVALID_ARGUMENT with a BadRequest naming field ("" for the request as a
// whole).
func badRequestStatus(reason, field, msg string) error {
	br := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: msg, Reason: reason}}}
	if field != "" {
		msg = field + ": " + msg
	}
	return New(codes.InvalidArgument, reason, msg, map[string]string{MetaField: field}, br)
}

// violations returns the buf.validate.Violations among st's details, or nil.
func violations(st *status.Status) *validatepb.Violations {
	for _, d := range st.Details() {
		if v, ok := d.(*validatepb.Violations); ok {
			return v
		}
	}
	return nil
}

// validationStatus builds INVALID_ARGUMENT with a google.rpc.BadRequest naming each violated
// field by its JSON path (Fiber's lowerCamelCase names, as REST clients send them), one
// ErrorInfo (reason VALIDATION_FAILED, metadata: the first violated field and rule) and the
// original buf.validate.Violations for clients that understand them.
func validationStatus(v *validatepb.Violations) error {
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
		md[MetaField] = br.FieldViolations[0].Field
		md[MetaRule] = br.FieldViolations[0].Reason
	}
	return New(codes.InvalidArgument, ReasonValidationFailed, msg.String(), md, br, v)
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
