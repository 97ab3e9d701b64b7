package fiberfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberfake/fiberfaketest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is one simulator served over in-memory pipes, with an HTTP client of
// its own.
type env struct {
	t      *testing.T
	sim    *fiberfake.Sim
	url    string
	client *http.Client
}

// newEnv serves a simulator for cfg until the test ends; NoDataRate defaults
// to none so that outputs are predictable. Call it inside a synctest bubble:
// there time stands still until the test sleeps, and time.Sleep(d) moves
// every task, refund and rate-limit window forward by exactly d.
func newEnv(t *testing.T, cfg fiberfake.Config) *env {
	t.Helper()
	if cfg.NoDataRate == 0 {
		cfg.NoDataRate = -1
	}
	sim, client := fiberfaketest.NewPipeServer(t, cfg)
	return &env{t: t, sim: sim, url: fiberfaketest.PipeURL, client: client}
}

// response is an answer decoded generically.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any // nil when the body is not a JSON object
}

// do sends body (marshalled unless it is already []byte or string) with
// method to path.
func (e *env) do(method, path string, body any) (response, error) {
	e.t.Helper()
	var buf []byte
	switch b := body.(type) {
	case []byte:
		buf = b
	case string:
		buf = []byte(b)
	case nil:
	default:
		var err error
		if buf, err = json.Marshal(b); err != nil {
			e.t.Fatalf("marshal request: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.url+path, bytes.NewReader(buf))
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := e.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	r := response{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r, nil
}

// call POSTs body to endpoint ep and fails the test on a transport error.
func (e *env) call(ep fiberfake.Endpoint, body any) response {
	e.t.Helper()
	r, err := e.do(http.MethodPost, ep.Path(), body)
	if err != nil {
		e.t.Fatalf("%s: %v", ep, err)
	}
	return r
}

// mustOK fails the test unless r is a 200.
func (r response) mustOK(t *testing.T) response {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", r.status, r.raw)
	}
	return r
}

// startBody is a start request for the given URLs.
func startBody(key string, urls ...string) map[string]any {
	people := make([]any, 0, len(urls))
	for _, u := range urls {
		people = append(people, map[string]any{"linkedinUrl": map[string]any{"value": u}})
	}
	return map[string]any{"apiKey": key, "personDetails": people}
}

// profiles returns n distinct profile URLs named prefix-0, prefix-1...
func profiles(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("https://www.linkedin.com/in/%s-%d", prefix, i)
	}
	return out
}

// start starts a task for urls with the demo key and returns its id.
func (e *env) start(urls ...string) string {
	e.t.Helper()
	r := e.call(fiberfake.EndpointStart, startBody(fiberfake.DemoAPIKey, urls...)).mustOK(e.t)
	return r.body["output"].(map[string]any)["taskId"].(string)
}

// poll polls a task with the demo key; cursor nil means none, take 0 default.
func (e *env) poll(taskID string, cursor any, take int) map[string]any {
	e.t.Helper()
	body := map[string]any{"apiKey": fiberfake.DemoAPIKey, "taskId": taskID}
	if cursor != nil {
		body["cursor"] = cursor
	}
	if take != 0 {
		body["take"] = take
	}
	r := e.call(fiberfake.EndpointPoll, body).mustOK(e.t)
	return r.body["output"].(map[string]any)
}

// obj returns m[key] as an object, failing the test otherwise.
func obj(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	v, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%q is %T (%v), want an object", key, m[key], m[key])
	}
	return v
}

// list returns m[key] as an array, failing the test otherwise.
func list(t *testing.T, m map[string]any, key string) []any {
	t.Helper()
	v, ok := m[key].([]any)
	if !ok {
		t.Fatalf("%q is %T (%v), want an array", key, m[key], m[key])
	}
	return v
}

// keysOf returns the sorted keys of m.
func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// urlsOf returns the inputs.linkedinUrl.value of page results.
func urlsOf(t *testing.T, results []any) []string {
	t.Helper()
	out := make([]string, 0, len(results))
	for _, r := range results {
		in := obj(t, r.(map[string]any), "inputs")
		out = append(out, obj(t, in, "linkedinUrl")["value"].(string))
	}
	return out
}
