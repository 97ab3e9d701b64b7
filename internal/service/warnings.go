package service

import (
	"context"
	"fmt"
	"strings"

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
	// Room for the contract's depth, so that going down a level allocates nothing.
	unknownProtoFields(req.ProtoReflect(), make([]pathStep, 0, 8), &out)
	return out
}

// pathStep is one step down a message: a field, and for a list, the element's index.
type pathStep struct {
	field protoreflect.FieldDescriptor
	index int // -1: not a list element
}

// prefix is the JSON path of the message at path, with a trailing dot: "personDetails[2].".
// It is only formatted once an unknown field is found.
func prefix(path []pathStep) string {
	var b strings.Builder
	for _, st := range path {
		b.WriteString(st.field.JSONName())
		if st.index >= 0 {
			fmt.Fprintf(&b, "[%d]", st.index)
		}
		b.WriteByte('.')
	}
	return b.String()
}

// unknownProtoFields appends a warning for each unknown field in m, at path, and its
// sub-messages.
func unknownProtoFields(m protoreflect.Message, path []pathStep, out *[]*cdv1.Warning) {
	for b := m.GetUnknown(); len(b) > 0 && len(*out) < maxWarnings; {
		num, _, n := protowire.ConsumeField(b)
		if n < 0 {
			break
		}
		*out = append(*out, &cdv1.Warning{Field: fmt.Sprintf("%s#%d", prefix(path), num), Message: unknownFieldMessage})
		b = b[n:]
	}
	// The fields in declaration order (the contract declares no extensions).
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Message() == nil || fd.IsMap() || !m.Has(fd) {
			continue
		}
		if !fd.IsList() {
			unknownProtoFields(m.Get(fd).Message(), append(path, pathStep{fd, -1}), out)
			continue
		}
		l := m.Get(fd).List()
		for j := 0; j < l.Len() && len(*out) < maxWarnings; j++ {
			unknownProtoFields(l.Get(j).Message(), append(path, pathStep{fd, j}), out)
		}
	}
}
