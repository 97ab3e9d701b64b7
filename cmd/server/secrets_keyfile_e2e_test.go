package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// TestSecretsNeverLeakWithKeyFile is TestSecretsNeverLeak's second server: the Fiber key comes
// from -fiber-api-key-file, request keys are refused, and the refusals of the server's own
// limits (rate, streams, body size, routes) are provoked with secrets in the requests.
func TestSecretsNeverLeakWithKeyFile(t *testing.T) {
	t.Parallel()
	sim, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: 20})
	tokens := writeTokensFile(t, map[string]string{"alice": aliceToken, "bob": bobToken})
	// One start an hour: the second start's slot is past any deadline. One watch per caller.
	p := startServer(t, nil, "-fiber-url", url, "-fiber-api-key-file", writeKeyFile(t, serverKey+"\n"),
		"-tokens-file", tokens, "-log-level", "debug", "-start-rate", "1/1h", "-max-watch-streams", "1",
		"-max-body-bytes", "1048576")
	client := p.dial(t)
	var tr transcript
	alice := func() context.Context { return withAuthorization(testContext(t), "Bearer "+aliceToken) }
	aliceREST := func(h http.Header) http.Header {
		out := http.Header{"Authorization": {"Bearer " + aliceToken}}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	rest := func(what, method, path, body string, h http.Header) (int, []byte) {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		code, hdr, out := p.rest(t, method, path, b, aliceREST(h))
		tr.add(what, code, hdr, string(out))
		return code, out
	}
	grpcCall := func(what string, call func(ctx context.Context, opts ...grpc.CallOption) error) *status.Status {
		t.Helper()
		var header, trailer metadata.MD
		err := call(alice(), grpc.Header(&header), grpc.Trailer(&trailer))
		tr.add(what+" metadata", header, trailer)
		return tr.status(what, err)
	}
	wantReason := func(what string, st *status.Status, code codes.Code, reason string) {
		t.Helper()
		if st.Code() != code || errorInfo(st).GetReason() != reason {
			t.Errorf("%s: %v %v (%s), want %v %s", what, st.Code(), errorInfo(st), st.Message(), code, reason)
		}
	}
	withKey := func(key string, n int) *cdv1.StartBatchRequest {
		r := newBatch(n, 0, 0).req
		r.ApiKey = key
		return r
	}

	// Requests bringing a key are refused before anything is sent, whichever key they bring.
	for _, key := range []string{requestKey, serverKey} {
		st := grpcCall("start with a request key", func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := client.StartBatch(ctx, withKey(key, 1), opts...)
			return err
		})
		wantReason("gRPC start with a request key", st, codes.PermissionDenied, "REQUEST_API_KEY_NOT_ALLOWED")
		st = grpcCall("get with a request key", func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := client.GetTask(ctx, &cdv1.GetTaskRequest{TaskId: "some-task", ApiKey: key}, opts...)
			return err
		})
		if st.Code() == codes.OK {
			t.Errorf("GetTask with a request key succeeded")
		}
		code, out := rest("REST start with a request key", http.MethodPost, "/v1/contact-details/batch/start",
			`{"apiKey":"`+key+`","personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}]}`, nil)
		if code != http.StatusForbidden {
			t.Errorf("REST start with a request key: %d %s, want 403", code, out)
		}
		wantReason("REST start with a request key", restStatus(t, out), codes.PermissionDenied, "REQUEST_API_KEY_NOT_ALLOWED")
		rest("REST results with a request key", http.MethodGet, "/v1/contact-details/batch/some-task/results?apiKey="+key, "", nil)
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 0 {
		t.Fatalf("%d upstream starts for refused requests, want 0", n)
	}

	// The hour's only start: 100 people, 5s of work, for the watches below.
	resp, err := client.StartBatch(alice(), newBatch(100, 0, 0).req)
	if err != nil {
		t.Fatalf("the key file's key was not accepted: %v", err)
	}
	id := resp.GetOutput().GetTaskId()

	// RATE_LIMITED: the next slot is an hour away, past any deadline.
	st := grpcCall("start over the deadline", func(ctx context.Context, opts ...grpc.CallOption) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := client.StartBatch(ctx, newBatch(1, 0, 0).req, opts...)
		return err
	})
	wantReason("gRPC start over the deadline", st, codes.ResourceExhausted, "RATE_LIMITED")
	code, out := rest("REST start over the deadline", http.MethodPost, "/v1/contact-details/batch/start",
		`{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}]}`, nil)
	if code != http.StatusTooManyRequests {
		t.Errorf("REST start over the deadline: %d %s, want 429", code, out)
	}
	wantReason("REST start over the deadline", restStatus(t, out), codes.ResourceExhausted, "RATE_LIMITED")

	// TOO_MANY_STREAMS: alice's one watch is open.
	wctx, wcancel := context.WithCancel(alice())
	stream, err := client.WatchTask(wctx, &cdv1.WatchTaskRequest{TaskId: id, ProgressOnly: true})
	if err == nil {
		_, err = stream.Recv()
	}
	if err != nil {
		t.Fatalf("first watch: %v", err)
	}
	st = grpcCall("second gRPC watch", func(ctx context.Context, opts ...grpc.CallOption) error {
		s, err := client.WatchTask(ctx, &cdv1.WatchTaskRequest{TaskId: id}, opts...)
		if err == nil {
			_, err = s.Recv()
		}
		return err
	})
	wantReason("second gRPC watch", st, codes.ResourceExhausted, "TOO_MANY_STREAMS")
	code, out = rest("second REST watch", http.MethodGet, "/v1/contact-details/batch/"+id+":watch", "", nil)
	if code != http.StatusTooManyRequests {
		t.Errorf("second REST watch: %d %s, want 429", code, out)
	}
	wantReason("second REST watch", restStatus(t, out), codes.ResourceExhausted, "TOO_MANY_STREAMS")
	code, out = rest("second REST watch with a key", http.MethodGet, "/v1/contact-details/batch/"+id+":watch?apiKey="+requestKey, "", nil)
	if code != http.StatusTooManyRequests && code != http.StatusForbidden {
		t.Errorf("second REST watch with a key: %d %s, want 429 or 403", code, out)
	}
	wcancel()

	// REST 413 with the keys in the body, and routing errors with the keys in the path.
	big := `{"apiKey":"` + requestKey + `","personDetails":[` + strings.Repeat(`{"linkedinUrl":{"value":"https://www.linkedin.com/in/`+serverKey+`"}},`, 20000) + `{}]}`
	if code, out := rest("REST body over the limit", http.MethodPost, "/v1/contact-details/batch/start", big, nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("REST body over the limit: %d %s, want 413", code, out)
	}
	for _, r := range []struct{ method, path, body string }{
		{http.MethodGet, "/v1/" + serverKey, ""},
		{http.MethodGet, "/v1/contact-details/" + requestKey + "/bogus?apiKey=" + serverKey, ""},
		{http.MethodPost, "/v1/contact-details/batch/" + serverKey + "/results", `{"apiKey":"` + requestKey + `"}`},
		{http.MethodPut, "/v1/contact-details/batch/start", `{"apiKey":"` + requestKey + `"}`},
		{http.MethodPatch, "/v1/contact-details/batch/" + requestKey + ":watch", ""},
	} {
		code, out := rest("REST routing error "+r.method, r.method, r.path, r.body, nil)
		if code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
			t.Errorf("%s (a path with a key): %d %s, want 404 or 405", r.method, code, out)
		}
	}

	// The REST watch, to the end, once the server has let go of the gRPC one.
	deadline := testContext(t)
	for {
		code, out = rest("REST watch", http.MethodGet, "/v1/contact-details/batch/"+id+":watch", "", nil)
		if code != http.StatusTooManyRequests || deadline.Err() != nil {
			break
		}
	}
	if code != http.StatusOK || !strings.Contains(string(out), "TASK_STATE_SUCCEEDED") {
		t.Errorf("REST watch: %d, want 200 to SUCCEEDED:\n%.2000s", code, out)
	}

	// Wrong and other callers' tokens, on both transports.
	for _, authz := range []string{"Bearer " + wrongToken, "Bearer " + bobToken + "x", aliceToken} {
		_, err := client.ListTasks(withAuthorization(testContext(t), authz), &cdv1.ListTasksRequest{})
		tr.status("list with a bad token", err)
		code, hdr, out := p.rest(t, http.MethodGet, "/v1/contact-details/batch", nil, authHeader(authz))
		tr.add("REST list with a bad token", code, hdr, string(out))
	}
	_, err = client.GetTask(withAuthorization(testContext(t), "Bearer "+bobToken), &cdv1.GetTaskRequest{TaskId: id})
	tr.status("bob on alice's task", err)

	if err := p.stop(); err != nil {
		t.Errorf("server exit: %v", err)
	}
	secrets := map[string]string{
		"the server's Fiber key (from the file)": serverKey,
		"a request's api_key":                    requestKey,
		"alice's token":                          aliceToken,
		"bob's token":                            bobToken,
		"a wrong token":                          wrongToken,
	}
	for _, l := range findSecrets(p.logs.String(), secrets) {
		t.Errorf("server logs: %s", l)
	}
	for _, l := range findSecrets(tr.String(), secrets) {
		t.Errorf("answers: %s", l)
	}
}
