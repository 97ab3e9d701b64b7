package gateway

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/fibergate/fibergate/internal/apierr"
)

// TestOpenAPIDocumentsTheIdempotencyKeyHeader: the REST header the service reads for
// StartBatch is in the generated OpenAPI document, with what a client needs to retry safely.
func TestOpenAPIDocumentsTheIdempotencyKeyHeader(t *testing.T) {
	raw, err := os.ReadFile("../../gen/openapiv2/fibergate.swagger.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name, In, Description, Type, Format string
				Required                            bool
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range doc.Paths["/v1/contact-details/batch/start"]["post"].Parameters {
		if p.In != "header" || !strings.EqualFold(p.Name, apierr.IdempotencyKeyHeader) {
			continue
		}
		found = true
		if p.Required || p.Type != "string" || p.Format != "uuid" {
			t.Errorf("header %s: required %v, type %q, format %q; want an optional string of format uuid", p.Name, p.Required, p.Type, p.Format)
		}
		for _, want := range []string{"retry", "same body", "charged twice", "24 hours"} {
			if !strings.Contains(p.Description, want) {
				t.Errorf("the header's description does not say %q: %s", want, p.Description)
			}
		}
	}
	if !found {
		t.Errorf("POST /v1/contact-details/batch/start documents no %s header", apierr.IdempotencyKeyHeader)
	}
}
