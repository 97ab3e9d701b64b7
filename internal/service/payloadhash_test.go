package service

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
)

// clonedPayloadHash is payloadHash as it was first written, with a deep copy of the request:
// stored hashes were made so.
func clonedPayloadHash(req *cdv1.StartBatchRequest, apiKey string) string {
	c := proto.CloneOf(req)
	c.RequestId, c.ApiKey = "", fiber.KeyID(apiKey)
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestPayloadHashStable: payloadHash gives the hashes stored before (a retry across an upgrade
// is still recognised), leaves the request as it was, and tells payloads apart.
func TestPayloadHashStable(t *testing.T) {
	yes, no := true, false
	url := func(v string) *cdv1.LinkedInUrl { return &cdv1.LinkedInUrl{Value: v} }
	reqs := []*cdv1.StartBatchRequest{
		{},
		{PersonDetails: []*cdv1.PersonDetails{{LinkedinUrl: url("https://www.linkedin.com/in/a")}}},
		{
			ApiKey: "sk-caller", RequestId: "0b0e6f2a-3c3d-4f43-9a4b-8f0d3b7f6a11",
			PersonDetails: []*cdv1.PersonDetails{
				{LinkedinUrl: url("https://www.linkedin.com/in/a")},
				withUnknown(&cdv1.PersonDetails{LinkedinUrl: withUnknown(url("https://www.linkedin.com/in/b"), 9)}, 7),
			},
			EnrichmentTypes: &cdv1.EnrichmentTypes{GetWorkEmails: &yes, GetPhoneNumbers: &no},
		},
		withUnknown(&cdv1.StartBatchRequest{
			RequestId:       "0b0e6f2a-3c3d-4f43-9a4b-8f0d3b7f6a11",
			PersonDetails:   []*cdv1.PersonDetails{{LinkedinUrl: url("https://www.linkedin.com/in/c")}},
			EnrichmentTypes: withUnknown(&cdv1.EnrichmentTypes{}, 5),
		}, 10, 11),
	}
	seen := map[string]int{}
	for i, req := range reqs {
		for _, key := range []string{"sk-server", "sk-caller"} {
			before := proto.CloneOf(req)
			got, err := payloadHash(req, key)
			if err != nil {
				t.Fatal(err)
			}
			if want := clonedPayloadHash(req, key); got != want {
				t.Errorf("request %d, key %s: hash %s, want %s", i, key, got, want)
			}
			if !proto.Equal(req, before) {
				t.Errorf("request %d: payloadHash changed it", i)
			}
			name := fmt.Sprintf("request %d, key %s", i, key)
			if j, dup := seen[got]; dup {
				t.Errorf("%s: same hash as case %d", name, j)
			}
			seen[got] = i
		}
	}
}

// BenchmarkPayloadHash hashes a 2000-person start.
func BenchmarkPayloadHash(b *testing.B) {
	req := &cdv1.StartBatchRequest{RequestId: "0b0e6f2a-3c3d-4f43-9a4b-8f0d3b7f6a11"}
	for i := range 2000 {
		req.PersonDetails = append(req.PersonDetails, &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: fmt.Sprint("https://www.linkedin.com/in/p-", i)}})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := payloadHash(req, "sk-bench"); err != nil {
			b.Fatal(err)
		}
	}
}
