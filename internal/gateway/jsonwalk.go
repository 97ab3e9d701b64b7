package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/fibergate/fibergate/internal/apierr"
)

// maxUnknownFields caps how many unknown field paths one request reports.
const maxUnknownFields = 100

// maxJSONDepth caps nesting; the contract's deepest valid path is 4 levels.
const maxJSONDepth = 32

// jsonWalker compares a JSON document with a message descriptor the way protojson reads it
// (JSON names or proto names, null for unset). It collects unknown field paths and stops at
// the first value of the wrong JSON type.
type jsonWalker struct {
	unknown []string
}

func (w *jsonWalker) walk(body []byte, md protoreflect.MessageDescriptor) error {
	if depth := nesting(body); depth > maxJSONDepth {
		return apierr.BadRequest("", fmt.Sprintf("JSON nested %d levels deep; at most %d allowed", depth, maxJSONDepth), "json.too_deep")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return apierr.BadRequest("", "the body is not valid JSON: "+err.Error(), "json.syntax")
	}
	if dec.More() {
		return apierr.BadRequest("", "the body holds more than one JSON value", "json.syntax")
	}
	return w.message(doc, md, "")
}

func (w *jsonWalker) message(v any, md protoreflect.MessageDescriptor, path string) error {
	if v == nil {
		return nil
	}
	if md.FullName().Parent() == "google.protobuf" {
		return nil // well-known types have their own JSON forms; protojson checks them
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return typeError(path, "an object", v)
	}
	for key, val := range obj {
		fd := md.Fields().ByJSONName(key)
		if fd == nil {
			fd = md.Fields().ByTextName(key)
		}
		p := join(path, key)
		if fd == nil {
			if len(w.unknown) < maxUnknownFields {
				w.unknown = append(w.unknown, p)
			}
			continue
		}
		if err := w.field(val, fd, p); err != nil {
			return err
		}
	}
	return nil
}

func (w *jsonWalker) field(v any, fd protoreflect.FieldDescriptor, path string) error {
	if v == nil {
		return nil
	}
	switch {
	case fd.IsMap():
		if _, ok := v.(map[string]any); !ok {
			return typeError(path, "an object", v)
		}
		return nil
	case fd.IsList():
		arr, ok := v.([]any)
		if !ok {
			return typeError(path, "an array", v)
		}
		for i, e := range arr {
			if err := w.single(e, fd, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		return nil
	}
	return w.single(v, fd, path)
}

func (w *jsonWalker) single(v any, fd protoreflect.FieldDescriptor, path string) error {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return w.message(v, fd.Message(), path)
	case protoreflect.StringKind, protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			return typeError(path, "a string", v)
		}
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			return typeError(path, "true or false", v)
		}
	case protoreflect.EnumKind:
		switch v.(type) {
		case string, json.Number:
		default:
			return typeError(path, "an enum name", v)
		}
	default: // numbers: protojson also takes them quoted
		switch v.(type) {
		case json.Number, string:
		default:
			return typeError(path, "a number", v)
		}
	}
	return nil
}

func typeError(path, want string, got any) error {
	return apierr.BadRequest(path, fmt.Sprintf("must be %s, got %s", want, jsonType(got)), "json.type")
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// nesting returns the deepest nesting of objects and arrays in a JSON text, ignoring brackets
// inside strings. It does not validate.
func nesting(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
