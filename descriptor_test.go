package fibergate_test

import (
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate"
	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// TestDescriptorSetIsTheCompiledContract: the descriptor set stands alone (every import is in
// it), describes the contract exactly as compiled into the Go code, and keeps the comments.
func TestDescriptorSetIsTheCompiledContract(t *testing.T) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(fibergate.DescriptorSet(), &set); err != nil {
		t.Fatal(err)
	}
	files, err := protodesc.NewFiles(&set) // fails if an import is missing
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]*descriptorpb.FileDescriptorProto{}
	for _, f := range set.GetFile() {
		byPath[f.GetName()] = f
	}
	for _, compiled := range []protoreflect.FileDescriptor{
		cdv1.File_fibergate_contactdetails_v1_contact_details_proto,
		cdv1.File_fibergate_contactdetails_v1_task_proto,
		cdv1.File_fibergate_contactdetails_v1_charge_proto,
	} {
		got := byPath[compiled.Path()]
		if got == nil {
			t.Errorf("%s is not in the descriptor set", compiled.Path())
			continue
		}
		if len(got.GetSourceCodeInfo().GetLocation()) == 0 {
			t.Errorf("%s has no source info (comments)", compiled.Path())
		}
		got = proto.CloneOf(got)
		got.SourceCodeInfo = nil
		if diff := cmp.Diff(protodesc.ToFileDescriptorProto(compiled), got, protocmp.Transform()); diff != "" {
			t.Errorf("%s differs from the compiled Go code (-compiled +set):\n%s", compiled.Path(), diff)
		}
	}

	// The types a client needs besides the contract: error details and health, by the names
	// the server uses.
	for _, m := range []proto.Message{&statuspb.Status{}, &errdetails.ErrorInfo{}, &errdetails.BadRequest{},
		&errdetails.RetryInfo{}, &errdetails.QuotaFailure{}, &healthpb.HealthCheckRequest{}} {
		name := m.ProtoReflect().Descriptor().FullName()
		if _, err := files.FindDescriptorByName(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	served := healthpb.File_grpc_health_v1_health_proto.Services().ByName("Health").Methods()
	for i := range served.Len() {
		name := served.Get(i).FullName()
		if _, err := files.FindDescriptorByName(name); err != nil {
			t.Errorf("the health service the server runs has %s; the descriptor set: %v", name, err)
		}
	}
	svc, err := files.FindDescriptorByName("fibergate.contactdetails.v1.ContactDetailsService")
	if err != nil {
		t.Fatal(err)
	}
	if c := svc.ParentFile().SourceLocations().ByDescriptor(svc).LeadingComments; c == "" {
		t.Error("ContactDetailsService has no comment in the descriptor set")
	}
}
