package gateway

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

func TestCheckJSON(t *testing.T) {
	md := (&cdv1.StartBatchRequest{}).ProtoReflect().Descriptor()
	tests := []struct {
		name    string
		body    string
		unknown []string
		field   string // "" with wantErr means no specific field
		wantErr bool
	}{
		{name: "Fiber's body", body: `{"apiKey":"k","personDetails":[{"linkedinUrl":{"value":"u"}}],"enrichmentTypes":{"getWorkEmails":true}}`},
		{name: "proto names", body: `{"api_key":"k","person_details":[{"linkedin_url":{"value":"u"}}]}`},
		{name: "nulls are unset", body: `{"apiKey":null,"personDetails":null,"enrichmentTypes":{"getWorkEmails":null}}`},
		{name: "unknown at every level", body: `{"x":1,"personDetails":[{"y":2,"linkedinUrl":{"value":"u","z":[1]}}],"enrichmentTypes":{"w":{}}}`,
			unknown: []string{"enrichmentTypes.w", "personDetails[0].linkedinUrl.z", "personDetails[0].y", "x"}},
		{name: "string for array", body: `{"personDetails":"u"}`, field: "personDetails", wantErr: true},
		{name: "number for string", body: `{"personDetails":[{"linkedinUrl":{"value":1}}]}`, field: "personDetails[0].linkedinUrl.value", wantErr: true},
		{name: "string for bool", body: `{"enrichmentTypes":{"getPhoneNumbers":"no"}}`, field: "enrichmentTypes.getPhoneNumbers", wantErr: true},
		{name: "invalid UTF-8", body: "{\"apiKey\":\"\xff\"}", wantErr: true},
		{name: "syntax", body: `{"apiKey":`, wantErr: true},
		{name: "too deep", body: `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, wantErr: true},
		{name: "brackets in strings are not nesting", body: `{"apiKey":"` + strings.Repeat("[", 100) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unknown, err := checkJSON(md, []byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				st := status.Convert(err)
				var fields []string
				for _, d := range st.Details() {
					if br, ok := d.(*errdetails.BadRequest); ok {
						for _, v := range br.GetFieldViolations() {
							fields = append(fields, v.GetField())
						}
					}
				}
				if len(fields) != 1 || fields[0] != tt.field {
					t.Errorf("violations %v, want [%q]", fields, tt.field)
				}
				return
			}
			slices.Sort(unknown)
			if diff := cmp.Diff(tt.unknown, unknown); diff != "" {
				t.Errorf("unknown (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzCheckJSON: any body either passes (and then protojson accepts it) or is refused with
// INVALID_ARGUMENT; nothing panics.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"personDetails":[{"linkedinUrl":{"value":"u"}}]}`, `{"a":[[[]]]}`, `[]`, `"x"`, `{"apiKey":"\ud800"}`} {
		f.Add([]byte(s))
	}
	md := (&cdv1.StartBatchRequest{}).ProtoReflect().Descriptor()
	f.Fuzz(func(t *testing.T, body []byte) {
		unknown, err := checkJSON(md, body)
		if err != nil {
			if status.Code(err).String() != "InvalidArgument" {
				t.Fatalf("code %v", status.Code(err))
			}
			return
		}
		if len(unknown) > maxUnknownFields {
			t.Fatalf("%d unknown fields reported", len(unknown))
		}
		// What passes reaches the handler: the gateway's own decoding must take it.
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &cdv1.StartBatchRequest{}); err != nil {
			t.Fatalf("accepted a body the gateway cannot decode: %v", err)
		}
	})
}

func TestQueryParamErrorsNameTheParameter(t *testing.T) {
	err := queryParamError(status.Error(codes.InvalidArgument, `parsing field "page_size": strconv.ParseInt: parsing "abc": invalid syntax`))
	st := status.Convert(err)
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	if st.Code() != codes.InvalidArgument || len(fields) != 1 || fields[0] != "pageSize" {
		t.Errorf("got %v %v, want INVALID_ARGUMENT naming pageSize", st.Code(), fields)
	}
	other := status.Error(codes.InvalidArgument, "something else")
	if got := queryParamError(other); got != other {
		t.Errorf("an unrelated error was rewritten: %v", got)
	}
}
