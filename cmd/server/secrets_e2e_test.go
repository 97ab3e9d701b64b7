package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// rejectedKey is a request api_key that Fiber does not know.
const rejectedKey = "sk-e2e-rejected-secret-51aa"

// wrongToken is a caller token that no principal has.
const wrongToken = "tok-e2e-wrong-secret-8d20c4"

// fiberEcho is the part of the injected Fiber messages that must survive redaction: proof that
// Fiber's message, which echoed a secret, was kept.
const fiberEcho = "fiber echoes the caller's key"

// transcript keeps everything the secrets test saw: error messages and details, REST bodies
// and headers, gRPC metadata. Safe for concurrent use.
type transcript struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (tr *transcript) add(what string, v ...any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	fmt.Fprintf(&tr.b, "== %s\n", what)
	for _, x := range v {
		fmt.Fprintf(&tr.b, "%v\n", x)
	}
}

// status records an error in every form a client may show it.
func (tr *transcript) status(what string, err error) *status.Status {
	st := status.Convert(err)
	text, _ := prototext.Marshal(st.Proto())
	tr.add(what, st.Message(), st.Details(), string(text), st.Proto().String())
	return st
}

func (tr *transcript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.b.String()
}

// findSecrets returns a description of every secret, or 12-character piece of one, found in s, with
// the line it was found on (the secret masked).
func findSecrets(s string, secrets map[string]string) []string {
	var out []string
	for name, secret := range secrets {
		for i := 0; i+12 <= len(secret); i++ {
			piece := secret[i : i+12]
			at := strings.Index(s, piece)
			if at < 0 {
				continue
			}
			start := strings.LastIndexByte(s[:at], '\n') + 1
			end := len(s)
			if j := strings.IndexByte(s[at:], '\n'); j >= 0 {
				end = at + j
			}
			line := strings.ReplaceAll(s[start:end], piece, "<"+name+">")
			out = append(out, fmt.Sprintf("%s (or a piece of it) in: %.400s", name, line))
			break
		}
	}
	return out
}

func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	// Far more starts and cancels than Fiber's rate limits allow in a minute: both the
	// simulator's limits and the server's budget are raised, so that no call waits for a slot.
	fast := fiberfake.Rate{N: 1000, Per: time.Minute}
	sim, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: 20, Limits: fiberfake.Limits{Start: fast, Cancel: fast}})
	tokens := writeTokensFile(t, map[string]string{"alice": aliceToken, "bob": bobToken})
	p := startOn(t, url, "-tokens-file", tokens, "-allow-request-api-key", "-log-level", "debug", "-fiber-timeout", "2s",
		"-start-rate", "1000/1m", "-cancel-rate", "1000/1m")
	client := p.dial(t)
	var tr transcript
	alice := func(t *testing.T) context.Context { return withAuthorization(testContext(t), "Bearer "+aliceToken) }
	inject := func(t *testing.T, f fiberfake.Fault) {
		t.Helper()
		if err := sim.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	startWith := func(key string) *cdv1.StartBatchRequest {
		r := oneStart()
		r.ApiKey = key
		return r
	}
	restStart := func(t *testing.T, what, body string, header http.Header) (int, []byte) {
		t.Helper()
		h := http.Header{"Authorization": {"Bearer " + aliceToken}}
		for k, v := range header {
			h[k] = v
		}
		code, hdr, out := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", []byte(body), h)
		tr.add(what, code, hdr, string(out))
		return code, out
	}
	startBody := func(key string) string {
		apiKey := ""
		if key != "" {
			apiKey = `"apiKey":"` + key + `",`
		}
		return `{` + apiKey + `"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}]}`
	}
	// grpcCall runs call with alice's token and records its error, header and trailer.
	grpcCall := func(t *testing.T, what string, call func(ctx context.Context, opts ...grpc.CallOption) error) *status.Status {
		t.Helper()
		var header, trailer metadata.MD
		err := call(alice(t), grpc.Header(&header), grpc.Trailer(&trailer))
		tr.add(what+" metadata", header, trailer)
		return tr.status(what, err)
	}

	// Poll faults first, while no other task is followed: each poll takes the next one.
	t.Run("poll faults", func(t *testing.T) {
		// A transient failure: the task is polled again and succeeds.
		inject(t, fiberfake.Fault{Endpoint: fiberfake.EndpointPoll, Kind: fiberfake.FaultStatus, Status: 500, Count: 1, Message: fiberEcho + " " + serverKey})
		resp, err := client.StartBatch(alice(t), newBatch(10, 0, 0).req)
		if err != nil {
			t.Fatal(err)
		}
		id := resp.GetOutput().GetTaskId()
		msgs, err := watchGRPC(alice(t), client, &cdv1.WatchTaskRequest{TaskId: id})
		tr.status("watch through a failed poll", err)
		checkEndsWith(t, "watch through a failed poll", msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)

		// A permanent one, on a task of the request's key: the task fails.
		inject(t, fiberfake.Fault{Endpoint: fiberfake.EndpointPoll, Kind: fiberfake.FaultStatus, Status: 401, Count: 0, Message: fiberEcho + " " + requestKey})
		resp, err = client.StartBatch(alice(t), func() *cdv1.StartBatchRequest { r := newBatch(10, 0, 0).req; r.ApiKey = requestKey; return r }())
		if err != nil {
			t.Fatal(err)
		}
		id = resp.GetOutput().GetTaskId()
		msgs, err = watchGRPC(alice(t), client, &cdv1.WatchTaskRequest{TaskId: id})
		sim.ClearFaults()
		tr.status("watch of a task Fiber refuses to report on", err)
		checkEndsWith(t, "watch of a task Fiber refuses to report on", msgs, cdv1.TaskState_TASK_STATE_FAILED)

		// Adoption of unknown task ids with a request key: Fiber answers 404 or 401.
		for _, tt := range []struct {
			name, key string
			fault     *fiberfake.Fault
			code      codes.Code
		}{
			{"unknown to Fiber", requestKey, nil, codes.NotFound},
			{"unknown, Fiber echoing the key", requestKey, &fiberfake.Fault{Endpoint: fiberfake.EndpointPoll, Kind: fiberfake.FaultStatus, Status: 404, Count: 1, Message: fiberEcho + " " + requestKey}, codes.NotFound},
			{"a key Fiber rejects", rejectedKey, nil, codes.Unauthenticated},
			{"a key Fiber rejects, echoing it", rejectedKey, &fiberfake.Fault{Endpoint: fiberfake.EndpointPoll, Kind: fiberfake.FaultStatus, Status: 401, Count: 1, Message: fiberEcho + " " + rejectedKey}, codes.Unauthenticated},
		} {
			for _, transport := range []string{"grpc", "rest"} {
				if tt.fault != nil {
					inject(t, *tt.fault)
				}
				what := "adoption, " + tt.name + ", " + transport
				var st *status.Status
				if transport == "grpc" {
					st = grpcCall(t, what, func(ctx context.Context, opts ...grpc.CallOption) error {
						_, err := client.GetTask(ctx, &cdv1.GetTaskRequest{TaskId: "never-started-" + transport, ApiKey: tt.key}, opts...)
						return err
					})
				} else {
					code, hdr, out := p.rest(t, http.MethodGet, "/v1/contact-details/batch/never-started-rest/results?apiKey="+tt.key, nil, authHeader("Bearer "+aliceToken))
					tr.add(what, code, hdr, string(out))
					st = restStatus(t, out)
				}
				if st.Code() != tt.code {
					t.Errorf("%s: %v (%s), want %v", what, st.Code(), st.Message(), tt.code)
				}
				sim.ClearFaults()
			}
		}
	})

	t.Run("start faults", func(t *testing.T) {
		statusFault := func(s int) fiberfake.Fault { return fiberfake.Fault{Kind: fiberfake.FaultStatus, Status: s} }
		faults := []struct {
			name  string
			fault fiberfake.Fault
		}{
			{"400", statusFault(400)}, {"401", statusFault(401)}, {"402", statusFault(402)}, {"403", statusFault(403)},
			{"404", statusFault(404)}, {"422", statusFault(422)},
			{"429", statusFault(429)},
			{"500", statusFault(500)}, {"503", statusFault(503)},
			{"drop before", fiberfake.Fault{Kind: fiberfake.FaultDropBefore}},
			{"drop after", fiberfake.Fault{Kind: fiberfake.FaultDropAfter}},
			{"broken body", fiberfake.Fault{Kind: fiberfake.FaultBrokenBody}},
		}
		for _, key := range []string{"", requestKey, rejectedKey} {
			echoed := key
			if key == "" {
				echoed = serverKey
			}
			for _, f := range faults {
				if key == rejectedKey && f.name != "401" {
					continue
				}
				// Fiber echoes the key of the call, and the server's key too: the server knows
				// both, and neither may reach a caller or a log. Count 1: were the start
				// retried, the retry would find Fiber well again.
				f.fault.Endpoint, f.fault.Count, f.fault.Message = fiberfake.EndpointStart, 1, fiberEcho+" "+echoed+" (server key "+serverKey+")"
				what := fmt.Sprintf("start fault %s with request key %v", f.name, key != "")
				inject(t, f.fault)
				grpcCall(t, what+" over gRPC", func(ctx context.Context, opts ...grpc.CallOption) error {
					_, err := client.StartBatch(ctx, startWith(key), opts...)
					return err
				})
				sim.ClearFaults()
				inject(t, f.fault)
				restStart(t, what+" over REST", startBody(key), nil)
				sim.ClearFaults()
			}
		}
		// Fiber too slow: the start times out, its outcome unknown.
		inject(t, fiberfake.Fault{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultDelay, Delay: 3 * time.Second, Count: 1})
		st := grpcCall(t, "start timing out", func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := client.StartBatch(ctx, startWith(requestKey), opts...)
			return err
		})
		if st.Code() != codes.Unknown {
			t.Errorf("a start timing out: %v (%s), want UNKNOWN", st.Code(), st.Message())
		}
		sim.ClearFaults()
		// Fiber's own refusals: an unknown key, a key out of credits.
		st = grpcCall(t, "start with a key Fiber rejects", func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := client.StartBatch(ctx, startWith(rejectedKey), opts...)
			return err
		})
		if st.Code() != codes.Unauthenticated {
			t.Errorf("a start with a key Fiber rejects: %v (%s)", st.Code(), st.Message())
		}
		restStart(t, "REST start with a key Fiber rejects", startBody(rejectedKey), nil)
		credits, _ := sim.Credits(requestKey)
		sim.SetCredits(requestKey, 1)
		grpcCall(t, "start out of credits", func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := client.StartBatch(ctx, startWith(requestKey), opts...)
			return err
		})
		restStart(t, "REST start out of credits", startBody(requestKey), nil)
		sim.SetCredits(requestKey, credits)
	})

	t.Run("idempotency", func(t *testing.T) {
		// An ambiguous start remembered under its request id, then retried.
		inject(t, fiberfake.Fault{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultDropAfter, Count: 1})
		req := startWith(requestKey)
		req.RequestId = "0e7b7a52-8a3e-4d0b-9b1a-3f7c2d9e6a10"
		for i := range 2 {
			grpcCall(t, fmt.Sprint("ambiguous idempotent start ", i), func(ctx context.Context, opts ...grpc.CallOption) error {
				_, err := client.StartBatch(ctx, req, opts...)
				return err
			})
		}
		// A reused key with another payload.
		req.PersonDetails = people(2, profile)
		st := grpcCall(t, "request id reused", func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := client.StartBatch(ctx, req, opts...)
			return err
		})
		if errorInfo(st).GetReason() != "IDEMPOTENCY_KEY_REUSED" {
			t.Errorf("a reused request id: %v %v", st.Code(), errorInfo(st))
		}
		key := http.Header{"Idempotency-Key": {"4b1d7c3e-2f6a-4e8b-a0c9-d5e3f7a1b2c4"}}
		restStart(t, "REST idempotent start", startBody(requestKey), key)
		restStart(t, "REST idempotency key reused", `{"apiKey":"`+requestKey+`","personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/ada"}}]}`, key)
		restStart(t, "REST bad idempotency key", startBody(requestKey), http.Header{"Idempotency-Key": {requestKey}})
	})

	t.Run("cancel faults", func(t *testing.T) {
		for _, key := range []string{"", requestKey} {
			req := newBatch(500, 0, 0).req // 25s of work
			req.ApiKey = key
			resp, err := client.StartBatch(alice(t), req)
			if err != nil {
				t.Fatal(err)
			}
			id := resp.GetOutput().GetTaskId()
			echoed := key
			if key == "" {
				echoed = serverKey
			}
			grpcCall(t, "delete a running task", func(ctx context.Context, opts ...grpc.CallOption) error {
				_, err := client.DeleteTask(ctx, &cdv1.DeleteTaskRequest{TaskId: id}, opts...)
				return err
			})
			// The retried ones last: a retry may cancel the task.
			for _, s := range []int{401, 403, 404, 422, 429, 500} {
				what := fmt.Sprintf("cancel fault %d with request key %v", s, key != "")
				// Count 1 each: were the cancel retried, the retry would go through (and later
				// cancels find the task finished).
				f := fiberfake.Fault{Endpoint: fiberfake.EndpointCancel, Kind: fiberfake.FaultStatus, Status: s, Count: 1, Message: fiberEcho + " " + echoed}
				inject(t, f)
				grpcCall(t, what+" over gRPC", func(ctx context.Context, opts ...grpc.CallOption) error {
					_, err := client.CancelTask(ctx, &cdv1.CancelTaskRequest{TaskId: id, ApiKey: key}, opts...)
					return err
				})
				sim.ClearFaults()
				inject(t, f)
				code, hdr, out := p.rest(t, http.MethodPost, "/v1/contact-details/batch/"+id+":cancel", []byte(`{"apiKey":"`+key+`"}`), authHeader("Bearer "+aliceToken))
				tr.add(what+" over REST", code, hdr, string(out))
				sim.ClearFaults()
			}
			// A real cancel (unless a retry already did it), then a cancel of the finished task.
			if _, err := client.CancelTask(alice(t), &cdv1.CancelTaskRequest{TaskId: id}); err != nil {
				if st := tr.status("cancel", err); errorInfo(st).GetReason() != "TASK_FINISHED" {
					t.Errorf("CancelTask after the faults: %v", err)
				}
			}
			msgs, err := watchGRPC(alice(t), client, &cdv1.WatchTaskRequest{TaskId: id})
			tr.status("watch to the cancel", err)
			checkEndsWith(t, "watch to the cancel", msgs, cdv1.TaskState_TASK_STATE_CANCELED)
			st := grpcCall(t, "cancel a finished task", func(ctx context.Context, opts ...grpc.CallOption) error {
				_, err := client.CancelTask(ctx, &cdv1.CancelTaskRequest{TaskId: id, ApiKey: key}, opts...)
				return err
			})
			if errorInfo(st).GetReason() != "TASK_FINISHED" {
				t.Errorf("cancel of a finished task: %v %v", st.Code(), errorInfo(st))
			}
		}
	})

	t.Run("callers and validation", func(t *testing.T) {
		for _, authz := range []string{"", "Bearer " + wrongToken, "Bearer " + aliceToken + "x", aliceToken, "Basic " + aliceToken, "bearer  " + bobToken + " extra"} {
			ctx := withAuthorization(testContext(t), authz)
			_, err := client.StartBatch(ctx, oneStart())
			tr.status("start with a bad token", err)
			_, err = client.ListTasks(ctx, &cdv1.ListTasksRequest{})
			tr.status("list with a bad token", err)
			code, hdr, out := p.rest(t, http.MethodGet, "/v1/contact-details/batch", nil, authHeader(authz))
			tr.add("REST list with a bad token", code, hdr, string(out))
		}
		// bob on alice's task.
		resp, err := client.StartBatch(alice(t), oneStart())
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.GetTask(withAuthorization(testContext(t), "Bearer "+bobToken), &cdv1.GetTaskRequest{TaskId: resp.GetOutput().GetTaskId(), ApiKey: requestKey})
		if st := tr.status("bob on alice's task", err); st.Code() != codes.NotFound {
			t.Errorf("bob on alice's task with a key: %v", st.Code())
		}
		// Invalid requests carrying the key.
		long := startWith(requestKey + strings.Repeat("x", 600))
		grpcCall(t, "api key too long", func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := client.StartBatch(ctx, long, opts...)
			return err
		})
		bad := startWith(requestKey)
		bad.PersonDetails[0].LinkedinUrl.Value = "https://example.com/" + requestKey
		grpcCall(t, "bad URL with the key", func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := client.StartBatch(ctx, bad, opts...)
			return err
		})
		for i, body := range []string{
			`{"apiKey":["` + requestKey + `"],"personDetails":[]}`,
			`{"apiKey":"` + requestKey + `","personDetails":"` + requestKey + `"}`,
			`{"apiKey":"` + requestKey + `","personDetails":[{"linkedinUrl":{"value":"` + requestKey + `"}}]}`,
			`{"apiKey":"` + requestKey + `","personDetails":[{"linkedinUrl":{"value":42}}]}`,
			`{"apiKey":"` + requestKey + "\xff" + `","personDetails":[]}`,
			`{"apiKey":"` + requestKey + `","apiKey":"` + requestKey + `"}`,
			`{"apiKey":"` + requestKey + `"`,
			`{"apiKey":"` + strings.Repeat(requestKey, 30) + `","personDetails":[]}`,
		} {
			restStart(t, fmt.Sprint("REST invalid body ", i), body, nil)
		}
		for _, id := range []string{"bad/id", strings.Repeat("x", 129)} {
			code, hdr, out := p.rest(t, http.MethodGet, "/v1/contact-details/batch/"+strings.ReplaceAll(id, "/", "%2F")+"?apiKey="+requestKey, nil, authHeader("Bearer "+aliceToken))
			tr.add("REST bad task id with a key", code, hdr, string(out))
		}
	})

	// Every log line of the run, flushed by a clean stop.
	if err := p.stop(); err != nil {
		t.Errorf("server exit: %v", err)
	}
	seen, logs := tr.String(), p.logs.String()
	if !strings.Contains(seen, fiberEcho) {
		t.Errorf("no error carried Fiber's message: the fiberEcho paths were not exercised")
	}
	if !strings.Contains(logs, fiberEcho) {
		t.Logf("note: no log line carried Fiber's message")
	}
	secrets := map[string]string{
		"the server's Fiber key": serverKey,
		"the request's api_key":  requestKey,
		"a rejected api_key":     rejectedKey,
		"alice's token":          aliceToken,
		"bob's token":            bobToken,
		"a wrong token":          wrongToken,
	}
	for _, l := range findSecrets(logs, secrets) {
		t.Errorf("server logs: %s", l)
	}
	for _, l := range findSecrets(seen, secrets) {
		t.Errorf("answers: %s", l)
	}
}
