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
// simulator. Three tasks are started on replica A; the replica polling each (usually A) is its
// poller, the other its elsewhere. One task is watched by one watcher on its poller (the
// reference), one by 10 watchers spread over both replicas, one by a single watcher
// elsewhere. Every watcher gets every result once; each task costs the upstream polls of the
// reference (±1): watchers elsewhere add none, and a task watched only elsewhere is polled as
// watched. A watch cut on A and resumed on B with its token continues with no gap and no
// duplicate. The delay of the watchers elsewhere behind those on the poller (the
// cross-replica delivery latency) is logged, and must stay well under the 2s periodic
// re-read: the signals deliver, not the re-read.
func TestWatchFromAnyReplica(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	sim, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: 30})
	args := []string{"-store", dsn, "-log-level", "debug"}
	a := startOn(t, url, append(args, "-replica-id", "replica-a")...)
	b := startOn(t, url, append(args, "-replica-id", "replica-b")...)
	clients := map[string]cdv1.ContactDetailsServiceClient{"replica-a": a.dial(t), "replica-b": b.dial(t)}
	other := map[string]string{"replica-a": "replica-b", "replica-b": "replica-a"}

	ref, spread, elsewhere := runBatch(300, 300), runBatch(301, 300), runBatch(302, 300) // 10s of work each
	ca := clients["replica-a"]
	refID, spreadID, elsewhereID := ref.start(t, ca), spread.start(t, ca), elsewhere.start(t, ca)
	poller := map[string]string{}
	for _, id := range []string{refID, spreadID, elsewhereID} {
		watchUntil(t, ca, &cdv1.WatchTaskRequest{TaskId: id}, hasResults)
		poller[id] = pollerOf(t, id, a, b)
	}
	t.Logf("pollers: the reference %s, the spread task %s, the task watched elsewhere %s", poller[refID], poller[spreadID], poller[elsewhereID])

	ctx := testContext(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var watches []timedWatch
	watch := func(name, replica, id string) {
		wg.Go(func() {
			w := watchTimed(ctx, name, clients[replica], &cdv1.WatchTaskRequest{TaskId: id})
			mu.Lock()
			watches = append(watches, w)
			mu.Unlock()
		})
	}
	watch("ref on its poller", poller[refID], refID)
	watch("only elsewhere", other[poller[elsewhereID]], elsewhereID)
	for i := range 10 {
		if i%2 == 0 {
			watch("spread on its poller", poller[spreadID], spreadID)
		} else {
			watch("spread elsewhere", other[poller[spreadID]], spreadID)
		}
	}
	// A watch of the spread task on A, cut after its first results and resumed on B.
	first := watchUntil(t, ca, &cdv1.WatchTaskRequest{TaskId: spreadID}, hasResults)
	cut := first[len(first)-1]
	if cut.GetState() != cdv1.TaskState_TASK_STATE_RUNNING {
		t.Fatalf("the first results came with state %v: the task is too fast to test resuming", cut.GetState())
	}
	resumed := watchTimed(ctx, "resumed on B", clients["replica-b"], &cdv1.WatchTaskRequest{TaskId: spreadID, ResumeToken: cut.GetResumeToken()})
	wg.Wait()

	want := map[string]batch{refID: ref, spreadID: spread, elsewhereID: elsewhere}
	ids := map[string]string{"ref on its poller": refID, "only elsewhere": elsewhereID, "spread on its poller": spreadID, "spread elsewhere": spreadID}
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
	for _, id := range []string{refID, spreadID, elsewhereID} {
		for _, p := range polls[id] {
			if p.replica != poller[id] {
				t.Errorf("task %s polled by %s and %s, want one replica", id, poller[id], p.replica)
				break
			}
		}
	}
	refPolls := len(sim.Polls(refID))
	for name, id := range map[string]string{"10 watchers over both replicas": spreadID, "1 watcher elsewhere": elsewhereID} {
		n := len(sim.Polls(id))
		t.Logf("upstream polls: %d for the task with %s, %d for the reference (1 watcher on its poller)", n, name, refPolls)
		if n < refPolls-1 || n > refPolls+1 {
			t.Errorf("the task with %s cost %d upstream polls, want those of 1 watcher on its poller (%d) ±1", name, n, refPolls)
		}
	}

	// Cross-replica delivery latency: when a result reached a watcher elsewhere, after it
	// first reached one on the poller (woken by the poller's write in its own process).
	onPoller := map[int]time.Time{}
	for _, w := range watches {
		if w.name != "spread on its poller" {
			continue
		}
		for i, at := range w.arrived {
			if first, ok := onPoller[i]; !ok || at.Before(first) {
				onPoller[i] = at
			}
		}
	}
	var lat []time.Duration
	for _, w := range watches {
		if w.name != "spread elsewhere" {
			continue
		}
		for i, at := range w.arrived {
			lat = append(lat, at.Sub(onPoller[i]))
		}
	}
	slices.Sort(lat)
	p50, p99, worst := lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	t.Logf("cross-replica delivery latency (a result on the watchers elsewhere after the poller's), %d deliveries: p50 %v, p99 %v, max %v", len(lat), p50, p99, worst)
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
