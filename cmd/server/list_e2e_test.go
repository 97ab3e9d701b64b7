package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

func TestListTasksNewestFirstWithPaging(t *testing.T) {
	_, url := newPacedUpstream(t, 100)
	p := startOn(t, url)
	client := p.dial(t)

	// The oldest finishes at once; the two newer ones run for 10s.
	oldest := newBatch(3, 0, 0).start(t, client)
	msgs, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: oldest})
	if err != nil {
		t.Fatal(err)
	}
	checkEndsWith(t, "watch", msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
	middle := newBatch(1000, 0, 0).start(t, client)
	newest := newBatch(1000, 0, 0).start(t, client)

	ids := func(ts []*cdv1.Task) []string {
		out := []string{}
		for _, t := range ts {
			out = append(out, t.GetTaskId())
		}
		return out
	}
	list := func(t *testing.T, req *cdv1.ListTasksRequest) [][]string {
		t.Helper()
		var pages [][]string
		for range 10 {
			resp, err := client.ListTasks(testContext(t), req)
			if err != nil {
				t.Fatalf("ListTasks(%v): %v", req, err)
			}
			pages = append(pages, ids(resp.GetTasks()))
			if resp.GetNextPageToken() == "" {
				return pages
			}
			req.PageToken = resp.GetNextPageToken()
		}
		t.Fatal("ListTasks never ended")
		return nil
	}
	tests := []struct {
		name string
		req  *cdv1.ListTasksRequest
		want [][]string
	}{
		{"all", &cdv1.ListTasksRequest{PageSize: 2}, [][]string{{newest, middle}, {oldest}}},
		{"default page size", &cdv1.ListTasksRequest{}, [][]string{{newest, middle, oldest}}},
		{"running", &cdv1.ListTasksRequest{PageSize: 2, State: cdv1.TaskState_TASK_STATE_RUNNING}, [][]string{{newest, middle}}},
		{"running one by one", &cdv1.ListTasksRequest{PageSize: 1, State: cdv1.TaskState_TASK_STATE_RUNNING}, [][]string{{newest}, {middle}}},
		{"succeeded", &cdv1.ListTasksRequest{PageSize: 2, State: cdv1.TaskState_TASK_STATE_SUCCEEDED}, [][]string{{oldest}}},
		{"canceled", &cdv1.ListTasksRequest{PageSize: 2, State: cdv1.TaskState_TASK_STATE_CANCELED}, [][]string{{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, list(t, tt.req)); diff != "" {
				t.Errorf("pages (-want +got):\n%s", diff)
			}
		})
	}

	// The same over REST, with query parameters.
	code, _, body := p.rest(t, http.MethodGet, "/v1/contact-details/batch?pageSize=2&state=TASK_STATE_RUNNING", nil, nil)
	var page struct {
		Tasks []struct {
			TaskID string `json:"taskId"`
			State  string `json:"state"`
		} `json:"tasks"`
		NextPageToken *string `json:"nextPageToken"`
	}
	if code != http.StatusOK {
		t.Fatalf("REST list: HTTP %d: %s", code, body)
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Tasks) != 2 || page.Tasks[0].TaskID != newest || page.Tasks[1].TaskID != middle ||
		page.Tasks[0].State != "TASK_STATE_RUNNING" || page.NextPageToken == nil || *page.NextPageToken != "" {
		t.Errorf("REST list of running tasks: %s", body)
	}

	// A token of the listing cannot be used with another task's results, nor a made-up one.
	first, err := client.ListTasks(testContext(t), &cdv1.ListTasksRequest{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.ListTasks(testContext(t), &cdv1.ListTasksRequest{PageSize: 1, PageToken: "bm90LWEtdG9rZW4"})
	wantStatus(t, "made-up page token", err, codes.InvalidArgument, "INVALID_TOKEN")
	_, err = client.ListTaskResults(testContext(t), &cdv1.ListTaskResultsRequest{TaskId: newest, PageToken: first.GetNextPageToken()})
	wantStatus(t, "list token used for results", err, codes.InvalidArgument, "INVALID_TOKEN")
}
