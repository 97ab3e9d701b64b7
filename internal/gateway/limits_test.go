package gateway

import (
	"strings"
	"testing"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

func fieldRules(t *testing.T, md protoreflect.MessageDescriptor, name protoreflect.Name) *validatepb.FieldRules {
	t.Helper()
	fd := md.Fields().ByName(name)
	if fd == nil {
		t.Fatalf("%s has no field %s", md.FullName(), name)
	}
	rules, _ := proto.GetExtension(fd.Options(), validatepb.E_Field).(*validatepb.FieldRules)
	return rules
}

// TestDefaultMaxBodyBytesFitsTheContract: the caps DefaultMaxBodyBytes is derived from are
// the contract's (a URL capped in bytes, not characters, which could take 4 bytes each), and
// a maximal StartBatch fits it as protobuf, compact JSON and pretty-printed JSON.
func TestDefaultMaxBodyBytesFitsTheContract(t *testing.T) {
	people := fieldRules(t, (&cdv1.StartBatchRequest{}).ProtoReflect().Descriptor(), "person_details")
	if got := people.GetRepeated().GetMaxItems(); got != maxPeople {
		t.Errorf("the contract caps person_details at %d, maxPeople is %d", got, maxPeople)
	}
	url := fieldRules(t, (&cdv1.LinkedInUrl{}).ProtoReflect().Descriptor(), "value")
	if got := url.GetString().GetMaxBytes(); got != maxURLBytes {
		t.Errorf("the contract caps a LinkedIn URL at %d bytes (max_len %d characters), maxURLBytes is %d",
			got, url.GetString().GetMaxLen(), maxURLBytes)
	}

	req := &cdv1.StartBatchRequest{ApiKey: strings.Repeat("k", 512), RequestId: "5f0c7b5e-3d2a-4c1b-9e8f-0a1b2c3d4e5f"}
	for i := range maxPeople {
		// Two-byte characters, as a non-ASCII slug has: the URL is maxURLBytes long.
		u := "https://www.linkedin.com/in/" + strings.Repeat("é", maxURLBytes)
		u = u[:maxURLBytes-6] + string(rune('a'+i%26)) + strings.Repeat("x", 5)
		req.PersonDetails = append(req.PersonDetails, &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: u}})
	}
	if n := len(req.GetPersonDetails()[0].GetLinkedinUrl().GetValue()); n != maxURLBytes {
		t.Fatalf("the test's URL is %d bytes", n)
	}
	pb, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	compact, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	pretty, err := protojson.MarshalOptions{Multiline: true, Indent: "    "}.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"protobuf": len(pb), "compact JSON": len(compact), "pretty JSON": len(pretty)} {
		if n > DefaultMaxBodyBytes {
			t.Errorf("a maximal StartBatch is %d bytes as %s, more than DefaultMaxBodyBytes (%d)", n, name, DefaultMaxBodyBytes)
		}
	}
	if DefaultMaxBodyBytes != 6<<20 {
		t.Errorf("DefaultMaxBodyBytes = %d, documented as 6 MiB", DefaultMaxBodyBytes)
	}
}
