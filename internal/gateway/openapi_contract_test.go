package gateway_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/fibergate/fibergate"
	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/gateway"
)

// schema is the part of an OpenAPI schema object or parameter these tests read.
type schema struct {
	Type       string            `json:"type"`
	Format     string            `json:"format"`
	Pattern    string            `json:"pattern"`
	MinLength  *int              `json:"minLength"`
	MaxLength  *int              `json:"maxLength"`
	MinItems   *int              `json:"minItems"`
	MaxItems   *int              `json:"maxItems"`
	Nullable   bool              `json:"nullable"`   // OpenAPI 3
	XNullable  bool              `json:"x-nullable"` // OpenAPI 2
	Required   []string          `json:"required"`
	Properties map[string]schema `json:"properties"`
}

// parameter is an OpenAPI parameter: v2 has its pattern inline, v3 in its schema.
type parameter struct {
	Name, In, Pattern string
	Schema            struct{ Pattern string }
}

type document struct {
	Info        struct{ Title, Version string }
	Definitions map[string]schema // OpenAPI 2
	Components  struct {
		Schemas map[string]schema
	} // OpenAPI 3
	Paths map[string]map[string]struct {
		Produces   []string
		Parameters []parameter
		Responses  map[string]struct {
			Content map[string]json.RawMessage
		}
	}
}

func parse(t *testing.T, raw []byte) document {
	t.Helper()
	var doc document
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func rules(fd protoreflect.FieldDescriptor) *validatepb.FieldRules {
	r, _ := proto.GetExtension(fd.Options(), validatepb.E_Field).(*validatepb.FieldRules)
	return r
}

func intIs(p *int, want uint64) bool { return p != nil && uint64(*p) == want }

// celPattern returns the regular expression of a rule `this.matches('...')`, without group
// names, which OpenAPI's ECMAScript patterns and RE2 write differently.
func celPattern(t *testing.T, r *validatepb.FieldRules, id string) string {
	t.Helper()
	for _, c := range r.GetCel() {
		if c.GetId() != id {
			continue
		}
		m := regexp.MustCompile(`this\.matches\('(.*)'\)$`).FindStringSubmatch(c.GetExpression())
		if m == nil {
			t.Fatalf("rule %s: %q is not this.matches('...')", id, c.GetExpression())
		}
		return strings.ReplaceAll(strings.ReplaceAll(m[1], `\\`, `\`), "?<slug>", "")
	}
	t.Fatalf("no rule %s", id)
	return ""
}

// TestOpenAPIStatesTheValidationRules: the limits the server enforces with protovalidate are
// also in both OpenAPI descriptions, so that generated clients and validators know them.
func TestOpenAPIStatesTheValidationRules(t *testing.T) {
	for name, raw := range map[string][]byte{"v2": fibergate.OpenAPIv2(), "v3": fibergate.OpenAPIv3()} {
		t.Run(name, func(t *testing.T) {
			doc := parse(t, raw)
			defs := doc.Definitions
			if name == "v3" {
				defs = doc.Components.Schemas
			}
			start := (&cdv1.StartBatchRequest{}).ProtoReflect().Descriptor().Fields()
			req := defs["v1StartBatchRequest"]
			people := rules(start.ByName("person_details")).GetRepeated()
			if p := req.Properties["personDetails"]; !intIs(p.MinItems, people.GetMinItems()) || !intIs(p.MaxItems, people.GetMaxItems()) ||
				!contains(req.Required, "personDetails") {
				t.Errorf("personDetails: %+v, required %v; want %d to %d items, required", p, req.Required, people.GetMinItems(), people.GetMaxItems())
			}
			if p, r := req.Properties["apiKey"], rules(start.ByName("api_key")).GetString(); !intIs(p.MaxLength, r.GetMaxLen()) {
				t.Errorf("apiKey: %+v, want maxLength %d", p, r.GetMaxLen())
			}
			if p, r := req.Properties["requestId"], rules(start.ByName("request_id")).GetString(); !r.GetUuid() || p.Format != "uuid" {
				t.Errorf("requestId: %+v, want format uuid", p)
			}
			urlField := (&cdv1.LinkedInUrl{}).ProtoReflect().Descriptor().Fields().ByName("value")
			url, r := defs["v1LinkedInUrl"], rules(urlField)
			if p := url.Properties["value"]; !intIs(p.MinLength, r.GetString().GetMinLen()) || !intIs(p.MaxLength, r.GetString().GetMaxBytes()) ||
				p.Pattern != celPattern(t, r, "linkedin_url.pattern") || !contains(url.Required, "value") {
				t.Errorf("linkedinUrl.value: pattern %q, lengths %v to %v, required %v; want pattern %q, lengths %d to %d, required", p.Pattern, deref(p.MinLength), deref(p.MaxLength), url.Required, celPattern(t, r, "linkedin_url.pattern"),
					r.GetString().GetMinLen(), r.GetString().GetMaxBytes())
			}
			if _, err := regexp.Compile(url.Properties["value"].Pattern); err != nil {
				t.Errorf("the URL pattern does not compile: %v", err)
			}

			// Every taskId path parameter has the pattern of every request's task_id.
			taskID := rules((&cdv1.GetTaskRequest{}).ProtoReflect().Descriptor().Fields().ByName("task_id")).GetString().GetPattern()
			n := 0
			for path, ops := range doc.Paths {
				for method, op := range ops {
					for _, p := range op.Parameters {
						if p.In == "path" && p.Name == "taskId" {
							n++
							pattern := p.Pattern + p.Schema.Pattern // one of them is empty
							if pattern != taskID {
								t.Errorf("%s %s: taskId pattern %q, want %q", method, path, pattern, taskID)
							}
						}
					}
				}
			}
			if n != 5 {
				t.Errorf("%d taskId path parameters, want 5", n)
			}
		})
	}
}

// TestOpenAPIDescribesWhatTheServerSends: a title and version, the fields always sent marked
// required, the message fields sent as null when unset marked nullable, and WatchTask's
// answer as NDJSON.
func TestOpenAPIDescribesWhatTheServerSends(t *testing.T) {
	for name, raw := range map[string][]byte{"v2": fibergate.OpenAPIv2(), "v3": fibergate.OpenAPIv3()} {
		t.Run(name, func(t *testing.T) {
			doc := parse(t, raw)
			defs := doc.Definitions
			if name == "v3" {
				defs = doc.Components.Schemas
			}
			if doc.Info.Title != "fibergate" || doc.Info.Version != "v1" {
				t.Errorf("info: title %q, version %q", doc.Info.Title, doc.Info.Version)
			}
			for def, fields := range map[string][]string{
				"v1Task":                    {"taskId", "state"},
				"v1WatchTaskResponse":       {"taskId", "state", "resumeToken"},
				"v1StartBatchOutput":        {"taskId"},
				"v1ListTaskResultsResponse": {"state"},
				"v1PersonResult":            {"linkedinUrl", "sequence"},
			} {
				for _, f := range fields {
					if !contains(defs[def].Required, f) {
						t.Errorf("%s.%s is not required (%v)", def, f, defs[def].Required)
					}
				}
			}
			for def, fields := range map[string][]string{
				"v1Task":                   {"chargeInfo", "finishTime", "cancellation"},
				"v1WatchTaskResponse":      {"cancellation"},
				"v1ChargedNow":             {"lowCreditAlert"},
				"v1ChargingLater":          {"lowCreditAlert"},
				"v1ChargedForAsyncProcess": {"lowCreditAlert"},
				"v1Free":                   {"lowCreditAlert"},
				"v1CreditsRefunded":        {"lowCreditAlert"},
			} {
				for _, f := range fields {
					p := defs[def].Properties[f]
					if (name == "v2" && !p.XNullable) || (name == "v3" && !p.Nullable) {
						t.Errorf("%s.%s is not nullable: %+v", def, f, p)
					}
				}
			}
			watch := doc.Paths["/v1/contact-details/batch/{taskId}:watch"]["get"]
			if name == "v2" && (len(watch.Produces) != 1 || watch.Produces[0] != gateway.NDJSON) {
				t.Errorf("WatchTask produces %v, want %s", watch.Produces, gateway.NDJSON)
			}
			if _, ok := watch.Responses["200"].Content[gateway.NDJSON]; name == "v3" && !ok {
				t.Errorf("WatchTask's 200 answer is not %s", gateway.NDJSON)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
