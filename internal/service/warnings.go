package service

import (
	"context"
	"fmt"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/apierr"
)

// maxWarnings caps the warnings of one response, so a hostile request cannot inflate it.
const maxWarnings = 100

const unknownFieldMessage = "unknown field ignored"

// requestWarnings lists what of the request was not understood: unknown JSON fields reported by
// the gateway, and unknown protobuf fields (a client built from a newer contract).
func requestWarnings(ctx context.Context, req proto.Message) []*cdv1.Warning {
	var out []*cdv1.Warning
	md, _ := metadata.FromIncomingContext(ctx)
	for _, path := range md.Get(apierr.UnknownFieldsMetadataKey) {
		if len(out) == maxWarnings {
			return out
		}
		out = append(out, &cdv1.Warning{Field: path, Message: unknownFieldMessage})
	}
	unknownProtoFields(req.ProtoReflect(), "", &out)
	return out
}

// unknownProtoFields appends a warning for each unknown field in m and its sub-messages.
func unknownProtoFields(m protoreflect.Message, prefix string, out *[]*cdv1.Warning) {
	for b := m.GetUnknown(); len(b) > 0 && len(*out) < maxWarnings; {
		num, _, n := protowire.ConsumeField(b)
		if n < 0 {
			break
		}
		*out = append(*out, &cdv1.Warning{Field: fmt.Sprintf("%s#%d", prefix, num), Message: unknownFieldMessage})
		b = b[n:]
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		name := prefix + fd.JSONName()
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len() && len(*out) < maxWarnings; i++ {
				unknownProtoFields(l.Get(i).Message(), fmt.Sprintf("%s[%d].", name, i), out)
			}
			return true
		}
		unknownProtoFields(v.Message(), name+".", out)
		return true
	})
}
