package main

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
)

// timedWatch is a watch's messages and when each result arrived, by its position in the
// watch.
type timedWatch struct {
	name    string
	msgs    []*cdv1.WatchTaskResponse
	arrived []time.Time
	err     error
}

// watchTimed watches a task over gRPC to the end of the stream, noting when each result
// arrives. It may run on any goroutine.
func watchTimed(ctx context.Context, name string, client cdv1.ContactDetailsServiceClient, req *cdv1.WatchTaskRequest) timedWatch {
	w := timedWatch{name: name}
	stream, err := client.WatchTask(ctx, req)
	if err != nil {
		w.err = err
		return w
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				w.err = err
			}
			return w
		}
		now := time.Now()
		w.msgs = append(w.msgs, m)
		for range m.GetResults() {
			w.arrived = append(w.arrived, now)
		}
	}
}

// TestWatchFromAnyReplica runs two server binaries on one fresh PostgreSQL database and one
// simulator. Three tasks are started on replica A, which polls them: one watched by one
// watcher on A (the reference), one by 10 watchers spread over A and B, one by a single
// watcher on B. Every watcher gets every result once; each task costs the upstream polls of
// the reference (±1): watchers on B add none, and a task watched only on B is polled as
// watched. A watch resumed on B with a token from A continues with no gap and no duplicate.
// The delay of B's watchers behind A's (the cross-replica delivery latency) is logged, and
// must stay well under the 2s periodic re-read: the signals deliver, not the re-read.
func TestWatchFromAnyReplica(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	sim, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: 30})
	args := []string{"-store", dsn, "-log-level", "debug"}
	a := startOn(t, url, append(args, "-replica-id", "replica-a")...)
	b := startOn(t, url, append(args, "-replica-id", "replica-b")...)
	ca, cb := a.dial(t), b.dial(t)

	ref, spread, onB := runBatch(300, 300), runBatch(301, 300), runBatch(302, 300) // 10s of work each
	refID, spreadID, onBID := ref.start(t, ca), spread.start(t, ca), onB.start(t, ca)

	ctx := testContext(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var watches []timedWatch
	watch := func(name string, c cdv1.ContactDetailsServiceClient, req *cdv1.WatchTaskRequest) {
		wg.Go(func() {
			w := watchTimed(ctx, name, c, req)
			mu.Lock()
			watches = append(watches, w)
			mu.Unlock()
		})
	}
	watch("ref on A", ca, &cdv1.WatchTaskRequest{TaskId: refID})
	watch("only on B", cb, &cdv1.WatchTaskRequest{TaskId: onBID})
	for i := range 10 {
		if i%2 == 0 {
			watch("spread on A", ca, &cdv1.WatchTaskRequest{TaskId: spreadID})
		} else {
			watch("spread on B", cb, &cdv1.WatchTaskRequest{TaskId: spreadID})
		}
	}
	// A watch of the spread task on A, cut after its first results and resumed on B.
	first := watchUntil(t, ca, &cdv1.WatchTaskRequest{TaskId: spreadID}, hasResults)
	cut := first[len(first)-1]
	if cut.GetState() != cdv1.TaskState_TASK_STATE_RUNNING {
		t.Fatalf("the first results came with state %v: the task is too fast to test resuming", cut.GetState())
	}
	resumed := watchTimed(ctx, "resumed on B", cb, &cdv1.WatchTaskRequest{TaskId: spreadID, ResumeToken: cut.GetResumeToken()})
	wg.Wait()

	want := map[string]batch{refID: ref, spreadID: spread, onBID: onB}
	ids := map[string]string{"ref on A": refID, "only on B": onBID, "spread on A": spreadID, "spread on B": spreadID}
	for _, w := range watches {
		if w.err != nil {
			t.Fatalf("%s: %v", w.name, w.err)
		}
		bt := want[ids[w.name]]
		checkEndsWith(t, w.name, w.msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
		checkSequence(t, w.name, results(w.msgs), 0, bt.want)
		if n := len(results(w.msgs)); n != len(bt.want) {
			t.Errorf("%s: %d results, want %d", w.name, n, len(bt.want))
		}
	}
	if resumed.err != nil {
		t.Fatalf("resumed on B: %v", resumed.err)
	}
	checkEndsWith(t, "resumed on B", resumed.msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
	checkSequence(t, "resumed on B", results(first), 0, spread.want)
	checkSequence(t, "resumed on B", results(resumed.msgs), len(results(first)), spread.want)
	if n := len(results(first)) + len(results(resumed.msgs)); n != len(spread.want) {
		t.Errorf("cut on A and resumed on B: %d results, want %d", n, len(spread.want))
	}

	// Upstream polls: one replica polls each task, as often as the reference.
	polls := loggedPolls(t, a, b)
	refPolls := len(sim.Polls(refID))
	for _, id := range []string{refID, spreadID, onBID} {
		for _, p := range polls[id] {
			if p.replica != "replica-a" {
				t.Errorf("task %s polled by %s, want replica-a alone", id, p.replica)
				break
			}
		}
	}
	for name, id := range map[string]string{"10 watchers over A and B": spreadID, "1 watcher on B": onBID} {
		n := len(sim.Polls(id))
		t.Logf("upstream polls: %d for the task with %s, %d for the reference (1 watcher on A)", n, name, refPolls)
		if n < refPolls-1 || n > refPolls+1 {
			t.Errorf("the task with %s cost %d upstream polls, want those of 1 watcher on A (%d) ±1", name, n, refPolls)
		}
	}

	// Cross-replica delivery latency: when a result reached a watcher on B, after it first
	// reached one on A (woken by the poller's write in A's process).
	onA := map[int]time.Time{}
	for _, w := range watches {
		if w.name != "spread on A" {
			continue
		}
		for i, at := range w.arrived {
			if first, ok := onA[i]; !ok || at.Before(first) {
				onA[i] = at
			}
		}
	}
	var lat []time.Duration
	for _, w := range watches {
		if w.name != "spread on B" {
			continue
		}
		for i, at := range w.arrived {
			lat = append(lat, at.Sub(onA[i]))
		}
	}
	slices.Sort(lat)
	p50, p99, worst := lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	t.Logf("cross-replica delivery latency (a result on B's watchers after A's), %d deliveries: p50 %v, p99 %v, max %v", len(lat), p50, p99, worst)
	if p99 > time.Second {
		t.Errorf("cross-replica delivery latency p99 %v, want well under the 2s re-read (the signals deliver)", p99)
	}
}

// TestWatchFromAnyReplicaThroughALostListener: the replicas' listening connections are
// terminated mid-task (pg_terminate_backend); each replica listens again, and a watcher on
// the replica that does not poll the task still gets every result once.
func TestWatchFromAnyReplicaThroughALostListener(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	_, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: 30})
	args := []string{"-store", dsn}
	a := startOn(t, url, append(args, "-replica-id", "replica-a")...)
	b := startOn(t, url, append(args, "-replica-id", "replica-b")...)
	bt := runBatch(310, 240) // 8s of work
	id := bt.start(t, a.dial(t))
	done := make(chan timedWatch, 1)
	go func() { done <- watchTimed(testContext(t), "on B", b.dial(t), &cdv1.WatchTaskRequest{TaskId: id}) }()
	watchUntil(t, b.dial(t), &cdv1.WatchTaskRequest{TaskId: id}, hasResults)

	conn, err := pgx.Connect(testContext(t), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var cut int
	if err := conn.QueryRow(testContext(t), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'fibergate/signals'`).Scan(&cut); err != nil {
		t.Fatal(err)
	}
	if cut != 2 {
		t.Errorf("terminated %d listening connections, want 2 (one per replica)", cut)
	}

	w := <-done
	if w.err != nil {
		t.Fatalf("watch on B: %v", w.err)
	}
	checkEndsWith(t, "watch on B", w.msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
	checkSequence(t, "watch on B", results(w.msgs), 0, bt.want)
	if n := len(results(w.msgs)); n != len(bt.want) {
		t.Errorf("watch on B: %d results, want %d", n, len(bt.want))
	}
	for _, p := range []*proc{a, b} {
		mustContain(t, p.logs.String(), "listening for the other replicas' signals stopped", "listening for the other replicas' signals again")
	}
}
