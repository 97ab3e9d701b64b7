package apierr

import (
	"testing"

	"buf.build/go/protovalidate"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// details splits st's details into its ErrorInfos and BadRequest field violations.
func details(st *status.Status) (infos []*errdetails.ErrorInfo, violations []*errdetails.BadRequest_FieldViolation) {
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			infos = append(infos, d)
		case *errdetails.BadRequest:
			violations = append(violations, d.GetFieldViolations()...)
		}
	}
	return infos, violations
}

func TestBadRequestNamesTheFieldAndRule(t *testing.T) {
	st := status.Convert(BadRequest("personDetails[0]", "must be object, got string", "json.type"))
	infos, violations := details(st)
	if st.Code() != codes.InvalidArgument || st.Message() != "invalid request: personDetails[0]: must be object, got string" {
		t.Errorf("status %v %q", st.Code(), st.Message())
	}
	wantInfo := []*errdetails.ErrorInfo{{Reason: ReasonValidationFailed, Domain: ErrorDomain, Metadata: map[string]string{MetaField: "personDetails[0]", MetaRule: "json.type"}}}
	if diff := cmp.Diff(wantInfo, infos, protocmp.Transform()); diff != "" {
		t.Errorf("ErrorInfo (-want +got):\n%s", diff)
	}
	wantViolations := []*errdetails.BadRequest_FieldViolation{{Field: "personDetails[0]", Description: "must be object, got string", Reason: "json.type"}}
	if diff := cmp.Diff(wantViolations, violations, protocmp.Transform()); diff != "" {
		t.Errorf("BadRequest (-want +got):\n%s", diff)
	}
	if again := ToStatus(st.Err()); !cmp.Equal(status.Convert(again).Proto(), st.Proto(), protocmp.Transform()) {
		t.Error("ToStatus changed a BadRequest")
	}
}

// TestValidationErrorsNameFieldsByJSONPath: protovalidate's violations, as its interceptor
// returns them, become a BadRequest naming each field as REST clients spell it.
func TestValidationErrorsNameFieldsByJSONPath(t *testing.T) {
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	verr := v.Validate(&cdv1.StartBatchRequest{
		PersonDetails: []*cdv1.PersonDetails{{}},
		RequestId:     "not-a-uuid",
	})
	if verr == nil {
		t.Fatal("the request passed validation")
	}
	st := status.Convert(convertError(verr))
	infos, violations := details(st)
	if st.Code() != codes.InvalidArgument || len(infos) != 1 || infos[0].GetReason() != ReasonValidationFailed {
		t.Fatalf("status %v %v, want INVALID_ARGUMENT with one ErrorInfo %s", st.Code(), infos, ReasonValidationFailed)
	}
	fields := map[string]string{}
	for _, fv := range violations {
		fields[fv.GetField()] = fv.GetReason()
	}
	want := map[string]string{"personDetails[0].linkedinUrl": "required", "requestId": "string.uuid"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("violated fields (-want +got):\n%s", diff)
	}
	if md := infos[0].GetMetadata(); md[MetaField] != violations[0].GetField() || md[MetaRule] != violations[0].GetReason() {
		t.Errorf("ErrorInfo metadata %v does not name the first violation %v", md, violations[0])
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
