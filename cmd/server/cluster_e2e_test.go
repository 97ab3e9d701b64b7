package main

import (
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
)

// TestCluster runs the cluster of issue 10: three server binaries on one fresh PostgreSQL
// database, and cmd/fiberfake as a process of its own with Fiber's per-key limits scaled to
// 30 starts and 240 polls per 6s. In turn, on the same cluster:
//
//   - burst: 90 starts spread round-robin over the replicas are all accepted, none is refused
//     upstream (429), and no 6s window holds more than 30 of them;
//   - watchers: 20 watchers spread over the replicas on one task cost the same upstream polls
//     as one watcher on one replica (±1), and each gets every result once;
//   - request_id: one request_id sent to the three replicas at once makes one upstream start;
//   - outage: PostgreSQL refuses connections and cuts those it has mid-task: every replica
//     turns not ready and ready again, and watchers resumed with their tokens on another
//     replica get every result once;
//   - kill: the replica polling a task is killed (SIGKILL) mid-task: another takes the task
//     over, the watcher that was on the dead replica resumes on a survivor with its token, and
//     every watcher gets every result once. The failover time is logged.
//
// Each task is 240 people (8s at the simulator's 30 people per second) unless said otherwise.
func TestCluster(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	sim := startFiberfake(t, "-people-per-second", "30")
	replicas := startCluster(t, 3, dsn, sim.url)
	var clients []cdv1.ContactDetailsServiceClient
	for _, p := range replicas {
		clients = append(clients, p.dial(t))
	}

	t.Run("burst", func(t *testing.T) {
		elapsed, ideal := runBurst(t, sim, replicas)
		t.Logf("90 starts over 3 replicas took %v, %.3f× the limit's own pace (%v); the target, 1.05×, is BenchmarkClusterBurst's",
			elapsed.Round(time.Millisecond), elapsed.Seconds()/ideal.Seconds(), ideal)
	})

	t.Run("watchers", func(t *testing.T) {
		// The same task twice: one watched once on the replica that starts (and polls) it,
		// the other watched 20 times over the three replicas.
		alone, crowd := runBatch(3000, 120), runBatch(3001, 120)
		aloneID := alone.start(t, clients[0])
		crowdID := crowd.start(t, clients[1])
		single := watchInBackground(t, clients[0], &cdv1.WatchTaskRequest{TaskId: aloneID})
		var many []*watcher
		for i := range 20 {
			many = append(many, watchInBackground(t, clients[i%3], &cdv1.WatchTaskRequest{TaskId: crowdID}))
		}
		checkWatch(t, "the single watcher", single, alone)
		for i, w := range many {
			checkWatch(t, fmt.Sprint("watcher ", i), w, crowd)
		}
		polls := loggedPolls(t, replicas...)
		n1, n20 := len(polls[aloneID]), len(polls[crowdID])
		t.Logf("upstream polls: %d with one watcher on one replica, %d with 20 over three", n1, n20)
		if n20 < n1-1 || n20 > n1+1 {
			t.Errorf("20 watchers over three replicas cost %d upstream polls, one watcher %d: want the same ±1", n20, n1)
		}
	})

	t.Run("request_id", func(t *testing.T) {
		req := idempotentStart("3f0c1a52-6b1e-4c55-9d43-5e2b7c1a0d11", "https://www.linkedin.com/in/cluster-idempotent")
		before := sim.stats(t).Endpoints[fiberfake.EndpointStart].Calls
		resps := make([]*cdv1.StartBatchResponse, len(clients))
		errs := make([]error, len(clients))
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Go(func() { resps[i], errs[i] = c.StartBatch(testContext(t), req) })
		}
		wg.Wait()
		if n := sim.stats(t).Endpoints[fiberfake.EndpointStart].Calls - before; n != 1 {
			t.Errorf("%d upstream starts for one request_id sent to 3 replicas at once, want 1", n)
		}
		for i := range resps {
			if errs[i] != nil {
				t.Errorf("replica-%d: %v", i, errs[i])
			} else if got, want := resps[i].GetOutput().GetTaskId(), resps[0].GetOutput().GetTaskId(); got != want {
				t.Errorf("replica-%d answered task %s, replica-0 %s", i, got, want)
			}
		}
	})

	t.Run("outage", func(t *testing.T) {
		b := runBatch(4000, 240)
		id := b.start(t, clients[1])
		watchUntil(t, clients[1], &cdv1.WatchTaskRequest{TaskId: id}, hasResults)
		var ws []*watcher
		for _, c := range clients {
			ws = append(ws, watchInBackground(t, c, &cdv1.WatchTaskRequest{TaskId: id}))
		}

		end := pgtest.Outage(t, dsn)
		cut := time.Now()
		waitHealthAll(t, replicas, healthpb.HealthCheckResponse_NOT_SERVING)
		t.Logf("every replica not ready %v after the database went away", time.Since(cut).Round(time.Millisecond))
		for i, w := range ws {
			wantStoreUnavailable(t, fmt.Sprintf("the watch on replica-%d during the outage", i), w.wait(t))
		}
		end()
		back := time.Now()
		waitHealthAll(t, replicas, healthpb.HealthCheckResponse_SERVING)
		t.Logf("every replica ready again %v after the database came back", time.Since(back).Round(time.Millisecond))

		// Each watch resumes with its token on the next replica.
		for i, w := range ws {
			what := fmt.Sprintf("the watch of replica-%d resumed on the next", i)
			msgs, err := watchGRPC(testContext(t), clients[(i+1)%3], &cdv1.WatchTaskRequest{TaskId: id, ResumeToken: w.token()})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			checkEndsWith(t, what, msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
			checkOnce(t, what, append(results(w.msgs), results(msgs)...), b)
		}
		msgs, err := watchGRPC(testContext(t), clients[0], &cdv1.WatchTaskRequest{TaskId: id})
		if err != nil {
			t.Fatalf("a watch from the start after the outage: %v", err)
		}
		checkOnce(t, "a watch from the start after the outage", results(msgs), b)
	})

	t.Run("kill", func(t *testing.T) {
		b := runBatch(5000, 240)
		id := b.start(t, clients[2])
		watchUntil(t, clients[2], &cdv1.WatchTaskRequest{TaskId: id}, hasResults)
		victimID := pollerOf(t, id, replicas...)
		v := slices.Index(replicaNames(len(replicas)), victimID)
		if v < 0 {
			t.Fatalf("the poller %q is no replica", victimID)
		}
		var ws []*watcher
		for _, c := range clients {
			ws = append(ws, watchInBackground(t, c, &cdv1.WatchTaskRequest{TaskId: id}))
		}
		var survivors []*proc
		for i, p := range replicas {
			if i != v {
				survivors = append(survivors, p)
			}
		}

		killed := time.Now()
		if err := replicas[v].stopWith(syscall.SIGKILL); err == nil {
			t.Fatal("the killed replica exited cleanly")
		}
		if got, err := survivors[0].dial(t).GetTask(testContext(t), &cdv1.GetTaskRequest{TaskId: id}); err != nil {
			t.Fatal(err)
		} else if got.GetTask().GetState() != cdv1.TaskState_TASK_STATE_RUNNING {
			t.Fatalf("the task finished before the kill: the test is too slow")
		}
		if err := ws[v].wait(t); err == nil {
			t.Fatalf("the watch on the killed replica ended OK")
		}
		what := "the watch of the killed replica resumed on a survivor"
		msgs, err := watchGRPC(testContext(t), survivors[0].dial(t), &cdv1.WatchTaskRequest{TaskId: id, ResumeToken: ws[v].token()})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		checkEndsWith(t, what, msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
		checkOnce(t, what, append(results(ws[v].msgs), results(msgs)...), b)
		for i, w := range ws {
			if i != v {
				checkWatch(t, fmt.Sprintf("the watch on the survivor replica-%d", i), w, b)
			}
		}

		polls := loggedPolls(t, replicas...)[id]
		checkOnePollerAtATime(t, id, polls, victimID, killed)
		i := slices.IndexFunc(polls, func(p loggedPoll) bool { return p.replica != victimID })
		if i < 0 {
			t.Fatalf("no poll of %s by a survivor", id)
		}
		failover := polls[i].at.Sub(killed)
		t.Logf("failover: %v from the kill of %s to the first poll by %s (lease TTL %v)", failover.Round(time.Millisecond), victimID, polls[i].replica, clusterLeaseTTL)
		if bound := clusterLeaseTTL + clusterLeaseTTL/3 + 2*time.Second; failover > bound { // TTL, a claim interval, slack
			t.Errorf("failover took %v, want within %v", failover, bound)
		}
	})
}

// BenchmarkClusterBurst measures the burst of TestCluster: 90 starts over three replicas on one
// PostgreSQL database, against cmd/fiberfake allowing 30 starts per 6s. It reports x-ideal, the
// time from the first call to the last answer over the limit's own pace (the 61st start two
// windows after the 1st: 12s), and fails above the target, 1.05. One op is one burst, about
// 12s, on a cluster of its own:
//
//	go test -run '^$' -bench ClusterBurst -benchtime 1x ./cmd/server/
func BenchmarkClusterBurst(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		dsn := pgtest.NewDatabase(b)
		sim := startFiberfake(b, "-people-per-second", "30")
		replicas := startCluster(b, 3, dsn, sim.url)
		b.StartTimer()
		elapsed, ideal := runBurst(b, sim, replicas)
		x := elapsed.Seconds() / ideal.Seconds()
		b.ReportMetric(x, "x-ideal")
		if x > 1.05 {
			b.Errorf("90 starts took %v, %.3f× the limit's own pace (%v): want at most 1.05×", elapsed, x, ideal)
		}
	}
}

// runBurst sends 90 one-person starts at once, round-robin over the replicas, with the
// request's own API key (a budget no other part of the tests spends), and checks that all are
// accepted, that the simulator refused none and that no window of the limit held more than
// its starts. It returns the time from the first call to the last answer, and the ideal: the
// limit's own pace.
func runBurst(tb testing.TB, sim *fakeProc, replicas []*proc) (elapsed, ideal time.Duration) {
	tb.Helper()
	const starts = 90
	var clients []cdv1.ContactDetailsServiceClient
	for _, p := range replicas {
		clients = append(clients, p.dial(tb))
	}
	before := sim.stats(tb).Endpoints[fiberfake.EndpointStart]
	errs := make([]error, starts)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range starts {
		req := runBatch(2000+i, 1).req
		req.ApiKey = requestKey
		wg.Go(func() { _, errs[i] = clients[i%len(clients)].StartBatch(testContext(tb), req) })
	}
	wg.Wait()
	elapsed = time.Since(t0)
	failed := 0
	for i, err := range errs {
		if err != nil {
			if failed++; failed <= 3 {
				tb.Errorf("start %d on replica-%d: %v", i, i%len(clients), err)
			}
		}
	}
	if failed > 0 {
		tb.Errorf("%d of %d starts failed", failed, starts)
	}
	after := sim.stats(tb).Endpoints[fiberfake.EndpointStart]
	if n := after.Calls - before.Calls; n != starts {
		tb.Errorf("the simulator received %d starts, want %d", n, starts)
	}
	if n := after.RateLimited - before.RateLimited; n != 0 {
		tb.Errorf("the simulator refused %d starts with 429, want none", n)
	}
	times := slices.DeleteFunc(sim.startTimes(tb), func(at time.Time) bool { return at.Before(t0) })
	if most := mostInWindow(times, scaledWindow); most > scaledStarts {
		tb.Errorf("%d starts answered within %v, the limit is %d", most, scaledWindow, scaledStarts)
	}
	for _, k := range []int{0, 29, 30, 59, 60, 89} {
		if k < len(times) {
			tb.Logf("start %d answered upstream at +%v", k+1, times[k].Sub(t0).Round(time.Millisecond))
		}
	}
	ideal = time.Duration((starts+scaledStarts-1)/scaledStarts-1) * scaledWindow
	return elapsed, ideal
}

// checkWatch waits for w's end and checks that it ended OK with the task succeeded, after
// every result of b once, in order.
func checkWatch(t *testing.T, what string, w *watcher, b batch) {
	t.Helper()
	if err := w.wait(t); err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	checkEndsWith(t, what, w.msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
	checkOnce(t, what, results(w.msgs), b)
}

// checkOnce checks that rs are every result of b once, in order.
func checkOnce(t *testing.T, what string, rs []*cdv1.PersonResult, b batch) {
	t.Helper()
	checkSequence(t, what, rs, 0, b.want)
	if len(rs) != len(b.want) {
		t.Errorf("%s: %d results, want %d", what, len(rs), len(b.want))
	}
}
