package fiberfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// reqError is a request Fiber refuses: it becomes a {"message"} answer with
// its status.
type reqError struct {
	status     int
	msg        string
	alert      *creditAlert  // outOfCreditsAlert of a 402
	retryAfter time.Duration // Retry-After of a 429, when enabled
}

func (e *reqError) Error() string { return e.msg }

// badRequest is a 400 whose message names the offending field path.
func badRequest(path, format string, args ...any) *reqError {
	return &reqError{status: http.StatusBadRequest, msg: path + ": " + fmt.Sprintf(format, args...)}
}

// object is a JSON object being read field by field. Paths are dotted, with
// array indexes as their own segments: "personDetails.3.linkedinUrl.value".
type object struct {
	path   string
	fields map[string]json.RawMessage
}

// decodeObject reads raw as an object at path ("" for the request body) and
// adds one warning per key not in known, in key order, as Fiber does for
// extraneous fields.
func decodeObject(raw json.RawMessage, path string, known []string, warns *[]apiWarning) (object, *reqError) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		if path == "" {
			return object{}, &reqError{status: http.StatusBadRequest, msg: "request body must be a JSON object"}
		}
		return object{}, badRequest(path, "expected an object")
	}
	o := object{path: path, fields: fields}
	var unknown []string
	for k := range fields {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		*warns = append(*warns, apiWarning{
			Field:   o.child(k),
			Message: fmt.Sprintf("Unrecognized key %q was ignored.", k),
		})
	}
	return o, nil
}

// child is the path of field name.
func (o object) child(name string) string {
	if o.path == "" {
		return name
	}
	return o.path + "." + name
}

// get returns field name unless it is absent or null.
func (o object) get(name string) (json.RawMessage, bool) {
	raw, ok := o.fields[name]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, false
	}
	return raw, true
}

// str reads an optional string field.
func (o object) str(name string) (string, bool, *reqError) {
	raw, ok := o.get(name)
	if !ok {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, badRequest(o.child(name), "expected a string")
	}
	return s, true, nil
}

// boolean reads an optional boolean field with a default.
func (o object) boolean(name string, def bool) (bool, *reqError) {
	raw, ok := o.get(name)
	if !ok {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, badRequest(o.child(name), "expected a boolean")
	}
	return b, nil
}

// integer reads an optional integer field.
func (o object) integer(name string) (int, bool, *reqError) {
	raw, ok := o.get(name)
	if !ok {
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1e9 {
		return 0, false, badRequest(o.child(name), "expected an integer")
	}
	return int(f), true, nil
}

// array reads an optional array field.
func (o object) array(name string) ([]json.RawMessage, bool, *reqError) {
	raw, ok := o.get(name)
	if !ok {
		return nil, false, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, false, badRequest(o.child(name), "expected an array")
	}
	return items, true, nil
}

// index is the path of item i of array field name.
func (o object) index(name string, i int) string {
	return o.child(name) + "." + strconv.Itoa(i)
}

// apiKeyOf reads the apiKey field. A missing, empty or unknown key (one for
// which exists is false) is a 401, a key that is not a string a 400.
func apiKeyOf(o object, exists func(string) bool) (string, *reqError) {
	key, ok, err := o.str("apiKey")
	if err != nil {
		return "", err
	}
	if !ok || key == "" {
		return "", &reqError{status: http.StatusUnauthorized, msg: "apiKey is required"}
	}
	if !exists(key) {
		return "", &reqError{status: http.StatusUnauthorized, msg: "invalid apiKey"}
	}
	return key, nil
}

// open does what every endpoint does first, in Fiber's order: decode the body as an object of
// the known fields (others become warnings), check the API key (401), then count the call
// against the key's rate limit (429). It returns the body, the key and the time of arrival.
func (s *Sim) open(body []byte, ep Endpoint, warns *[]apiWarning, known ...string) (object, string, time.Time, *reqError) {
	top, err := decodeObject(body, "", known, warns)
	if err != nil {
		return object{}, "", time.Time{}, err
	}
	key, err := apiKeyOf(top, s.keyExists)
	if err != nil {
		return object{}, "", time.Time{}, err
	}
	s.mu.Lock()
	now := time.Now()
	err = s.admit(key, ep, now)
	s.mu.Unlock()
	if err != nil {
		return object{}, "", time.Time{}, err
	}
	return top, key, now, nil
}
