package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestWatchToSucceededCollectsEveryResultOnce(t *testing.T) {
	_, url := newPacedUpstream(t, 500)
	p := startOn(t, url)
	client := p.dial(t)
	b := newBatch(250, 5, 4)
	begin := time.Now()
	id := b.start(t, client)

	// grpcurl and a REST client watch the same task at the same time.
	type grpcurlWatch struct {
		msgs []*cdv1.WatchTaskResponse
		err  error
	}
	viaGrpcurl := make(chan grpcurlWatch, 1)
	go func() {
		msgs, err := watchGrpcurl(t, p, fmt.Sprintf(`{"taskId":%q}`, id))
		viaGrpcurl <- grpcurlWatch{msgs, err}
	}()
	rest, err := watchREST(testContext(t), p, id, "", nil)
	if err != nil {
		t.Fatalf("REST watch: %v", err)
	}
	g := <-viaGrpcurl
	if g.err != nil {
		t.Fatal(g.err)
	}

	if rest.code != 200 || rest.errLine != nil {
		t.Errorf("REST watch: HTTP %d, error line %s; want 200 and no error", rest.code, rest.errLine)
	}
	for _, w := range []struct {
		name string
		msgs []*cdv1.WatchTaskResponse
	}{{"grpcurl", g.msgs}, {"REST", rest.msgs}} {
		rs := results(w.msgs)
		if len(rs) != len(b.want) {
			t.Errorf("%s: %d results, want %d (250 - %d rejected - %d duplicates)", w.name, len(rs), len(b.want), b.rejected, b.duplicates)
		}
		checkSequence(t, w.name, rs, 0, b.want)
		checkEndsWith(t, w.name, w.msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
		for i, m := range w.msgs {
			if m.GetTaskId() != id {
				t.Errorf("%s: message %d names task %q", w.name, i+1, m.GetTaskId())
			}
		}
		last := w.msgs[len(w.msgs)-1].GetOverallStats()
		if last.GetNumRemaining() != 0 || int(last.GetNumCompleted()+last.GetNumFailed()) != len(b.want) ||
			int(last.GetNumRejected()) != b.rejected || int(last.GetNumDuplicates()) != b.duplicates {
			t.Errorf("%s: final stats %v", w.name, last)
		}
	}
	if diff := cmp.Diff(results(g.msgs), results(rest.msgs), protocmp.Transform()); diff != "" {
		t.Errorf("grpcurl and REST saw different results (-grpcurl +REST):\n%s", diff)
	}

	// The stored results, paged, are the same.
	stored, pages := listAllResults(t, client, id, 60)
	if pages < 5 {
		t.Errorf("%d results came in %d pages of 60", len(stored), pages)
	}
	if diff := cmp.Diff(results(g.msgs), stored, protocmp.Transform()); diff != "" {
		t.Errorf("ListTaskResults differs from the watch (-watch +list):\n%s", diff)
	}

	got, err := client.GetTask(testContext(t), &cdv1.GetTaskRequest{TaskId: id})
	if err != nil {
		t.Fatal(err)
	}
	task := got.GetTask()
	want := &cdv1.Task{
		TaskId: id,
		State:  cdv1.TaskState_TASK_STATE_SUCCEEDED,
		OverallStats: &cdv1.OverallStats{
			TotalPeopleToFetch: int32(len(b.want)),
			NumCompleted:       task.GetOverallStats().GetNumCompleted(), // checked below with NumFailed
			NumFailed:          task.GetOverallStats().GetNumFailed(),
			NumRejected:        int32(b.rejected),
			NumDuplicates:      int32(b.duplicates),
		},
		EnrichmentTypes: &cdv1.EnrichmentTypesUsed{GetWorkEmails: true, GetPersonalEmails: true, GetPhoneNumbers: true},
		ChargeInfo: &cdv1.ChargeInfo{
			Method:      &cdv1.ChargeInfo_ChargedNow{ChargedNow: &cdv1.ChargedNow{CreditsCharged: float64(5 * len(b.want))}},
			FiberMethod: "charged-now",
		},
		NumResults: int32(len(b.want)),
	}
	if diff := cmp.Diff(want, task, protocmp.Transform(),
		protocmp.IgnoreFields(&cdv1.Task{}, "create_time", "update_time", "finish_time")); diff != "" {
		t.Errorf("GetTask (-want +got):\n%s", diff)
	}
	if s := task.GetOverallStats(); int(s.GetNumCompleted()+s.GetNumFailed()) != len(b.want) {
		t.Errorf("completed %d + failed %d, want %d", s.GetNumCompleted(), s.GetNumFailed(), len(b.want))
	}
	created, updated, finished := task.GetCreateTime().AsTime(), task.GetUpdateTime().AsTime(), task.GetFinishTime().AsTime()
	end := time.Now()
	if task.GetCreateTime() == nil || task.GetUpdateTime() == nil || task.GetFinishTime() == nil ||
		created.Before(begin) || finished.Before(created) || updated.Before(created) || finished.After(end) || updated.After(end) {
		t.Errorf("times: began %v, create %v, update %v, finish %v, now %v", begin, created, updated, finished, end)
	}
}

func TestWatchResumeHasNoGapAndNoDuplicate(t *testing.T) {
	_, url := newPacedUpstream(t, 100)
	p := startOn(t, url)
	client := p.dial(t)
	b := newBatch(300, 0, 0)
	id := b.start(t, client)

	// An uninterrupted watch to compare with.
	type watch struct {
		msgs []*cdv1.WatchTaskResponse
		err  error
	}
	whole := make(chan watch, 1)
	go func() {
		msgs, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: id})
		whole <- watch{msgs, err}
	}()

	first := watchUntil(t, client, &cdv1.WatchTaskRequest{TaskId: id}, hasResults)
	cut := first[len(first)-1]
	if cut.GetState() != cdv1.TaskState_TASK_STATE_RUNNING {
		t.Fatalf("the first results came with state %v: the task is too fast to test resuming", cut.GetState())
	}
	rest, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: id, ResumeToken: cut.GetResumeToken()})
	if err != nil {
		t.Fatalf("resumed watch: %v", err)
	}
	checkEndsWith(t, "resumed watch", rest, cdv1.TaskState_TASK_STATE_SUCCEEDED)

	w := <-whole
	if w.err != nil {
		t.Fatalf("uninterrupted watch: %v", w.err)
	}
	checkEndsWith(t, "uninterrupted watch", w.msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
	before, after := results(first), results(rest)
	if len(before) == 0 || len(after) == 0 {
		t.Errorf("%d results before the cut and %d after: the cut is not in the middle", len(before), len(after))
	}
	checkSequence(t, "before the cut", before, 0, b.want)
	checkSequence(t, "after the cut", after, len(before), b.want)
	union := append(before, after...)
	if len(union) != len(b.want) {
		t.Errorf("the two watches delivered %d results, want %d", len(union), len(b.want))
	}
	if diff := cmp.Diff(results(w.msgs), union, protocmp.Transform()); diff != "" {
		t.Errorf("interrupted and resumed differs from uninterrupted (-uninterrupted +resumed):\n%s", diff)
	}

	// The same token over REST resumes at the same place.
	viaREST, err := watchREST(testContext(t), p, id, "?resumeToken="+cut.GetResumeToken(), nil)
	if err != nil || viaREST.code != 200 || viaREST.errLine != nil {
		t.Fatalf("REST resume: %v, HTTP %d, %s", err, viaREST.code, viaREST.errLine)
	}
	if diff := cmp.Diff(after, results(viaREST.msgs), protocmp.Transform()); diff != "" {
		t.Errorf("REST resume differs from gRPC resume (-gRPC +REST):\n%s", diff)
	}
}

func TestWatcherAfterFinishCostsNoUpstreamCalls(t *testing.T) {
	sim, url := newPacedUpstream(t, 500)
	p := startOn(t, url)
	client := p.dial(t)
	b := newBatch(150, 2, 2)
	id := b.start(t, client)
	first, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: id})
	if err != nil {
		t.Fatal(err)
	}
	checkEndsWith(t, "first watch", first, cdv1.TaskState_TASK_STATE_SUCCEEDED)

	upstream := func() map[fiberfake.Endpoint]int {
		out := map[fiberfake.Endpoint]int{}
		for _, ep := range fiberfake.Endpoints() {
			out[ep] = sim.Calls(ep)
		}
		return out
	}
	before := upstream()

	// New watchers of every kind, from the start and resumed, each get everything.
	for i := range 3 {
		msgs, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: id})
		if err != nil {
			t.Fatalf("watch %d: %v", i, err)
		}
		checkEndsWith(t, "late watch", msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
		if diff := cmp.Diff(results(first), results(msgs), protocmp.Transform()); diff != "" {
			t.Errorf("late watch %d (-first +late):\n%s", i, diff)
		}
	}
	rest, err := watchREST(testContext(t), p, id, "", nil)
	if err != nil || rest.code != 200 || rest.errLine != nil {
		t.Fatalf("REST watch: %v, HTTP %d, %s", err, rest.code, rest.errLine)
	}
	if diff := cmp.Diff(results(first), results(rest.msgs), protocmp.Transform()); diff != "" {
		t.Errorf("late REST watch (-first +late):\n%s", diff)
	}
	progress, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: id, ProgressOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) != 1 || len(progress[0].GetResults()) != 0 || progress[0].GetState() != cdv1.TaskState_TASK_STATE_SUCCEEDED {
		t.Errorf("progress-only watch of a finished task: %v", progress)
	}
	for range 2 {
		if _, err := client.GetTask(testContext(t), &cdv1.GetTaskRequest{TaskId: id}); err != nil {
			t.Fatal(err)
		}
		listAllResults(t, client, id, 100)
	}
	ctx, cancel := context.WithTimeout(testContext(t), 10*time.Second)
	defer cancel()
	if _, err := client.ListTasks(ctx, &cdv1.ListTasksRequest{}); err != nil {
		t.Fatal(err)
	}

	if diff := cmp.Diff(before, upstream()); diff != "" {
		t.Errorf("upstream calls moved while serving a finished task (-before +after):\n%s", diff)
	}
}
