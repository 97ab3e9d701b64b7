package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// TestEveryRESTRouteReachesItsRPC guards the route order: grpc-gateway tries routes registered
// last first, so a plain {task_id} route could swallow "{task_id}:watch" or ":cancel". Each
// route is checked by an answer only its own RPC gives.
func TestEveryRESTRouteReachesItsRPC(t *testing.T) {
	_, url := newPacedUpstream(t, 50)
	p := startOn(t, url)

	t.Run("unknown task", func(t *testing.T) {
		// A swallowed ":watch" or ":cancel" would reach GetTask with an id holding a colon,
		// which fails validation (400) instead.
		for _, r := range []struct{ method, path, body string }{
			{http.MethodGet, "/v1/contact-details/batch/no-such-task", ""},
			{http.MethodDelete, "/v1/contact-details/batch/no-such-task", ""},
			{http.MethodGet, "/v1/contact-details/batch/no-such-task/results", ""},
			{http.MethodGet, "/v1/contact-details/batch/no-such-task:watch", ""},
			{http.MethodPost, "/v1/contact-details/batch/no-such-task:cancel", "{}"},
		} {
			var body []byte
			if r.body != "" {
				body = []byte(r.body)
			}
			code, _, out := p.rest(t, r.method, r.path, body, nil)
			if code != http.StatusNotFound {
				t.Errorf("%s %s: HTTP %d, want 404: %s", r.method, r.path, code, out)
			}
			wantStatus(t, r.method+" "+r.path, restStatus(t, out).Err(), codes.NotFound, "TASK_NOT_FOUND")
		}
	})

	// A real task, 500 people at 50 a second: it runs for 10s unless cancelled.
	b := newBatch(500, 0, 0)
	reqBody, err := protojson.Marshal(b.req)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	decode := func(t *testing.T, code, wantCode int, body []byte, v any) {
		t.Helper()
		if code != wantCode {
			t.Fatalf("HTTP %d, want %d: %s", code, wantCode, body)
		}
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
	}
	t.Run("POST start", func(t *testing.T) {
		code, _, out := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", reqBody, nil)
		var resp struct {
			Output struct {
				TaskID            string `json:"taskId"`
				NumPeopleEnqueued int    `json:"numPeopleEnqueued"`
			} `json:"output"`
		}
		decode(t, code, http.StatusOK, out, &resp)
		if resp.Output.TaskID == "" || resp.Output.NumPeopleEnqueued != len(b.want) {
			t.Fatalf("start answered %s", out)
		}
		id = resp.Output.TaskID
	})
	if id == "" {
		t.FailNow()
	}
	base := "/v1/contact-details/batch/" + id

	t.Run("GET {id}", func(t *testing.T) {
		code, _, out := p.rest(t, http.MethodGet, base, nil, nil)
		var resp struct {
			Task struct {
				TaskID       string          `json:"taskId"`
				State        string          `json:"state"`
				OverallStats json.RawMessage `json:"overallStats"`
				ChargeInfo   json.RawMessage `json:"chargeInfo"`
			} `json:"task"`
		}
		decode(t, code, http.StatusOK, out, &resp)
		if resp.Task.TaskID != id || resp.Task.State != "TASK_STATE_RUNNING" || resp.Task.OverallStats == nil || resp.Task.ChargeInfo == nil {
			t.Errorf("GetTask answered %s", out)
		}
	})
	t.Run("GET {id}/results", func(t *testing.T) {
		code, _, out := p.rest(t, http.MethodGet, base+"/results?pageSize=1", nil, nil)
		var resp struct {
			Results       []json.RawMessage `json:"results"`
			NextPageToken *string           `json:"nextPageToken"`
			State         string            `json:"state"`
		}
		decode(t, code, http.StatusOK, out, &resp)
		if resp.Results == nil || resp.NextPageToken == nil || resp.State != "TASK_STATE_RUNNING" || len(resp.Results) > 1 {
			t.Errorf("ListTaskResults answered %s", out)
		}
	})
	t.Run("GET {id}:watch", func(t *testing.T) {
		w, err := watchREST(testContext(t), p, id, "", func(*cdv1.WatchTaskResponse) bool { return true })
		if err != nil || w.code != http.StatusOK || len(w.msgs) != 1 {
			t.Fatalf("WatchTask: %v, HTTP %d, %d messages, error line %s", err, w.code, len(w.msgs), w.errLine)
		}
		if m := w.msgs[0]; m.GetTaskId() != id || m.GetState() != cdv1.TaskState_TASK_STATE_RUNNING || m.GetResumeToken() == "" {
			t.Errorf("WatchTask's first message: %v", m)
		}
	})
	t.Run("GET list", func(t *testing.T) {
		code, _, out := p.rest(t, http.MethodGet, "/v1/contact-details/batch", nil, nil)
		var resp struct {
			Tasks []struct {
				TaskID string `json:"taskId"`
			} `json:"tasks"`
		}
		decode(t, code, http.StatusOK, out, &resp)
		if len(resp.Tasks) != 1 || resp.Tasks[0].TaskID != id {
			t.Errorf("ListTasks answered %s", out)
		}
	})
	t.Run("DELETE {id} while running", func(t *testing.T) {
		code, _, out := p.rest(t, http.MethodDelete, base, nil, nil)
		if code != http.StatusBadRequest {
			t.Errorf("HTTP %d, want 400: %s", code, out)
		}
		wantStatus(t, "DeleteTask", restStatus(t, out).Err(), codes.FailedPrecondition, "TASK_RUNNING")
	})
	t.Run("POST {id}:cancel", func(t *testing.T) {
		code, _, out := p.rest(t, http.MethodPost, base+":cancel", []byte(`{}`), nil)
		var resp struct {
			CancelledCount  int     `json:"cancelledCount"`
			CreditsRefunded float64 `json:"creditsRefunded"`
			Message         string  `json:"message"`
		}
		decode(t, code, http.StatusOK, out, &resp)
		if resp.CancelledCount <= 0 || resp.CreditsRefunded <= 0 || resp.Message == "" {
			t.Errorf("CancelTask answered %s", out)
		}
	})
	t.Run("GET {id}:watch to the end", func(t *testing.T) {
		w, err := watchREST(testContext(t), p, id, "", nil)
		if err != nil || w.code != http.StatusOK || w.errLine != nil {
			t.Fatalf("WatchTask: %v, HTTP %d, error line %s", err, w.code, w.errLine)
		}
		checkEndsWith(t, "REST watch", w.msgs, cdv1.TaskState_TASK_STATE_CANCELED)
	})
	t.Run("DELETE {id}", func(t *testing.T) {
		code, _, out := p.rest(t, http.MethodDelete, base, nil, nil)
		if code != http.StatusOK || string(out) != "{}" {
			t.Errorf("DeleteTask answered HTTP %d: %s", code, out)
		}
		code, _, out = p.rest(t, http.MethodGet, base, nil, nil)
		if code != http.StatusNotFound {
			t.Errorf("GetTask after the delete: HTTP %d: %s", code, out)
		}
	})
}
