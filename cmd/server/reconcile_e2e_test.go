package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
)

// TestAmbiguousStartIsRecordedForTheOperator: a start that went upstream without a usable
// answer fails with UPSTREAM_OUTCOME_UNKNOWN and leaves a durable record (caller, request
// key, key id, URLs; never the key) with the same id as the RECONCILE log line.
func TestAmbiguousStartIsRecordedForTheOperator(t *testing.T) {
	sim, url := newUpstream(t)
	store := filepath.Join(t.TempDir(), "fibergate.db")
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url, "-store", "sqlite:"+store)
	client := p.dial(t)

	for _, f := range []fiberfake.Fault{
		{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultDropAfter, Count: 1},
		{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultStatus, Status: 502, Message: "upstream of " + serverKey + " broke", Count: 1},
	} {
		if err := sim.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	reqs := []string{"7c9e6679-7425-40de-944b-e07fc1f90ae7", "a8098c1a-f86e-41c8-8f5b-0f3c3c3c3c3c"}
	for i, id := range reqs {
		_, err := client.StartBatch(testContext(t), idempotentStart(id, "https://www.linkedin.com/in/amb-"+string(rune('a'+i))))
		if st := status.Convert(err); st.Code() != codes.Unknown || errorInfo(st).GetReason() != "UPSTREAM_OUTCOME_UNKNOWN" {
			t.Fatalf("start %d: %v %v, want UNKNOWN UPSTREAM_OUTCOME_UNKNOWN", i, st.Code(), errorInfo(st))
		}
	}

	s, err := sqlite.Open(context.Background(), store) // the server runs: WAL lets us read
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs, err := s.ListAmbiguousStarts(testContext(t), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2: %+v", len(recs), recs)
	}
	logs := p.logs.String()
	for i, r := range recs {
		if !strings.HasSuffix(r.RequestKey, "/"+reqs[i]) || r.KeyID != fiber.KeyID(serverKey) || len(r.URLs) != 1 ||
			r.URLs[0] != "https://www.linkedin.com/in/amb-"+string(rune('a'+i)) || r.Owner == "" || r.Error == "" {
			t.Errorf("record %d: %+v", i, r)
		}
		if strings.Contains(r.Error, serverKey) {
			t.Errorf("record %d holds the key: %q", i, r.Error)
		}
		if !strings.Contains(logs, r.ID) {
			t.Errorf("record %s is not in the RECONCILE log line", r.ID)
		}
	}
	if !strings.Contains(logs, "RECONCILE") || strings.Contains(logs, serverKey) {
		t.Errorf("logs: RECONCILE line missing, or the key leaked")
	}
}
