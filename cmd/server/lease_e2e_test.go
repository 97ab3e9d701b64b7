package main

import (
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
)

// TestReplicasPollEachTaskOnceAndTakeOverAKilledOne runs two server binaries on one fresh
// PostgreSQL database and one simulator. Tasks started on either are each polled by one
// replica at a time; the replica polling a task is killed (SIGKILL) mid-task, and the other
// takes its tasks over once their leases expire and finishes them: a watcher on the survivor,
// which never polled the task before, gets every result once. The failover time (the kill to
// the survivor's first poll of the task) is logged.
func TestReplicasPollEachTaskOnceAndTakeOverAKilledOne(t *testing.T) {
	const ttl = 2 * time.Second
	dsn := pgtest.NewDatabase(t)
	sim, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: 30})
	args := []string{"-store", dsn, "-lease-ttl", ttl.String(), "-log-level", "debug"}
	a := startOn(t, url, append(args, "-replica-id", "replica-a")...)
	b := startOn(t, url, append(args, "-replica-id", "replica-b")...)
	replicas := map[string]*proc{"replica-a": a, "replica-b": b}

	batches := map[string]batch{}
	for i, p := range []*proc{a, b, a, b} {
		bt := runBatch(100+i, 300) // 10s of work each
		batches[bt.start(t, p.dial(t))] = bt
	}
	var ids []string
	for id := range batches {
		ids = append(ids, id)
		watchUntil(t, a.dial(t), &cdv1.WatchTaskRequest{TaskId: id}, hasResults)
	}
	// The victim is the replica polling the first task; the survivor watches it from the
	// start, through the kill, to the end.
	victimID := pollerOf(t, ids[0], a, b)
	victim, survivor := replicas[victimID], b
	if victim == b {
		survivor = a
	}
	stream, err := survivor.dial(t).WatchTask(testContext(t), &cdv1.WatchTaskRequest{TaskId: ids[0]})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatalf("the survivor's watch: %v", err)
	}
	var wg sync.WaitGroup
	watched := []*cdv1.WatchTaskResponse{first}
	var watchErr error
	wg.Go(func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					watchErr = err
				}
				return
			}
			watched = append(watched, m)
		}
	})
	held := heldBy(t, victimID, ids, a, b)
	killed := time.Now()
	if err := victim.stopWith(syscall.SIGKILL); err == nil {
		t.Fatal("the killed replica exited cleanly")
	}
	if got, err := survivor.dial(t).GetTask(testContext(t), &cdv1.GetTaskRequest{TaskId: ids[0]}); err != nil {
		t.Fatal(err)
	} else if got.GetTask().GetState() != cdv1.TaskState_TASK_STATE_RUNNING {
		t.Fatalf("the task finished before the kill: the test is too slow")
	}

	for _, id := range ids {
		msgs, err := watchGRPC(testContext(t), survivor.dial(t), &cdv1.WatchTaskRequest{TaskId: id})
		if err != nil {
			t.Fatalf("watch %s on the survivor: %v", id, err)
		}
		checkEndsWith(t, "the survivor's watch of "+id, msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
		checkSequence(t, "the survivor's watch of "+id, results(msgs), 0, batches[id].want)
		if n := len(results(msgs)); n != len(batches[id].want) {
			t.Errorf("task %s: %d results, want %d", id, n, len(batches[id].want))
		}
	}
	wg.Wait()
	if watchErr != nil {
		t.Fatalf("the watch on the survivor started before the kill: %v", watchErr)
	}
	checkEndsWith(t, "the watch through the kill", watched, cdv1.TaskState_TASK_STATE_SUCCEEDED)
	checkSequence(t, "the watch through the kill", results(watched), 0, batches[ids[0]].want)

	for name, p := range replicas {
		for line := range strings.SplitSeq(strings.TrimSpace(p.logs.String()), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["replica"] != name {
				t.Errorf("a line of %s's log does not name it: %s", name, line)
			}
		}
	}
	polls := loggedPolls(t, a, b)
	for _, id := range ids {
		checkOnePollerAtATime(t, id, polls[id], victimID, killed)
		// Every poll the replicas logged reached the simulator, and at most one more (answered
		// as the victim was killed, before it could log it).
		logged, answered := len(polls[id]), len(sim.Polls(id))
		if answered < logged || answered > logged+1 {
			t.Errorf("task %s: the simulator answered %d polls, the replicas logged %d", id, answered, logged)
		}
	}
	if len(held) == 0 {
		t.Fatalf("the victim %s held no task at the kill", victimID)
	}
	for _, id := range held {
		i := slices.IndexFunc(polls[id], func(p loggedPoll) bool { return p.replica != victimID })
		if i < 0 {
			t.Errorf("task %s: no poll by the survivor", id)
			continue
		}
		failover := polls[id][i].at.Sub(killed)
		t.Logf("failover of task %s: %v from the kill of %s to the survivor's first poll (lease TTL %v)", id, failover, victimID, ttl)
		if bound := ttl + ttl/3 + 2*time.Second; failover > bound { // TTL, a claim interval, slack
			t.Errorf("task %s: failover took %v, want within %v", id, failover, bound)
		}
	}
}

// loggedPoll is a poll a replica logged.
type loggedPoll struct {
	at      time.Time
	replica string
}

// loggedPolls returns the polls the servers logged at debug level, by task, in time order.
func loggedPolls(t *testing.T, ps ...*proc) map[string][]loggedPoll {
	t.Helper()
	out := map[string][]loggedPoll{}
	for _, p := range ps {
		for line := range strings.SplitSeq(p.logs.String(), "\n") {
			var rec struct {
				Time    time.Time `json:"time"`
				Msg     string    `json:"msg"`
				TaskID  string    `json:"task_id"`
				Replica string    `json:"replica"`
			}
			if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "polled a task" {
				continue
			}
			if rec.Replica == "" {
				t.Errorf("a poll logged without its replica: %s", line)
			}
			out[rec.TaskID] = append(out[rec.TaskID], loggedPoll{rec.Time, rec.Replica})
		}
	}
	for _, ps := range out {
		slices.SortFunc(ps, func(x, y loggedPoll) int { return x.at.Compare(y.at) })
	}
	return out
}

// pollerOf returns the replica that logged the task's latest poll; it fails t if none did.
func pollerOf(t *testing.T, id string, ps ...*proc) string {
	t.Helper()
	polls := loggedPolls(t, ps...)[id]
	if len(polls) == 0 {
		t.Fatalf("no replica logged a poll of %s", id)
	}
	return polls[len(polls)-1].replica
}

// heldBy returns the tasks among ids whose latest logged poll was replica's.
func heldBy(t *testing.T, replica string, ids []string, ps ...*proc) []string {
	t.Helper()
	polls := loggedPolls(t, ps...)
	var out []string
	for _, id := range ids {
		if p := polls[id]; len(p) > 0 && p[len(p)-1].replica == replica {
			out = append(out, id)
		}
	}
	return out
}

// checkOnePollerAtATime checks the task's polls: before the kill of victim, all by one
// replica; after it, none by victim.
func checkOnePollerAtATime(t *testing.T, id string, polls []loggedPoll, victim string, killed time.Time) {
	t.Helper()
	if len(polls) == 0 {
		t.Errorf("task %s: no poll logged", id)
		return
	}
	first := polls[0].replica
	for _, p := range polls {
		switch {
		case p.at.Before(killed) && p.replica != first:
			t.Errorf("task %s: polled by %s and %s before the kill", id, first, p.replica)
			return
		case !p.at.Before(killed) && p.replica == victim:
			t.Errorf("task %s: polled by %s at %v, after it was killed at %v", id, victim, p.at, killed)
			return
		}
	}
}
