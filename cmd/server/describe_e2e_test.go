package main

import (
	"strings"
	"testing"
)

// TestDescribeShowsTheContractsComments: `grpcurl describe` prints the contract's comments,
// both through the server's reflection and from the committed descriptor set alone
// (-protoset, no server), for services, methods, messages, fields, enum values and the
// google.rpc error details a client decodes.
func TestDescribeShowsTheContractsComments(t *testing.T) {
	p := startServer(t, nil, "-fake-fiber")
	const pkg = "fibergate.contactdetails.v1."
	cases := []struct {
		symbol string
		wants  []string
	}{
		{pkg + "ContactDetailsService", []string{
			"// ContactDetailsService starts Fiber contact-details batches and follows them to completion.",
			"// StartBatch starts fetching contact details for 1 to 2000 people",
			"// WatchTask streams a task's progress and its results as they arrive.",
		}},
		{pkg + "ContactDetailsService.CancelTask", []string{"// CancelTask cancels the profiles Fiber has not claimed yet"}},
		{pkg + "WatchTaskResponse", []string{
			"// WatchTaskResponse is one step of a watched task.",
			"// Opaque token: pass it to WatchTask to continue right after this message.",
		}},
		{pkg + "StartBatchRequest.request_id", []string{"// Client-chosen UUID identifying this start (AIP-155)."}},
		{pkg + "TaskState", []string{"// TaskState is where a task is in its life.", "// Fiber finished the task and every result was fetched."}},
		{"google.rpc.RetryInfo", []string{"// Describes when the clients can retry a failed request."}},
		{"grpc.health.v1.Health", []string{"// Health is gRPC's mechanism for checking whether a server is able to handle"}},
	}
	for _, c := range cases {
		out, errOut, ok := p.grpcurl(t, "ADDR", "describe", c.symbol)
		if !ok {
			t.Errorf("reflection: describe %s: %s", c.symbol, errOut)
		}
		mustContain(t, out, c.wants...)

		out, errOut, ok = p.grpcurl(t, "-protoset", "../../gen/fibergate.binpb", "describe", c.symbol)
		if !ok {
			t.Errorf("-protoset: describe %s: %s", c.symbol, errOut)
		}
		mustContain(t, out, c.wants...)
	}

	// Every service the server lists is described, the reflection service included.
	out, errOut, ok := p.grpcurl(t, "ADDR", "list")
	if !ok {
		t.Fatalf("list: %s", errOut)
	}
	for _, svc := range strings.Fields(out) {
		if _, errOut, ok := p.grpcurl(t, "ADDR", "describe", svc); !ok {
			t.Errorf("describe %s: %s", svc, errOut)
		}
	}
}
