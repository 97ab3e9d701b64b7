//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

// The hostile-transport cases: callers who abuse the connection rather than the API. Each
// case ends with checkServes: both ports healthy, a start served on each.

// TestHostileTransportSlowBody: a REST body sent a byte a second is cut when
// -http-read-timeout has passed since the request began: answered 408 REQUEST_TIMEOUT, and
// the connection closed.
func TestHostileTransportSlowBody(t *testing.T) {
	t.Parallel()
	_, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: math.Inf(1)})
	// The timeout falls half-way between two bytes: a byte written just as the server closes
	// would make its kernel answer with a reset, which can discard the 408 before it is read.
	p := startOn(t, url, "-http-read-timeout", "1500ms")
	start := time.Now()
	c, err := dialSlowClient(testContext(t), p.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.conn.Close()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// A byte a second until the server hangs up: at most 180 (the client's read deadline
	// ends the connection after 3 min in any case).
trickling:
	for range 180 {
		select {
		case <-c.closed:
			break trickling
		case <-tick.C:
			_ = c.trickle() // fails once the server has hung up
		}
	}
	<-c.closed
	held := time.Since(start)
	if c.err != nil {
		t.Fatalf("the connection ended with %v after %v, want the server to close it", c.err, held)
	}
	if c.status() != http.StatusRequestTimeout || !bytes.Contains(c.answer, []byte(`"reason":"REQUEST_TIMEOUT"`)) {
		t.Errorf("the answer to a slow body: %q, want 408 with reason REQUEST_TIMEOUT", c.answer)
	}
	t.Logf("a body sent a byte a second was answered 408 and its connection closed after %v (-http-read-timeout 1.5s)", held.Round(time.Millisecond))
	checkServes(t, p, "")
}

// TestHostileTransportSlowClientsLeaveGRPCReachable: with the server's file limit low, more
// slow REST clients than the limit could hold connect at once. The server takes
// -max-http-conns of them (the others wait in the listen queue, holding none of its
// descriptors), so the gRPC port still accepts connections and serves; each slow client is
// cut in turn, and then REST serves again too.
func TestHostileTransportSlowClientsLeaveGRPCReachable(t *testing.T) {
	t.Parallel()
	// The slow clients are cut after readTimeout: the health check, which must succeed while
	// they are held, has less.
	const maxConns, readTimeout, healthTimeout = 32, 6 * time.Second, 4 * time.Second
	_, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: math.Inf(1)})
	p := startOn(t, url, "-http-read-timeout", readTimeout.String(), "-max-http-conns", strconv.Itoa(maxConns))
	base := p.openFiles(t)
	limit := base + maxConns + 16 // room for the gRPC connections of this test and the store
	p.limitOpenFiles(t, limit)
	n := limit + 16 // without the cap, these alone would exhaust the limit

	clients := make([]*slowClient, 0, n)
	defer func() {
		for _, c := range clients {
			c.conn.Close()
		}
	}()
	for range n {
		c, err := dialSlowClient(testContext(t), p.httpAddr)
		if err != nil {
			t.Fatalf("slow client %d of %d: %v", len(clients)+1, n, err)
		}
		clients = append(clients, c)
	}
	// Descriptors the server had at rest may come and go (the store's, Fiber's connections):
	// counts allow for a few.
	waitFor(t, "the server taking -max-http-conns slow clients", func() bool { return p.openFiles(t) >= base+maxConns-4 })
	held := p.openFiles(t)
	if held > base+maxConns+4 {
		t.Errorf("the server holds %d descriptors with %d slow clients waiting, want at most %d + %d", held, n, base, maxConns)
	}

	// While they are held: the gRPC port accepts a new connection and serves it.
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(testContext(t), healthTimeout)
	defer cancel()
	hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health with %d slow REST clients and a file limit of %d: %v, %v", n, limit, hc, err)
	}

	// Every slow client is answered 408 and cut, in turns of maxConns.
	start := time.Now()
	cut := 0
	for _, c := range clients {
		<-c.closed // the client's read deadline bounds the wait
		if c.err == nil && c.status() == http.StatusRequestTimeout {
			cut++
		}
	}
	if cut != n {
		t.Errorf("%d of %d slow clients were answered 408 and cut", cut, n)
	}
	t.Logf("file limit %d (%d open at rest), %d slow clients: %d open while they were held; all cut %v after the health check",
		limit, base, n, held, time.Since(start).Round(time.Millisecond))
	if k := strings.Count(p.logs.String(), "too many open files"); k > 0 {
		t.Errorf("the server ran out of descriptors (%d log lines say so)", k)
	}
	checkServes(t, p, "")
}

// TestHostileTransportHugeHeaders: 2 MiB of headers are refused on both ports by the
// transport, before any of fibergate's code runs (the -max-header-bytes limit, 1 MiB): REST
// answers 431; gRPC resets the call (a grpc-go client knows the limit from the server's
// settings and refuses to send, with INTERNAL; a client that sends anyway has its
// connection closed).
func TestHostileTransportHugeHeaders(t *testing.T) {
	t.Parallel()
	sim, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: math.Inf(1)})
	p := startOn(t, url)
	huge := strings.Repeat("v", 2<<20)
	starts := sim.Calls(fiberfake.EndpointStart)

	_, err := p.dial(t).StartBatch(metadata.AppendToOutgoingContext(testContext(t), "x-padding", huge), oneStart())
	if st := status.Convert(err); st.Code() != codes.Internal || !strings.Contains(st.Message(), "header list size") {
		t.Errorf("a gRPC StartBatch with 2 MiB of metadata: %v, want INTERNAL for the header list size", err)
	}
	if out := rawGRPCHeaders(t, p.grpcAddr, hpack.HeaderField{Name: "x-padding", Value: huge}); out.response || !(out.closed || out.goAway || out.rst != 0) {
		t.Errorf("a raw gRPC call with 2 MiB of metadata: %v, want it refused", out)
	}
	if out := rawGRPCHeaders(t, p.grpcAddr, hpack.HeaderField{Name: "x-padding", Value: "small"}); !out.response {
		t.Errorf("a raw gRPC call with small metadata: %v, want an answer", out)
	}
	if code := restWithHeader(t, p, "X-Padding: "+huge); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a REST request with 2 MiB of headers: HTTP %d, want 431", code)
	}
	if n := sim.Calls(fiberfake.EndpointStart) - starts; n != 0 {
		t.Errorf("%d start(s) with huge headers reached Fiber", n)
	}
	checkServes(t, p, "")
}

// TestHostileTransportGzip: a gzip-compressed gRPC call is served; a gzip bomb (256 MiB of
// zeros in 0.3 MB) is refused with RESOURCE_EXHAUSTED once it inflates past -max-body-bytes,
// without the server inflating the rest.
func TestHostileTransportGzip(t *testing.T) {
	t.Parallel()
	sim, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: math.Inf(1)})
	p := startOn(t, url)
	client := p.dial(t)
	if _, err := client.StartBatch(testContext(t), oneStart(), grpc.UseCompressor(gzip.Name)); err != nil {
		t.Fatalf("a gzip StartBatch: %v", err)
	}

	const inflatedMiB = 256
	bomb := gzipFrame(t, inflatedMiB)
	starts := sim.Calls(fiberfake.EndpointStart)
	peak := p.memoryKiB(t, "VmHWM")
	start := time.Now()
	code, msg := rawGRPCCall(t, p.grpcAddr, servicePrefix+"StartBatch", http.Header{"Grpc-Encoding": {"gzip"}}, bomb)
	took := time.Since(start)
	grew := p.memoryKiB(t, "VmHWM") - peak
	if code != codes.ResourceExhausted || !strings.Contains(msg, "after decompression") {
		t.Errorf("a gzip bomb: %v %q, want RESOURCE_EXHAUSTED after decompression", code, msg)
	}
	if grew > 64<<10 {
		t.Errorf("the server's peak memory grew by %d MiB with a bomb of %d MiB: it inflated it", grew>>10, inflatedMiB)
	}
	if n := sim.Calls(fiberfake.EndpointStart) - starts; n != 0 {
		t.Errorf("%d start(s) from the bomb reached Fiber", n)
	}
	t.Logf("a gzip bomb of %d bytes inflating to %d MiB: refused in %v; the server's peak RSS grew %d KiB",
		len(bomb), inflatedMiB, took.Round(time.Millisecond), grew)
	checkServes(t, p, "")
}

// TestHostileTransportProtocolFaults: a REST 401 is an RFC 6750 challenge; a watch that
// fails before its first message is answered like a unary call; the README's grpcurl health
// command works without a token while reflection otherwise needs one.
func TestHostileTransportProtocolFaults(t *testing.T) {
	t.Parallel()
	_, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: math.Inf(1)})
	p := startOn(t, url, "-tokens-file", writeTokensFile(t, map[string]string{"alice": aliceToken}))
	alice := "Bearer " + aliceToken

	for authz, want := range map[string]string{
		"":                   `Bearer realm="fibergate"`,
		"Bearer not-a-token": `Bearer realm="fibergate", error="invalid_token"`,
	} {
		code, header, body := p.rest(t, http.MethodGet, "/v1/contact-details/batch", nil, authHeader(authz))
		if got := header.Get("WWW-Authenticate"); code != http.StatusUnauthorized || got != want {
			t.Errorf("authorization %q: HTTP %d, WWW-Authenticate %q, want 401 and %q: %s", authz, code, got, want, body)
		}
	}

	code, _, body := p.rest(t, http.MethodGet, "/v1/contact-details/batch/no-such-task:watch", nil, authHeader(alice))
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil || code != http.StatusNotFound || probe["code"] == nil || probe["message"] == nil || probe["error"] != nil {
		t.Errorf("a watch of an unknown task: HTTP %d %s, want 404 and {\"code\", \"message\", \"details\"}", code, body)
	} else if st := restStatus(t, body); st.Code() != codes.NotFound || errorInfo(st).GetReason() != "TASK_NOT_FOUND" {
		t.Errorf("a watch of an unknown task: %v %v, want NOT_FOUND TASK_NOT_FOUND", st.Code(), st.Details())
	}

	// The README's command, as it is written there.
	out, errOut, ok := p.grpcurl(t, "ADDR", "grpc.health.v1.Health/Check")
	if !ok || !strings.Contains(out, `"status": "SERVING"`) {
		t.Errorf("grpcurl grpc.health.v1.Health/Check without a token: ok=%v\nstdout: %s\nstderr: %s", ok, out, errOut)
	}
	out, errOut, ok = p.grpcurl(t, "ADDR", "list")
	if ok || !strings.Contains(errOut, "Unauthenticated") {
		t.Errorf("grpcurl list without a token: ok=%v, want Unauthenticated\nstdout: %s\nstderr: %s", ok, out, errOut)
	}
	out, errOut, ok = p.grpcurl(t, "ADDR", "describe", "grpc.health.v1.Health")
	if !ok || !strings.Contains(out, "rpc Check") {
		t.Errorf("grpcurl describe grpc.health.v1.Health without a token: ok=%v\nstdout: %s\nstderr: %s", ok, out, errOut)
	}
	checkServes(t, p, alice)
}
