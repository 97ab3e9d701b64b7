package service

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/apierr"
)

// withUnknown adds unknown varint fields of the numbers to m.
func withUnknown[M proto.Message](m M, nums ...protowire.Number) M {
	r := m.ProtoReflect()
	b := r.GetUnknown()
	for _, n := range nums {
		b = protowire.AppendVarint(protowire.AppendTag(b, n, protowire.VarintType), 1)
	}
	r.SetUnknown(b)
	return m
}

// TestRequestWarnings: unknown JSON fields the gateway reported, then unknown protobuf fields
// anywhere in the request, each named by its JSON path and number; at most maxWarnings.
func TestRequestWarnings(t *testing.T) {
	url := func(v string) *cdv1.LinkedInUrl { return &cdv1.LinkedInUrl{Value: v} }
	req := withUnknown(&cdv1.StartBatchRequest{
		PersonDetails: []*cdv1.PersonDetails{
			{LinkedinUrl: url("https://www.linkedin.com/in/a")},
			withUnknown(&cdv1.PersonDetails{LinkedinUrl: url("https://www.linkedin.com/in/b")}, 7),
			{LinkedinUrl: withUnknown(url("https://www.linkedin.com/in/c"), 8, 9)},
		},
		EnrichmentTypes: withUnknown(&cdv1.EnrichmentTypes{}, 5),
	}, 10)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(apierr.UnknownFieldsMetadataKey, "callbackUrl"))
	var got []string
	for _, w := range requestWarnings(ctx, req) {
		if w.GetMessage() != unknownFieldMessage {
			t.Errorf("warning %q: message %q", w.GetField(), w.GetMessage())
		}
		got = append(got, w.GetField())
	}
	want := []string{
		"callbackUrl", "#10", "personDetails[1].#7", "personDetails[2].linkedinUrl.#8",
		"personDetails[2].linkedinUrl.#9", "enrichmentTypes.#5",
	}
	// The gateway's first, then the request's, in no particular order of fields.
	if len(got) == 0 || got[0] != want[0] {
		t.Errorf("first warning %v, want the gateway's %q", got, want[0])
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}

	many := &cdv1.StartBatchRequest{}
	for i := range 150 {
		many.PersonDetails = append(many.PersonDetails, withUnknown(&cdv1.PersonDetails{LinkedinUrl: url(fmt.Sprint(i))}, 3))
	}
	ws := requestWarnings(context.Background(), many)
	if len(ws) != maxWarnings || ws[maxWarnings-1].GetField() != fmt.Sprintf("personDetails[%d].#3", maxWarnings-1) {
		t.Errorf("%d warnings, the last %v; want %d, the last of personDetails[%d]", len(ws), ws[len(ws)-1], maxWarnings, maxWarnings-1)
	}
	if ws := requestWarnings(context.Background(), &cdv1.StartBatchRequest{PersonDetails: many.PersonDetails[:0]}); ws != nil {
		t.Errorf("warnings of a request without unknown fields: %v", ws)
	}
}

// BenchmarkRequestWarnings looks for unknown fields in a 2000-person start that has none.
func BenchmarkRequestWarnings(b *testing.B) {
	req := &cdv1.StartBatchRequest{EnrichmentTypes: &cdv1.EnrichmentTypes{}}
	for i := range 2000 {
		req.PersonDetails = append(req.PersonDetails, &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: fmt.Sprint("https://www.linkedin.com/in/p-", i)}})
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if ws := requestWarnings(ctx, req); ws != nil {
			b.Fatal(ws)
		}
	}
}
