package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/apierr"
	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
)

// TestPostgresOutage runs the real binary on a PostgreSQL database of its own, which goes
// away mid-task: it refuses connections and those the server holds are cut. The server turns
// not ready (the service's health NOT_SERVING, GET /healthz 503) but stays alive (health ""
// SERVING, GET /livez 200); the watch ends UNAVAILABLE STORE_UNAVAILABLE; starts are refused
// the same way, over REST with 503 and Retry-After, and none reaches Fiber. Once the database
// takes connections again the server is ready again, the watch resumed with its token gets
// the rest, and the task ends with every result once.
func TestPostgresOutage(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	p := startServer(t, nil, "-fake-fiber", "-store", dsn, "-metrics-addr", "127.0.0.1:0")
	client := p.dial(t)
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	hc := healthpb.NewHealthClient(conn)
	serviceName := cdv1.ContactDetailsService_ServiceDesc.ServiceName
	metrics := "http://" + p.metricsAddr(t) + "/metrics"

	// 600 people take the simulator 12s: the outage comes long before the end.
	b := runBatch(1, 600)
	id := b.start(t, client)
	ctx := testContext(t)
	stream, err := client.WatchTask(ctx, &cdv1.WatchTaskRequest{TaskId: id})
	if err != nil {
		t.Fatal(err)
	}
	var got []*cdv1.PersonResult
	token := ""
	for len(got) == 0 {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("the watch before the outage: %v", err)
		}
		got = append(got, m.GetResults()...)
		token = m.GetResumeToken()
	}

	end := pgtest.Outage(t, dsn)
	outage := time.Now()
	waitHealth(t, hc, serviceName, healthpb.HealthCheckResponse_NOT_SERVING)
	t.Logf("not ready %v after the database went away", time.Since(outage).Round(time.Millisecond))
	if resp, err := hc.Check(testContext(t), &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("liveness (health of \"\") during the outage: %v, %v; want SERVING", resp.GetStatus(), err)
	}
	if code, _, body := p.rest(t, http.MethodGet, "/healthz", nil, nil); code != http.StatusServiceUnavailable {
		t.Errorf("GET /healthz during the outage: HTTP %d %s, want 503", code, body)
	}
	if code, _, body := p.rest(t, http.MethodGet, "/livez", nil, nil); code != http.StatusOK {
		t.Errorf("GET /livez during the outage: HTTP %d %s, want 200", code, body)
	}

	// The watch ends, after any results stored before the database went away.
	for {
		m, err := stream.Recv()
		if err != nil {
			wantStoreUnavailable(t, "the watch during the outage", err)
			break
		}
		got = append(got, m.GetResults()...)
		token = m.GetResumeToken()
	}
	resumed, err := client.WatchTask(testContext(t), &cdv1.WatchTaskRequest{TaskId: id, ResumeToken: token})
	if err == nil {
		_, err = resumed.Recv()
	}
	wantStoreUnavailable(t, "a watch resumed during the outage", err)
	_, err = client.StartBatch(testContext(t), runBatch(2, 1).req)
	wantStoreUnavailable(t, "StartBatch during the outage", err)
	code, header, body := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start",
		[]byte(`{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}]}`), nil)
	if code != http.StatusServiceUnavailable || header.Get("Retry-After") != "1" {
		t.Errorf("REST start during the outage: HTTP %d, Retry-After %q: %s; want 503 with Retry-After 1", code, header.Get("Retry-After"), body)
	} else if info := errorInfo(restStatus(t, body)); info.GetReason() != apierr.ReasonStoreUnavailable {
		t.Errorf("REST start during the outage: %s, want reason %s", body, apierr.ReasonStoreUnavailable)
	}
	if n := startAttempts(t, metrics); n != 1 {
		t.Errorf("%d starts sent to Fiber by the end of the outage, want the one before it", n)
	}

	end()
	back := time.Now()
	waitHealth(t, hc, serviceName, healthpb.HealthCheckResponse_SERVING)
	t.Logf("ready again %v after the database came back", time.Since(back).Round(time.Millisecond))
	if code, _, body := p.rest(t, http.MethodGet, "/healthz", nil, nil); code != http.StatusOK {
		t.Errorf("GET /healthz after the outage: HTTP %d %s, want 200", code, body)
	}

	before := len(got)
	msgs, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: id, ResumeToken: token})
	if err != nil {
		t.Fatalf("the watch resumed after the outage: %v", err)
	}
	checkEndsWith(t, "the watch resumed after the outage", msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
	got = append(got, results(msgs)...)
	checkSequence(t, "the watch, before and after the outage", got, 0, b.want)
	if len(got) != len(b.want) {
		t.Errorf("%d results in all (%d before the watch ended), want %d", len(got), before, len(b.want))
	}

	if _, err := client.StartBatch(testContext(t), runBatch(3, 1).req); err != nil {
		t.Errorf("StartBatch after the outage: %v", err)
	}
	if n := startAttempts(t, metrics); n != 2 {
		t.Errorf("%d starts sent to Fiber, want 2", n)
	}
	mustContain(t, p.logs.String(), "store unreachable", "store reachable again")
}

// waitHealth waits until the server's health service reports want for service.
func waitHealth(t *testing.T, hc healthpb.HealthClient, service string, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testContext(t), 30*time.Second)
	defer cancel()
	stream, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("the health of %s never became %v: %v", service, want, err)
		}
		if resp.GetStatus() == want {
			return
		}
	}
}

// wantStoreUnavailable checks that err is UNAVAILABLE with reason STORE_UNAVAILABLE.
func wantStoreUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.Unavailable || errorInfo(st).GetReason() != apierr.ReasonStoreUnavailable {
		t.Errorf("%s: %v %q, want UNAVAILABLE %s", what, st.Code(), st.Message(), apierr.ReasonStoreUnavailable)
	}
}

// startAttemptsLine matches the metric of Fiber start attempts, one line per outcome.
var startAttemptsLine = regexp.MustCompile(`(?m)^fibergate_fiber_attempts_total\{endpoint="start",outcome="[a-z_]+"\} (\d+)$`)

// startAttempts sums the starts the server sent to Fiber, whatever their outcome.
func startAttempts(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range startAttemptsLine.FindAllStringSubmatch(string(body), -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}
