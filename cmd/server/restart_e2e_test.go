package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
)

func TestRestartResumesFromStoredCursor(t *testing.T) {
	// The simulator lives in the test process and outlives the first server.
	// Repeat mode: every page carries a cursor, so the one stored before the kill is not empty.
	sim, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: 60, CursorMode: fiberfake.CursorRepeatWhenCaughtUp})
	dbPath := filepath.Join(t.TempDir(), "fibergate.db")
	store := "sqlite:" + dbPath
	first := startOn(t, url, "-store", store)
	b := newBatch(300, 3, 2) // 5s of work
	id := b.start(t, first.dial(t))

	pre := watchUntil(t, first.dial(t), &cdv1.WatchTaskRequest{TaskId: id}, hasResults)
	token := pre[len(pre)-1].GetResumeToken()
	seen := results(pre)
	checkSequence(t, "before the kill", seen, 0, b.want)
	if pre[len(pre)-1].GetState() != cdv1.TaskState_TASK_STATE_RUNNING {
		t.Fatalf("the task finished before the kill: it is too fast for this test")
	}
	first.kill()
	polls := sim.Calls(fiberfake.EndpointPoll)
	stored := storedCursor(t, dbPath, id)
	before := sim.Polls(id)
	if stored == "" {
		t.Fatalf("no cursor stored before the kill (%d polls answered)", len(before))
	}
	if !handedOut(before, stored) {
		t.Errorf("the stored cursor is none the simulator handed out before the kill")
	}

	second := startOn(t, url, "-store", store)
	client := second.dial(t)
	got, err := client.GetTask(testContext(t), &cdv1.GetTaskRequest{TaskId: id})
	if err != nil {
		t.Fatalf("GetTask after the restart: %v", err)
	}
	if task := got.GetTask(); int(task.GetNumResults()) < len(seen) || task.GetChargeInfo().GetChargedNow() == nil {
		t.Errorf("after the restart the task has %d results (%d were watched before the kill) and charge %v",
			task.GetNumResults(), len(seen), task.GetChargeInfo())
	}
	page, err := client.ListTaskResults(testContext(t), &cdv1.ListTaskResultsRequest{TaskId: id, PageSize: int32(len(seen))})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seen, page.GetResults(), protocmp.Transform()); diff != "" {
		t.Errorf("stored results after the restart differ from those watched before the kill (-watched +stored):\n%s", diff)
	}

	// Resuming with the token from before the kill completes the set.
	post, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: id, ResumeToken: token})
	if err != nil {
		t.Fatalf("resumed watch: %v", err)
	}
	checkEndsWith(t, "resumed watch", post, cdv1.TaskState_TASK_STATE_SUCCEEDED)
	rest := results(post)
	checkSequence(t, "after the restart", rest, len(seen), b.want)
	if n := len(seen) + len(rest); n != len(b.want) {
		t.Errorf("%d results before the kill + %d after = %d, want %d", len(seen), len(rest), n, len(b.want))
	}
	all, _ := listAllResults(t, client, id, 1000)
	if diff := cmp.Diff(append(seen, rest...), all, protocmp.Transform()); diff != "" {
		t.Errorf("stored results differ from the watched ones (-watched +stored):\n%s", diff)
	}

	if n := sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Errorf("the simulator saw %d starts, want 1", n)
	}
	if n := sim.Calls(fiberfake.EndpointPoll); n <= polls {
		t.Errorf("no poll after the restart (%d before, %d after)", polls, n)
	}
	mustContain(t, second.logs.String(), "resumed unfinished tasks")
	if after := sim.Polls(id); len(after) <= len(before) {
		t.Errorf("no poll of the task after the restart")
	} else if got := after[len(before)].Cursor; got != stored {
		t.Errorf("the first poll after the restart sent cursor %q, want the one stored before the kill, %q", got, stored)
	}
}

// storedCursor reads task id's cursor from the SQLite store at path, which no server holds.
func storedCursor(t *testing.T, path, id string) string {
	t.Helper()
	st, err := sqlite.Open(testContext(t), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	task, err := st.GetTask(testContext(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return task.Progress.Cursor
}

// handedOut reports whether cursor was the nextCursor of one of polls.
func handedOut(polls []fiberfake.PollRecord, cursor string) bool {
	for _, p := range polls {
		if p.NextCursor != nil && *p.NextCursor == cursor {
			return true
		}
	}
	return false
}

// kill ends the server with SIGKILL, as a crash would, and waits for the exit.
func (p *proc) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatalf("kill server: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.t.Fatal("server did not exit within 20s of SIGKILL")
	}
}
