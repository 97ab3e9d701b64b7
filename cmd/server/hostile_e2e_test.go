package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestHostileInputCorpus(t *testing.T) {
	t.Parallel()
	sim, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: math.Inf(1)})
	p := startOn(t, url)
	client := p.dial(t)
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	// Two finished tasks, A and B, whose tokens the corpus swaps.
	var a, b string
	var aResume string
	for i, id := range []*string{&a, &b} {
		*id = newBatch(3, 0, 0).start(t, client)
		msgs, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: *id})
		if err != nil {
			t.Fatal(err)
		}
		checkEndsWith(t, "watch", msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
		if i == 0 {
			aResume = msgs[0].GetResumeToken()
		}
	}
	page, err := client.ListTaskResults(testContext(t), &cdv1.ListTaskResultsRequest{TaskId: a, PageSize: 1})
	if err != nil || page.GetNextPageToken() == "" {
		t.Fatalf("a first page of A's results: %v, %v", page, err)
	}
	aResults := page.GetNextPageToken()

	f := false
	huge := strings.Repeat("a", 1<<20)
	uuid := "5f0c7b5e-3d2a-4c1b-9e8f-0a1b2c3d4e5f"
	grpcStart := func(req *cdv1.StartBatchRequest, md ...string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			if len(md) > 0 {
				ctx = metadata.AppendToOutgoingContext(ctx, md...)
			}
			_, err := client.StartBatch(ctx, req)
			return err
		}
	}
	grpcGet := func(id string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := client.GetTask(ctx, &cdv1.GetTaskRequest{TaskId: id})
			return err
		}
	}
	grpcList := func(req *cdv1.ListTasksRequest) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := client.ListTasks(ctx, req)
			return err
		}
	}
	grpcResults := func(req *cdv1.ListTaskResultsRequest) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := client.ListTaskResults(ctx, req)
			return err
		}
	}
	grpcWatch := func(req *cdv1.WatchTaskRequest) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := watchGRPC(ctx, client, req)
			return err
		}
	}
	rawUnary := func(method string, msg []byte) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			var out []byte
			return conn.Invoke(ctx, servicePrefix+method, msg, &out, grpc.ForceCodec(rawCodec{}))
		}
	}
	rawWatch := func(msg []byte) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, servicePrefix+"WatchTask", grpc.ForceCodec(rawCodec{}))
			if err != nil {
				return err
			}
			if err := s.SendMsg(msg); err != nil {
				return err
			}
			if err := s.CloseSend(); err != nil {
				return err
			}
			for {
				var out []byte
				if err := s.RecvMsg(&out); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
			}
		}
	}
	const (
		ia  = codes.InvalidArgument
		bad = http.StatusBadRequest
		vf  = "VALIDATION_FAILED"
		tok = "INVALID_TOKEN"
	)
	urlField := "personDetails[0].linkedinUrl.value"
	long := strings.Repeat("t", 129)

	corpus := []hostileCase{
		// gRPC, typed.
		{name: "grpc/no people", grpc: grpcStart(&cdv1.StartBatchRequest{}), code: ia, reason: vf, field: "personDetails"},
		{name: "grpc/2001 people", grpc: grpcStart(&cdv1.StartBatchRequest{PersonDetails: people(2001, profile)}), code: ia, reason: vf, field: "personDetails"},
		{name: "grpc/1 MB URL", grpc: grpcStart(withURL("https://www.linkedin.com/in/" + huge)), code: ia, reason: vf, field: urlField},
		{name: "grpc/600 KB api key", grpc: grpcStart(&cdv1.StartBatchRequest{ApiKey: strings.Repeat("k", 600<<10), PersonDetails: people(1, profile)}), code: ia, reason: vf, field: "apiKey"},
		{name: "grpc/NUL in the URL", grpc: grpcStart(withURL("https://www.linkedin.com/in/ja\x00ke")), code: ia, reason: vf, field: urlField},
		{name: "grpc/newline and header in the URL", grpc: grpcStart(withURL("https://www.linkedin.com/in/jake\r\nX-Injected: 1")), code: ia, reason: vf, field: urlField},
		{name: "grpc/not a LinkedIn URL", grpc: grpcStart(withURL("javascript:alert(1)")), code: ia, reason: vf, field: urlField},
		{name: "grpc/nothing requested", grpc: grpcStart(&cdv1.StartBatchRequest{PersonDetails: people(1, profile), EnrichmentTypes: &cdv1.EnrichmentTypes{GetWorkEmails: &f, GetPersonalEmails: &f, GetPhoneNumbers: &f}}), code: ia, reason: vf},
		{name: "grpc/request_id not a UUID", grpc: grpcStart(&cdv1.StartBatchRequest{PersonDetails: people(1, profile), RequestId: "retry-1"}), code: ia, reason: vf, field: "requestId"},
		{name: "grpc/idempotency-key not a UUID", grpc: grpcStart(oneStart(), "idempotency-key", "retry-1"), code: ia, reason: vf, field: "Idempotency-Key"},
		{name: "grpc/two idempotency-keys", grpc: grpcStart(oneStart(), "idempotency-key", uuid, "idempotency-key", "6f0c7b5e-3d2a-4c1b-9e8f-0a1b2c3d4e5f"), code: ia, reason: vf, field: "Idempotency-Key"},
		{name: "grpc/idempotency-key of 10 KB", grpc: grpcStart(oneStart(), "idempotency-key", strings.Repeat("9", 10<<10)), code: ia, reason: vf, field: "Idempotency-Key"},
		{name: "grpc/task id empty", grpc: grpcGet(""), code: ia, reason: vf, field: "taskId"},
		{name: "grpc/task id of 129 characters", grpc: grpcGet(long), code: ia, reason: vf, field: "taskId"},
		{name: "grpc/task id with a slash", grpc: grpcGet("a/../b"), code: ia, reason: vf, field: "taskId"},
		{name: "grpc/task id with a colon", grpc: grpcGet(b + ":cancel"), code: ia, reason: vf, field: "taskId"},
		{name: "grpc/task id with NUL", grpc: grpcGet("a\x00b"), code: ia, reason: vf, field: "taskId"},
		{name: "grpc/task id in unicode", grpc: grpcGet("tâsk-ü"), code: ia, reason: vf, field: "taskId"},
		{name: "grpc/cancel with a slash in the id", grpc: func(ctx context.Context) error {
			_, err := client.CancelTask(ctx, &cdv1.CancelTaskRequest{TaskId: "../" + b})
			return err
		}, code: ia, reason: vf, field: "taskId"},
		{name: "grpc/delete with an empty id", grpc: func(ctx context.Context) error {
			_, err := client.DeleteTask(ctx, &cdv1.DeleteTaskRequest{})
			return err
		}, code: ia, reason: vf, field: "taskId"},
		{name: "grpc/adoption key refused", grpc: func(ctx context.Context) error {
			_, err := client.GetTask(ctx, &cdv1.GetTaskRequest{TaskId: "someone-elses-fiber-task", ApiKey: requestKey})
			return err
		}, code: codes.PermissionDenied, reason: "REQUEST_API_KEY_NOT_ALLOWED"},
		{name: "grpc/list page token garbage", grpc: grpcList(&cdv1.ListTasksRequest{PageToken: "%%%not-base64%%%"}), code: ia, reason: tok, field: "pageToken"},
		{name: "grpc/list page token of results", grpc: grpcList(&cdv1.ListTasksRequest{PageToken: aResults}), code: ia, reason: tok, field: "pageToken"},
		{name: "grpc/list page token negative", grpc: grpcList(&cdv1.ListTasksRequest{PageToken: rawToken("l1|anonymous|-1|" + a)}), code: ia, reason: tok, field: "pageToken"},
		{name: "grpc/list page token of 513 bytes", grpc: grpcList(&cdv1.ListTasksRequest{PageToken: strings.Repeat("A", 513)}), code: ia, reason: vf, field: "pageToken"},
		{name: "grpc/list page size 101", grpc: grpcList(&cdv1.ListTasksRequest{PageSize: 101}), code: ia, reason: vf, field: "pageSize"},
		{name: "grpc/list page size -1", grpc: grpcList(&cdv1.ListTasksRequest{PageSize: -1}), code: ia, reason: vf, field: "pageSize"},
		{name: "grpc/list unknown state", grpc: grpcList(&cdv1.ListTasksRequest{State: 99}), code: ia, reason: vf, field: "state"},
		{name: "grpc/results token of another task", grpc: grpcResults(&cdv1.ListTaskResultsRequest{TaskId: b, PageToken: aResults}), code: ia, reason: tok, field: "pageToken"},
		{name: "grpc/results token negative", grpc: grpcResults(&cdv1.ListTaskResultsRequest{TaskId: b, PageToken: rawToken("r1|" + b + "|-5")}), code: ia, reason: tok, field: "pageToken"},
		{name: "grpc/results token of a resume", grpc: grpcResults(&cdv1.ListTaskResultsRequest{TaskId: a, PageToken: aResume}), code: ia, reason: tok, field: "pageToken"},
		{name: "grpc/results page size 1001", grpc: grpcResults(&cdv1.ListTaskResultsRequest{TaskId: b, PageSize: 1001}), code: ia, reason: vf, field: "pageSize"},
		{name: "grpc/resume token of another task", grpc: grpcWatch(&cdv1.WatchTaskRequest{TaskId: b, ResumeToken: aResume}), code: ia, reason: tok, field: "resumeToken"},
		{name: "grpc/resume token garbage", grpc: grpcWatch(&cdv1.WatchTaskRequest{TaskId: b, ResumeToken: "garbage!"}), code: ia, reason: tok, field: "resumeToken"},
		{name: "grpc/resume token negative", grpc: grpcWatch(&cdv1.WatchTaskRequest{TaskId: b, ResumeToken: rawToken("w1|" + b + "|-1")}), code: ia, reason: tok, field: "resumeToken"},
		{name: "grpc/resume token overflowing", grpc: grpcWatch(&cdv1.WatchTaskRequest{TaskId: b, ResumeToken: rawToken("w1|" + b + "|99999999999999999999999")}), code: ia, reason: tok, field: "resumeToken"},
		{name: "grpc/resume token of 600 bytes", grpc: grpcWatch(&cdv1.WatchTaskRequest{TaskId: b, ResumeToken: strings.Repeat("A", 600)}), code: ia, reason: vf, field: "resumeToken"},

		// gRPC, raw protobuf. A request that does not parse is INTERNAL, as gRPC specifies
		// ("Error parsing request proto", doc/statuscodes.md), and gRPC answers it itself
		// (before the interceptors of a unary call; from RecvMsg for a stream), so without an
		// ErrorInfo.
		{name: "grpc raw/invalid UTF-8 in the URL", grpc: rawUnary("StartBatch", rawStart("https://www.linkedin.com/in/ja\xff\xfeke")), code: codes.Internal, noInfo: true},
		{name: "grpc raw/invalid UTF-8 in the task id", grpc: rawUnary("GetTask", pbString(nil, 1, "task-\xc3\x28")), code: codes.Internal, noInfo: true},
		// A stream's request is read by the handler, but grpc-go writes the status of a failed
		// RecvMsg itself, before the interceptors see the error.
		{name: "grpc raw/invalid UTF-8 in a watch", grpc: rawWatch(pbString(nil, 1, "task-\xed\xa0\x80")), code: codes.Internal, noInfo: true},
		// A field of the wrong wire type is kept as an unknown field: the request has no people.
		{name: "grpc raw/wrong wire type", grpc: rawUnary("StartBatch", protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 7)), code: ia, reason: vf, field: "personDetails"},
		{name: "grpc raw/truncated message", grpc: rawUnary("StartBatch", rawStart("https://www.linkedin.com/in/jake")[:10]), code: codes.Internal, noInfo: true},
		{name: "grpc raw/unknown fields only", grpc: rawUnary("StartBatch", pbString(nil, 99, "x")), code: ia, reason: vf, field: "personDetails"},
		{name: "grpc raw/message over 6 MiB", grpc: rawUnary("StartBatch", rawStart("https://www.linkedin.com/in/"+strings.Repeat("a", 7<<20))), code: codes.ResourceExhausted, noInfo: true},
		{name: "grpc raw/unknown method", grpc: rawUnary("NoSuchMethod", nil), code: codes.Unimplemented, reason: "UNIMPLEMENTED_METHOD", md: map[string]string{"method": servicePrefix + "NoSuchMethod"}},
		{name: "grpc raw/unknown service", grpc: func(ctx context.Context) error {
			var out []byte
			return conn.Invoke(ctx, "/fibergate.contactdetails.v2.ContactDetailsService/StartBatch", rawStart("https://www.linkedin.com/in/jake"), &out, grpc.ForceCodec(rawCodec{}))
		}, code: codes.Unimplemented, reason: "UNIMPLEMENTED_METHOD"},

		// REST bodies.
		{name: "rest/people a string", rest: postStart(`{"personDetails": "jake"}`, nil), code: ia, http: bad, reason: vf, field: "personDetails"},
		{name: "rest/flag a string", rest: postStart(`{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}],"enrichmentTypes":{"getWorkEmails":"yes"}}`, nil), code: ia, http: bad, reason: vf, field: "enrichmentTypes.getWorkEmails"},
		{name: "rest/api key a number", rest: postStart(`{"apiKey": 1e308, "personDetails":[]}`, nil), code: ia, http: bad, reason: vf, field: "apiKey"},
		{name: "rest/url an object of objects", rest: postStart(`{"personDetails":[{"linkedinUrl":{"value":{"value":"x"}}}]}`, nil), code: ia, http: bad, reason: vf, field: urlField},
		{name: "rest/1 MB URL", rest: postStart(`{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/`+huge+`"}}]}`, nil), code: ia, http: bad, reason: vf, field: urlField},
		{name: "rest/600 KB api key", rest: postStart(`{"apiKey":"`+strings.Repeat("k", 600<<10)+`","personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}]}`, nil), code: ia, http: bad, reason: vf, field: "apiKey"},
		{name: "rest/invalid UTF-8 in the URL", rest: postStart("{\"personDetails\":[{\"linkedinUrl\":{\"value\":\"https://www.linkedin.com/in/ja\xff\xfeke\"}}]}", nil), code: ia, http: bad, reason: vf},
		{name: "rest/NUL byte in a string", rest: postStart("{\"personDetails\":[{\"linkedinUrl\":{\"value\":\"https://www.linkedin.com/in/ja\x00ke\"}}]}", nil), code: ia, http: bad, reason: vf},
		{name: "rest/escaped NUL in the URL", rest: postStart(`{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/ja\u0000ke"}}]}`, nil), code: ia, http: bad, reason: vf, field: urlField},
		{name: "rest/2001 people", rest: postStart(mustProtoJSON(t, &cdv1.StartBatchRequest{PersonDetails: people(2001, profile)}), nil), code: ia, http: bad, reason: vf, field: "personDetails"},
		{name: "rest/10 MB body", rest: postStart(`{"apiKey":"`+strings.Repeat("k", 10<<20)+`"}`, nil), code: codes.ResourceExhausted, http: http.StatusRequestEntityTooLarge, reason: "REQUEST_TOO_LARGE"},
		{name: "rest/10 MB chunked body", rest: &restCall{method: http.MethodPost, path: "/v1/contact-details/batch/start", header: jsonHeader(), chunked: 10 << 20}, code: codes.ResourceExhausted, http: http.StatusRequestEntityTooLarge, reason: "REQUEST_TOO_LARGE"},
		{name: "rest/1000 nested arrays in an unknown field", rest: postStart(`{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}],"x":`+nestedJSON("[", "]", "1", 1000)+`}`, nil), code: ia, http: bad, reason: vf},
		{name: "rest/1000 nested objects", rest: postStart(nestedJSON(`{"a":`, "}", "1", 1000), nil), code: ia, http: bad, reason: vf},
		{name: "rest/100000 nested arrays as people", rest: postStart(`{"personDetails":`+nestedJSON("[", "]", "", 100000)+`}`, nil), code: ia, http: bad, reason: vf},
		{name: "rest/empty body", rest: postStart("", nil), code: ia, http: bad, reason: vf, field: "personDetails"},
		{name: "rest/JSON array body", rest: postStart(`[{"personDetails":[]}]`, nil), code: ia, http: bad, reason: vf},
		{name: "rest/JSON null body", rest: postStart(`null`, nil), code: ia, http: bad, reason: vf},
		{name: "rest/JSON string body", rest: postStart(`"personDetails"`, nil), code: ia, http: bad, reason: vf},
		{name: "rest/duplicate keys", rest: postStart(`{"personDetails":[],"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}]}`, nil), code: ia, http: bad, reason: vf},
		{name: "rest/trailing garbage", rest: postStart(validStart+`x`, nil), code: ia, http: bad, reason: vf},
		{name: "rest/form content type", rest: postStart(`personDetails=https://www.linkedin.com/in/jake`, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}), code: ia, http: bad, reason: vf},
		{name: "rest/XML content type", rest: postStart(`<StartBatchRequest><personDetails/></StartBatchRequest>`, http.Header{"Content-Type": {"application/xml"}}), code: ia, http: bad, reason: vf},
		{name: "rest/protobuf body", rest: postStart(string(rawStart("https://www.linkedin.com/in/jake")), http.Header{"Content-Type": {"application/grpc"}}), code: ia, http: bad, reason: vf},
		{name: "rest/cancel body api key a list", rest: &restCall{method: http.MethodPost, path: "/v1/contact-details/batch/" + b + ":cancel", body: []byte(`{"apiKey":["` + requestKey + `"]}`), header: jsonHeader()}, code: ia, http: bad, reason: vf, field: "apiKey"},

		// REST Idempotency-Key.
		{name: "rest/idempotency key not a UUID", rest: postStart(validStart, http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"retry-1"}}), code: ia, http: bad, reason: vf, field: "Idempotency-Key"},
		{name: "rest/two idempotency keys", rest: postStart(validStart, http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {uuid, "6f0c7b5e-3d2a-4c1b-9e8f-0a1b2c3d4e5f"}}), code: ia, http: bad, reason: vf, field: "Idempotency-Key"},
		{name: "rest/idempotency key of 10 KB", rest: postStart(validStart, http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {strings.Repeat("a", 10<<10)}}), code: ia, http: bad, reason: vf, field: "Idempotency-Key"},
		{name: "rest/idempotency key UUID in braces", rest: postStart(validStart, http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"{" + uuid + "}"}}), code: ia, http: bad, reason: vf, field: "Idempotency-Key"},
		{name: "rest/idempotency key with a UUID and a comma", rest: postStart(validStart, http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {uuid + ", " + uuid}}), code: ia, http: bad, reason: vf, field: "Idempotency-Key"},
		{name: "rest raw/idempotency key with CRLF injection", raw: rawPost(validStart, "Idempotency-Key: not-a-uuid\r\nIdempotency-Key: "+uuid), http: bad},
		{name: "rest raw/idempotency key with a bare CR", raw: rawPost(validStart, "Idempotency-Key: "+uuid+"\rX-Injected: 1"), http: bad},
		{name: "rest raw/idempotency key with a NUL", raw: rawPost(validStart, "Idempotency-Key: "+uuid+"\x00"), http: bad},
		{name: "rest raw/idempotency key folded", raw: rawPost(validStart, "Idempotency-Key: "+uuid+"\r\n "+uuid), http: bad},

		// REST task ids, tokens and query parameters.
		{name: "rest/task id of 129 characters", rest: restGet("/v1/contact-details/batch/" + long), code: ia, http: bad, reason: vf, field: "taskId"},
		{name: "rest/task id with an escaped slash", rest: restGet("/v1/contact-details/batch/a%2Fb"), code: codes.NotFound, http: http.StatusNotFound},
		{name: "rest/task id with NUL", rest: restGet("/v1/contact-details/batch/a%00b"), code: ia, http: bad, reason: vf, field: "taskId"},
		{name: "rest/task id in unicode", rest: restGet("/v1/contact-details/batch/t%C3%A2sk"), code: ia, http: bad, reason: vf, field: "taskId"},
		{name: "rest/task id with a colon", rest: restGet("/v1/contact-details/batch/a:b"), code: ia, http: bad, reason: vf, field: "taskId"},
		{name: "rest/results of a task id with a space", rest: restGet("/v1/contact-details/batch/a%20b/results"), code: ia, http: bad, reason: vf, field: "taskId"},
		{name: "rest/list page token garbage", rest: restGet("/v1/contact-details/batch?pageToken=garbage!"), code: ia, http: bad, reason: tok, field: "pageToken"},
		{name: "rest/list page token of 100 KB", rest: restGet("/v1/contact-details/batch?pageToken=" + strings.Repeat("A", 100<<10)), code: ia, http: bad, reason: vf, field: "pageToken"},
		{name: "rest/list page size 101", rest: restGet("/v1/contact-details/batch?pageSize=101"), code: ia, http: bad, reason: vf, field: "pageSize"},
		{name: "rest/list page size -1", rest: restGet("/v1/contact-details/batch?pageSize=-1"), code: ia, http: bad, reason: vf, field: "pageSize"},
		{name: "rest/list page size not a number", rest: restGet("/v1/contact-details/batch?pageSize=abc"), code: ia, http: bad, reason: vf},
		{name: "rest/list page size overflowing", rest: restGet("/v1/contact-details/batch?pageSize=99999999999"), code: ia, http: bad, reason: vf},
		{name: "rest/list unknown state name", rest: restGet("/v1/contact-details/batch?state=TASK_STATE_BOGUS"), code: ia, http: bad, reason: vf},
		{name: "rest/list unknown state number", rest: restGet("/v1/contact-details/batch?state=99"), code: ia, http: bad, reason: vf},
		{name: "rest/results token of another task", rest: restGet("/v1/contact-details/batch/" + b + "/results?pageToken=" + aResults), code: ia, http: bad, reason: tok, field: "pageToken"},
		{name: "rest/results page size 1001", rest: restGet("/v1/contact-details/batch/" + b + "/results?pageSize=1001"), code: ia, http: bad, reason: vf, field: "pageSize"},
		{name: "rest/resume token garbage", rest: restGet("/v1/contact-details/batch/" + b + ":watch?resumeToken=garbage!"), code: ia, http: bad, reason: tok, field: "resumeToken"},
		{name: "rest/resume token of another task", rest: restGet("/v1/contact-details/batch/" + b + ":watch?resumeToken=" + aResume), code: ia, http: bad, reason: tok, field: "resumeToken"},
		{name: "rest/adoption key refused", rest: restGet("/v1/contact-details/batch/someone-elses-fiber-task?apiKey=" + requestKey), code: codes.PermissionDenied, http: http.StatusForbidden, reason: "REQUEST_API_KEY_NOT_ALLOWED"},

		// REST routes and methods.
		{name: "rest/PUT start", rest: &restCall{method: http.MethodPut, path: "/v1/contact-details/batch/start", body: []byte(validStart), header: jsonHeader()}, code: codes.Unimplemented, http: http.StatusMethodNotAllowed},
		{name: "rest/PATCH list", rest: &restCall{method: http.MethodPatch, path: "/v1/contact-details/batch", body: []byte(`{}`), header: jsonHeader()}, code: codes.Unimplemented, http: http.StatusMethodNotAllowed},
		{name: "rest/POST list", rest: &restCall{method: http.MethodPost, path: "/v1/contact-details/batch", body: []byte(validStart), header: jsonHeader()}, code: codes.Unimplemented, http: http.StatusMethodNotAllowed},
		{name: "rest/POST task", rest: &restCall{method: http.MethodPost, path: "/v1/contact-details/batch/" + b, body: []byte(`{}`), header: jsonHeader()}, code: codes.Unimplemented, http: http.StatusMethodNotAllowed},
		// DELETE {task_id} takes "B:watch" for a task id.
		{name: "rest/DELETE watch", rest: &restCall{method: http.MethodDelete, path: "/v1/contact-details/batch/" + b + ":watch"}, code: ia, http: bad, reason: vf, field: "taskId"},
		{name: "rest/GET start", rest: restGet("/v1/contact-details/batch/start"), code: codes.NotFound, http: http.StatusNotFound, reason: "TASK_NOT_FOUND", md: map[string]string{"task_id": "start"}},
		{name: "rest/unknown route", rest: restGet("/v1/contact-details/batch/" + b + "/results/extra"), code: codes.NotFound, http: http.StatusNotFound},
		// GET {task_id} matches "B:restart": the method is wrong.
		{name: "rest/unknown verb", rest: &restCall{method: http.MethodPost, path: "/v1/contact-details/batch/" + b + ":restart", body: []byte(`{}`), header: jsonHeader()}, code: codes.Unimplemented, http: http.StatusMethodNotAllowed},
		{name: "rest/another API version", rest: restGet("/v2/contact-details/batch"), code: codes.NotFound, http: http.StatusNotFound},
	}
	if len(corpus) < 40 {
		t.Fatalf("the corpus has %d cases, want at least 40", len(corpus))
	}

	before := simCalls(sim)
	for _, c := range corpus {
		t.Run(c.name, func(t *testing.T) {
			// Polls are left out here: only a task that got started is polled, later.
			starts, cancels := sim.Calls(fiberfake.EndpointStart), sim.Calls(fiberfake.EndpointCancel)
			defer func() {
				if n := sim.Calls(fiberfake.EndpointStart) - starts; n != 0 {
					t.Errorf("%d start(s) reached Fiber", n)
				}
				if n := sim.Calls(fiberfake.EndpointCancel) - cancels; n != 0 {
					t.Errorf("%d cancel(s) reached Fiber", n)
				}
			}()
			var st *status.Status
			switch {
			case c.grpc != nil:
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				st = status.Convert(c.grpc(ctx))
			case c.raw != "":
				code, body := sendRaw(t, p, c.raw)
				if code != c.http {
					t.Errorf("HTTP %d, want %d: %.300s", code, c.http, body)
				}
				return // net/http itself may answer: no JSON status to check
			default:
				code, body := sendREST(t, p, c.rest)
				checkRESTError(t, c, code, body)
				return
			}
			checkStatus(t, c, st)
		})
	}
	if after := simCalls(sim); !maps.Equal(before, after) {
		t.Errorf("the corpus reached Fiber: calls before %v, after %v", before, after)
	}

	// The server is still healthy, and serves a valid request; unknown fields come back as
	// warnings, not errors.
	hc, err := healthpb.NewHealthClient(conn).Check(testContext(t), &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health after the corpus: %v, %v", hc, err)
	}
	if code, _, body := p.rest(t, http.MethodGet, "/healthz", nil, nil); code != http.StatusOK {
		t.Errorf("/healthz after the corpus: HTTP %d: %s", code, body)
	}
	if _, err := client.StartBatch(testContext(t), oneStart()); err != nil {
		t.Errorf("a valid gRPC StartBatch after the corpus: %v", err)
	}
	code, _, body := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start",
		[]byte(`{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake","extra":"x"}}],"callbackUrl":"https://example.com"}`), nil)
	var resp struct {
		Output struct {
			TaskID string `json:"taskId"`
		} `json:"output"`
		Warnings []struct{ Field, Message string } `json:"warnings"`
	}
	if err := json.Unmarshal(body, &resp); code != http.StatusOK || err != nil || resp.Output.TaskID == "" {
		t.Fatalf("a REST StartBatch with unknown fields: HTTP %d (%v): %s", code, err, body)
	}
	fields := map[string]bool{}
	for _, w := range resp.Warnings {
		fields[w.Field] = true
	}
	if !fields["callbackUrl"] || !fields["personDetails[0].linkedinUrl.extra"] || len(fields) != 2 {
		t.Errorf("warnings %v, want callbackUrl and personDetails[0].linkedinUrl.extra", resp.Warnings)
	}
	if n := sim.Calls(fiberfake.EndpointStart) - before[fiberfake.EndpointStart]; n != 2 {
		t.Errorf("%d starts reached Fiber after the corpus, want the 2 valid ones", n)
	}
	assertNoSecrets(t, p.logs.String())
}
