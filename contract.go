// Package fibergate holds fibergate's contract as data, for programs that need the API's
// descriptors with their documentation: gen/fibergate.binpb, made by scripts/generate.sh from
// proto/. The gRPC server answers reflection from it (internal/server).
package fibergate

import (
	"bytes"
	_ "embed"
)

//go:embed gen/fibergate.binpb
var descriptorSet []byte

// DescriptorSet returns the contract as a serialized google.protobuf.FileDescriptorSet: every
// file of proto/ with all its imports, google/rpc/{status,error_details,code}.proto and
// grpc/health/v1/health.proto, each after its dependencies and with its source info, so the
// comments of every service, method, message and field. It is a new copy on every call.
func DescriptorSet() []byte { return bytes.Clone(descriptorSet) }
