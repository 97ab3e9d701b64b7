package main

import (
	"testing"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// TestPagingARunningTaskNeitherRepeatsNorSkips: a client pages a running task's results with
// ListTaskResults, short and empty pages included, following next_page_token; it ends with
// every result once, in order, and the token is empty only once the task ended and all were
// returned.
func TestPagingARunningTaskNeitherRepeatsNorSkips(t *testing.T) {
	_, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: 40, NoDataRate: -1})
	p := startOn(t, url)
	client := p.dial(t)
	b := newBatch(120, 0, 0)
	id := b.start(t, client)

	var (
		all             []*cdv1.PersonResult
		token           string
		whileRunning    int // pages read while the task ran
		lastState       cdv1.TaskState
		tick            = time.NewTicker(100 * time.Millisecond) // the client's own pace
		pages, maxPages = 0, 600                                 // 60s at most
	)
	defer tick.Stop()
	for ; pages < maxPages; pages++ {
		resp, err := client.ListTaskResults(testContext(t), &cdv1.ListTaskResultsRequest{TaskId: id, PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		all = append(all, resp.GetResults()...)
		lastState = resp.GetState()
		if lastState == cdv1.TaskState_TASK_STATE_RUNNING {
			whileRunning++
			if resp.GetNextPageToken() == "" {
				t.Fatalf("page %d of a running task has no next_page_token", pages+1)
			}
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		token = resp.GetNextPageToken()
		<-tick.C
	}
	if pages == maxPages {
		t.Fatal("the task never ended")
	}
	if lastState != cdv1.TaskState_TASK_STATE_SUCCEEDED || whileRunning < 2 {
		t.Errorf("last state %v after %d pages while running; want SUCCEEDED, and paging that began while it ran", lastState, whileRunning)
	}
	checkSequence(t, "paged", all, 0, b.want)
	if len(all) != len(b.want) {
		t.Errorf("%d results paged, want %d", len(all), len(b.want))
	}
}
