package server

import (
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	v1reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alphareflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/fibergate/fibergate"
)

// contractFiles parses the contract's descriptor set (fibergate.DescriptorSet), which carries
// the comments that the descriptors compiled into the binary lack.
func contractFiles() (*protoregistry.Files, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(fibergate.DescriptorSet(), &set); err != nil {
		return nil, fmt.Errorf("server: descriptor set: %w", err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("server: descriptor set: %w", err)
	}
	return files, nil
}

// withComments resolves descriptors from the contract's descriptor set first, so that
// reflection serves the contract with its comments, and everything else (the reflection
// service itself) from the descriptors compiled into the binary. A file is always resolved
// together with its imports from the same source.
type withComments struct {
	contract *protoregistry.Files
}

func (r withComments) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	fd, err := r.contract.FindFileByPath(path)
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalFiles.FindFileByPath(path)
	}
	return fd, err
}

func (r withComments) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	d, err := r.contract.FindDescriptorByName(name)
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalFiles.FindDescriptorByName(name)
	}
	return d, err
}

// registerReflection registers the reflection services (v1 and v1alpha) of g, answering from
// contract: `grpcurl describe` prints the contract's comments.
func registerReflection(g *grpc.Server, contract *protoregistry.Files) {
	svr := reflection.NewServerV1(reflection.ServerOptions{Services: g, DescriptorResolver: withComments{contract}})
	v1reflectiongrpc.RegisterServerReflectionServer(g, svr)
	v1alphareflectiongrpc.RegisterServerReflectionServer(g, reflection.NewServer(reflection.ServerOptions{Services: g, DescriptorResolver: withComments{contract}}))
}
