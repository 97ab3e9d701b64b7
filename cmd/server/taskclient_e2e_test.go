package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberfake/fiberfaketest"
)

// What the task end-to-end tests share: simulators of a chosen speed, batches with known
// duplicates and rejections, and watchers over gRPC, grpcurl and REST that keep every message.

const watchMethod = "fibergate.contactdetails.v1.ContactDetailsService/WatchTask"

// newPacedUpstream starts a seeded simulator that knows both test keys and completes pps
// people per second.
func newPacedUpstream(t *testing.T, pps float64) (*fiberfake.Sim, string) {
	t.Helper()
	return newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: pps})
}

// newUpstreamWith starts a simulator for cfg with the test keys and seed filled in.
func newUpstreamWith(t *testing.T, cfg fiberfake.Config) (*fiberfake.Sim, string) {
	t.Helper()
	cfg.Seed = 7
	cfg.Keys = map[string]float64{serverKey: 100000, requestKey: 100000}
	return fiberfaketest.NewServer(t, cfg)
}

// startOn runs the server binary on the simulator at url with serverKey as its Fiber key.
func startOn(t *testing.T, url string, args ...string) *proc {
	t.Helper()
	return startServer(t, []string{"FIBER_API_KEY=" + serverKey}, append([]string{"-fiber-url", url}, args...)...)
}

// batch is a start request together with what Fiber makes of it.
type batch struct {
	req *cdv1.StartBatchRequest
	// want are the URLs Fiber queues, in its completion order (the input order of unique
	// accepted people): result sequence i carries want[i-1].
	want       []string
	rejected   int
	duplicates int
}

// newBatch returns a batch of n people of which `dups` repeat earlier people and `rejects`
// are "reject-" slugs, which the simulator refuses; both are spread through the batch.
func newBatch(n, dups, rejects int) batch {
	b := batch{req: &cdv1.StartBatchRequest{}, rejected: rejects, duplicates: dups}
	add := func(u string) {
		b.req.PersonDetails = append(b.req.PersonDetails, &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: u}})
	}
	reject := func(i int) string { return fmt.Sprintf("https://www.linkedin.com/in/reject-e2e-%d", i) }
	unique := n - dups - rejects
	step := max(1, unique/(dups+rejects+1))
	d, r := 0, 0
	for i := range unique {
		u := fmt.Sprintf("https://www.linkedin.com/in/e2e-person-%04d", i)
		add(u)
		b.want = append(b.want, u)
		if (i+1)%step == 0 {
			switch {
			case d < dups:
				add(b.want[i/2])
				d++
			case r < rejects:
				add(reject(r))
				r++
			}
		}
	}
	for ; d < dups; d++ {
		add(b.want[0])
	}
	for ; r < rejects; r++ {
		add(reject(r))
	}
	return b
}

// start starts b over gRPC and returns the task id.
func (b batch) start(t *testing.T, client cdv1.ContactDetailsServiceClient) string {
	t.Helper()
	resp, err := client.StartBatch(testContext(t), b.req)
	if err != nil {
		t.Fatalf("StartBatch: %v", err)
	}
	if got := int(resp.GetOutput().GetNumPeopleEnqueued()); got != len(b.want) {
		t.Fatalf("StartBatch enqueued %d people, want %d", got, len(b.want))
	}
	return resp.GetOutput().GetTaskId()
}

// watchGRPC watches a task over gRPC until the stream ends and returns every message and
// the stream's end (nil for OK).
func watchGRPC(ctx context.Context, client cdv1.ContactDetailsServiceClient, req *cdv1.WatchTaskRequest) ([]*cdv1.WatchTaskResponse, error) {
	stream, err := client.WatchTask(ctx, req)
	if err != nil {
		return nil, err
	}
	var msgs []*cdv1.WatchTaskResponse
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return msgs, nil
		}
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, m)
	}
}

// watchGrpcurl watches a task with the real grpcurl binary and returns the messages it
// printed; an error unless grpcurl exits 0. It may run on any goroutine.
func watchGrpcurl(t testing.TB, p *proc, req string) ([]*cdv1.WatchTaskResponse, error) {
	out, errOut, ok := p.grpcurl(t, "-d", req, "ADDR", watchMethod)
	if !ok {
		return nil, fmt.Errorf("grpcurl WatchTask failed: %s\nstdout:\n%s", errOut, out)
	}
	var msgs []*cdv1.WatchTaskResponse
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return msgs, fmt.Errorf("grpcurl output is not a sequence of JSON objects: %w\n%s", err, out)
		}
		m := &cdv1.WatchTaskResponse{}
		if err := protojson.Unmarshal(raw, m); err != nil {
			return msgs, fmt.Errorf("grpcurl message %s: %w", raw, err)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// restWatch is a REST watch read to its end.
type restWatch struct {
	code int
	msgs []*cdv1.WatchTaskResponse
	// errLine is the {"error": ...} line that ended the stream, nil if none.
	errLine []byte
}

// watchREST reads GET {id}:watch (query holds extra parameters, like "?resumeToken=…") until
// the body ends, or stop returns true for a message (the request is then abandoned). It may
// run on any goroutine.
func watchREST(ctx context.Context, p *proc, id, query string, stop func(*cdv1.WatchTaskResponse) bool) (restWatch, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.httpAddr+"/v1/contact-details/batch/"+id+":watch"+query, nil)
	if err != nil {
		return restWatch{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return restWatch{}, err
	}
	defer resp.Body.Close()
	w := restWatch{code: resp.StatusCode}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode == http.StatusOK && ct != "application/x-ndjson" {
		return w, fmt.Errorf("a watch answered 200 with Content-Type %q, want application/x-ndjson", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if w.errLine != nil {
			return w, fmt.Errorf("a line after the error line: %s", line)
		}
		var env struct {
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(line, &env); err != nil {
			return w, fmt.Errorf("line is not JSON: %w: %s", err, line)
		}
		if env.Result == nil { // {"error": ...}
			w.errLine = bytes.Clone(line)
			continue
		}
		m := &cdv1.WatchTaskResponse{}
		if err := protojson.Unmarshal(env.Result, m); err != nil {
			return w, fmt.Errorf("result %s: %w", env.Result, err)
		}
		w.msgs = append(w.msgs, m)
		if stop != nil && stop(m) {
			return w, nil
		}
	}
	return w, sc.Err()
}

// results flattens the results of msgs in order.
func results(msgs []*cdv1.WatchTaskResponse) []*cdv1.PersonResult {
	var out []*cdv1.PersonResult
	for _, m := range msgs {
		out = append(out, m.GetResults()...)
	}
	return out
}

// checkSequence checks that rs are results from+1, from+2, ... carrying want[from], ... —
// each person once, no gap, in Fiber's order.
func checkSequence(t *testing.T, what string, rs []*cdv1.PersonResult, from int, want []string) {
	t.Helper()
	seen := map[string]bool{}
	for i, r := range rs {
		seq := from + i + 1
		if int(r.GetSequence()) != seq {
			t.Errorf("%s: result %d has sequence %d, want %d", what, i, r.GetSequence(), seq)
			return
		}
		if seen[r.GetLinkedinUrl()] {
			t.Errorf("%s: %s delivered twice", what, r.GetLinkedinUrl())
		}
		seen[r.GetLinkedinUrl()] = true
		if seq > len(want) || r.GetLinkedinUrl() != want[seq-1] {
			t.Errorf("%s: result %d is %s, want person %d of the batch", what, seq, r.GetLinkedinUrl(), seq)
			return
		}
	}
}

// checkEndsWith checks that the last message, and only the last, has the terminal state.
func checkEndsWith(t *testing.T, what string, msgs []*cdv1.WatchTaskResponse, state cdv1.TaskState) {
	t.Helper()
	if len(msgs) == 0 {
		t.Errorf("%s: no message", what)
		return
	}
	for i, m := range msgs {
		terminal := m.GetState() == cdv1.TaskState_TASK_STATE_SUCCEEDED || m.GetState() == cdv1.TaskState_TASK_STATE_FAILED || m.GetState() == cdv1.TaskState_TASK_STATE_CANCELED
		if terminal && i != len(msgs)-1 {
			t.Errorf("%s: message %d of %d is %v: the stream did not end after it", what, i+1, len(msgs), m.GetState())
		}
		if m.GetResumeToken() == "" {
			t.Errorf("%s: message %d has no resume token", what, i+1)
		}
	}
	if got := msgs[len(msgs)-1].GetState(); got != state {
		t.Errorf("%s: last message is %v, want %v", what, got, state)
	}
}

// watchUntil reads a gRPC watch until a message satisfies stop and returns the messages read;
// it fails the test if the stream ends first. The stream is cancelled on return.
func watchUntil(t *testing.T, client cdv1.ContactDetailsServiceClient, req *cdv1.WatchTaskRequest, stop func(*cdv1.WatchTaskResponse) bool) []*cdv1.WatchTaskResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(testContext(t), 30*time.Second)
	defer cancel()
	stream, err := client.WatchTask(ctx, req)
	if err != nil {
		t.Fatalf("WatchTask: %v", err)
	}
	var msgs []*cdv1.WatchTaskResponse
	for {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("watch ended before the awaited message (%d messages): %v", len(msgs), err)
		}
		msgs = append(msgs, m)
		if stop(m) {
			return msgs
		}
	}
}

func hasResults(m *cdv1.WatchTaskResponse) bool { return len(m.GetResults()) > 0 }

// listAllResults pages through a task's stored results with ListTaskResults.
func listAllResults(t *testing.T, client cdv1.ContactDetailsServiceClient, id string, pageSize int32) ([]*cdv1.PersonResult, int) {
	t.Helper()
	var all []*cdv1.PersonResult
	token, pages := "", 0
	for range 1000 {
		resp, err := client.ListTaskResults(testContext(t), &cdv1.ListTaskResultsRequest{TaskId: id, PageSize: pageSize, PageToken: token})
		if err != nil {
			t.Fatalf("ListTaskResults page %d: %v", pages+1, err)
		}
		pages++
		if len(resp.GetResults()) > int(pageSize) {
			t.Errorf("page %d holds %d results, more than page_size %d", pages, len(resp.GetResults()), pageSize)
		}
		all = append(all, resp.GetResults()...)
		token = resp.GetNextPageToken()
		if token == "" {
			return all, pages
		}
	}
	t.Fatal("ListTaskResults never ended")
	return nil, 0
}

// wantStatus checks that err is a status with code and ErrorInfo reason.
func wantStatus(t *testing.T, what string, err error, code codes.Code, reason string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code || errorInfo(st).GetReason() != reason {
		t.Errorf("%s: got %v %v (%q), want %v %s", what, st.Code(), errorInfo(st), st.Message(), code, reason)
	}
}
