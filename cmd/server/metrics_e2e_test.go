package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
)

// metricsAddr waits for the server's "metrics listening" log line and returns its address.
func (p *proc) metricsAddr(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for line := range strings.SplitSeq(p.logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "metrics listening" {
				return rec["metrics_addr"].(string)
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("server exited: %v", p.exitErr)
		case <-time.After(10 * time.Millisecond): // the line comes right after start-up
		}
	}
	t.Fatal("no metrics listening line")
	return ""
}

// TestMetricsEndpoint: -metrics-addr serves Prometheus metrics of the gRPC calls, the Fiber
// attempts, the budget and the replica id, and no label or value holds the key or its id.
func TestMetricsEndpoint(t *testing.T) {
	_, url := newUpstream(t)
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url, "-metrics-addr", "127.0.0.1:0", "-replica-id", "e2e-replica")
	client := p.dial(t)
	if _, err := client.StartBatch(testContext(t), oneStart()); err != nil {
		t.Fatal(err)
	}
	if _, err := client.StartBatch(testContext(t), &cdv1.StartBatchRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("empty start: %v", err)
	}
	resp, err := http.Get("http://" + p.metricsAddr(t) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	text := string(body)
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="StartBatch",grpc_service="fibergate.contactdetails.v1.ContactDetailsService",grpc_type="unary"} 1`,
		`grpc_server_handled_total{grpc_code="InvalidArgument",grpc_method="StartBatch",grpc_service="fibergate.contactdetails.v1.ContactDetailsService",grpc_type="unary"} 1`,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="WatchTask",grpc_service="fibergate.contactdetails.v1.ContactDetailsService",grpc_type="server_stream"} 0`,
		`fibergate_fiber_attempts_total{endpoint="start",outcome="ok"} 1`,
		`fibergate_budget_grants_total{endpoint="start"} 1`,
		`fibergate_budget_queue_depth{endpoint="start"} 0`,
		`fibergate_replica_info{replica="e2e-replica"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, serverKey) || strings.Contains(text, fiber.KeyID(serverKey)) {
		t.Error("/metrics names the Fiber key or its id")
	}
}
