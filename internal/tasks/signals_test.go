package tasks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage"
)

// fakeSignals is Signals in memory, shared by a cluster's replicas: what one publishes
// reaches every subscription at once, unless the test has it lost. Safe for concurrent use.
type fakeSignals struct {
	mu       sync.Mutex                            // guards subs, loseAll and loseNext
	subs     map[chan storage.Signal]chan struct{} // subscription -> closed to cut it
	loseAll  bool                                  // every signal is lost
	loseNext storage.SignalKind                    // the next signal of this kind is lost
	lost     chan storage.Signal                   // receives the signal loseNext lost
}

func newFakeSignals() *fakeSignals {
	return &fakeSignals{subs: map[chan storage.Signal]chan struct{}{}, lost: make(chan storage.Signal, 1)}
}

func (f *fakeSignals) Publish(_ context.Context, sig storage.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loseAll {
		return nil
	}
	if f.loseNext != "" && sig.Kind == f.loseNext {
		f.loseNext = ""
		f.lost <- sig
		return nil
	}
	for sub := range f.subs {
		select {
		case sub <- sig:
		default: // a subscriber too far behind loses it, as a full queue would
		}
	}
	return nil
}

func (f *fakeSignals) Listen(ctx context.Context, handle func(storage.Signal)) error {
	sub, cut := make(chan storage.Signal, 1024), make(chan struct{})
	f.mu.Lock()
	f.subs[sub] = cut
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, sub)
		f.mu.Unlock()
	}()
	handle(storage.Signal{Kind: storage.SignalResync})
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-cut:
			return errors.New("subscription cut")
		case sig := <-sub:
			handle(sig)
		}
	}
}

// cutAll ends every subscription with an error.
func (f *fakeSignals) cutAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for sub, cut := range f.subs {
		close(cut)
		delete(f.subs, sub)
	}
}

// lose has every signal lost (all) or the next one of kind.
func (f *fakeSignals) lose(all bool, kind storage.SignalKind) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loseAll, f.loseNext = all, kind
}

// signalCluster is a cluster of two replicas, r1 and r2, sharing fakeSignals.
func signalCluster(t *testing.T, cfg fiberfake.Config, p Policy) (c *cluster, sigs *fakeSignals, r1, r2 *replica) {
	t.Helper()
	c = newCluster(t, cfg)
	sigs = newFakeSignals()
	c.signals, c.policy = sigs, p
	r1, r2 = c.start("r1", 3*time.Second), c.start("r2", 3*time.Second)
	time.Sleep(time.Millisecond) // past the replicas' first claims, which find nothing
	return c, sigs, r1, r2
}

// watchArrivals watches the task on r from the start to the end, and returns when each
// result arrived, by Seq-1. It fails the watch unless it ends SUCCEEDED with n results, each
// once, in order. It may run on any goroutine.
func watchArrivals(r *replica, id string, n int) ([]time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var at []time.Time
	var last Update
	err := r.engine.Watch(ctx, "alice", id, "", 0, false, func(u Update) error {
		for _, res := range u.Results {
			if int(res.GetSequence()) != len(at)+1 {
				return fmt.Errorf("result %d, want %d", res.GetSequence(), len(at)+1)
			}
			at = append(at, time.Now())
		}
		last = u
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: watch %s: %w", r.name, id, err)
	}
	if last.Task.State != storage.StateSucceeded || len(at) != n {
		return nil, fmt.Errorf("%s: watch %s ended %v after %d results, want SUCCEEDED after %d", r.name, id, last.Task.State, len(at), n)
	}
	return at, nil
}

// latencies returns how long after it was stored each result arrived.
func latencies(t *testing.T, stored, arrived []time.Time) []time.Duration {
	t.Helper()
	if len(stored) != len(arrived) {
		t.Fatalf("%d results stored, %d arrived", len(stored), len(arrived))
	}
	out := make([]time.Duration, len(stored))
	for i := range stored {
		out[i] = arrived[i].Sub(stored[i])
	}
	return out
}

// TestWatchElsewhereIsWokenBySignals: a watcher on the replica that does not poll the task
// gets each result as soon as it is stored, woken by the poller's signal: in the bubble's time
// with no delay at all, where the re-read every RereadInterval would take up to 2s.
func TestWatchElsewhereIsWokenBySignals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, r1, r2 := signalCluster(t, fiberfake.Config{Seed: 41, PeoplePerSecond: 50}, clusterPolicy)
		id := c.track(r1, 300) // 6s of work
		arrived, err := watchArrivals(r2, id, 300)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(r2.polls.times(id)); n != 0 {
			t.Fatalf("r2 polled the task %d times: the test wants it polled by r1 alone", n)
		}
		lat := latencies(t, c.leases.storedAt(id), arrived)
		t.Logf("r2's watcher got %d results of %d writes by r1, %v at most after each was stored", len(lat), writes(c.leases.storedAt(id)), slices.Max(lat))
		for i, d := range lat {
			if d != 0 {
				t.Errorf("result %d arrived %v after it was stored, want at once (the signal)", i+1, d)
			}
		}
	})
}

// TestLostSignalsAreCaughtByTheReread: with every signal lost, a watcher on the replica that
// does not poll the task still gets every result, each within RereadInterval of its write.
func TestLostSignalsAreCaughtByTheReread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, sigs, r1, r2 := signalCluster(t, fiberfake.Config{Seed: 42, PeoplePerSecond: 50}, clusterPolicy)
		sigs.lose(true, "")
		id := c.track(r1, 300)
		arrived, err := watchArrivals(r2, id, 300)
		if err != nil {
			t.Fatal(err)
		}
		lat := latencies(t, c.leases.storedAt(id), arrived)
		worst := slices.Max(lat)
		t.Logf("with every signal lost, results arrived %v at most after they were stored", worst)
		if worst > RereadInterval {
			t.Errorf("a result arrived %v after it was stored, want within RereadInterval (%v)", worst, RereadInterval)
		}
		if worst < 100*time.Millisecond {
			t.Errorf("results arrived within %v: the signals were not lost, this test checks nothing", worst)
		}
	})
}

// TestResyncAfterALostSubscription: a signal lost as the subscriptions are cut is made up for
// when the replica listens again: its watchers read the store then (SignalResync), long before
// the next re-read.
func TestResyncAfterALostSubscription(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, sigs, r1, r2 := signalCluster(t, fiberfake.Config{Seed: 43, PeoplePerSecond: 50}, clusterPolicy)
		id := c.track(r1, 300)
		type watched struct {
			at  []time.Time
			err error
		}
		done := make(chan watched, 1)
		go func() {
			at, err := watchArrivals(r2, id, 300)
			done <- watched{at, err}
		}()
		time.Sleep(2 * time.Second) // a few results delivered by signal
		sigs.lose(false, storage.SignalResults)
		var sig storage.Signal
		select {
		case sig = <-sigs.lost: // r1 stored a change: nobody hears of it
		case <-time.After(time.Minute):
			t.Fatal("r1 stored no change in a minute")
		}
		lostAt, seqs := time.Now(), len(c.leases.storedAt(id))
		sigs.cutAll()
		w := <-done
		if w.err != nil {
			t.Fatal(w.err)
		}
		if sig.Task != id || sig.Replica != "r1" {
			t.Fatalf("lost signal %+v, want r1's about %s", sig, id)
		}
		stored := c.leases.storedAt(id)
		var late time.Duration
		for i := range seqs {
			if stored[i].Equal(lostAt) {
				late = max(late, w.at[i].Sub(stored[i]))
			}
		}
		t.Logf("the results of the write whose signal was lost arrived %v after it", late)
		if bound := 5 * clusterPolicy.RetryMin; late > bound {
			t.Errorf("the results of the write whose signal was lost arrived %v after it, want within %v (listening again)", late, bound)
		}
		if !r2.logs.logged("listening for the other replicas' signals again", "") {
			t.Errorf("r2 did not log that it listens again:\n%s", r2.logs)
		}
	})
}

// TestTaskWatchedElsewhereIsPolledAsWatched: a task watched only on r2 is polled by r1 at the
// watched cadence and in the urgent lane, from the watch's start (r1 shortens its wait) to a
// few beats after its end, and as an unwatched task before and after.
func TestTaskWatchedElsewhereIsPolledAsWatched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := clusterPolicy
		p.MaxInterval = 5 * time.Second
		c, _, r1, r2 := signalCluster(t, fiberfake.Config{Seed: 44, PeoplePerSecond: 20}, p)
		id := c.track(r1, 1200) // 60s of work
		time.Sleep(12 * time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		watching := make(chan error, 1)
		go func() {
			watching <- r2.engine.Watch(ctx, "alice", id, "", 0, true, func(Update) error { return nil })
		}()
		synctest.Wait()
		from := time.Now()
		time.Sleep(10 * time.Second) // longer than watchedFor: the watch is said again
		cancel()
		if err := <-watching; !errors.Is(err, context.Canceled) {
			t.Fatalf("watch on r2: %v", err)
		}
		until := time.Now()
		time.Sleep(15 * time.Second)

		if n := len(r2.polls.times(id)); n != 0 {
			t.Fatalf("r2 polled the task %d times: the test wants it polled by r1 alone", n)
		}
		polls, urgent := r1.polls.times(id), r1.polls.urgency(id)
		var before, during, after []time.Time
		prev := time.Time{}
		for i, at := range polls {
			switch {
			case at.Before(from):
				before = append(before, at)
				if urgent[i] {
					t.Errorf("poll at %v, before the watch, was urgent", at)
				}
			case !at.After(until):
				if len(during) == 0 {
					if wait := at.Sub(from); wait > p.WatchedMaxInterval {
						t.Errorf("first poll %v after the watch started, want within WatchedMaxInterval (%v)", wait, p.WatchedMaxInterval)
					}
				} else if gap := at.Sub(prev); gap > p.WatchedMaxInterval {
					t.Errorf("polls %v apart while watched on r2, want at most WatchedMaxInterval (%v)", gap, p.WatchedMaxInterval)
				}
				during = append(during, at)
				if !urgent[i] {
					t.Errorf("poll at %v, while watched on r2, was not urgent", at)
				}
			case at.After(until.Add(watchedFor + p.WatchedMaxInterval)):
				after = append(after, at)
				if urgent[i] {
					t.Errorf("poll at %v, long after the watch ended, was urgent", at)
				}
			}
			prev = at
		}
		t.Logf("r1's polls: %d in the 12s before the watch on r2, %d in its 10s, %d in the 15s after (from %v on)", len(before), len(during), len(after), watchedFor+p.WatchedMaxInterval)
		if maxGap(before) < time.Second || maxGap(after) < time.Second {
			t.Errorf("polls at most %v apart before the watch, %v after: the unwatched cadence is not slower", maxGap(before), maxGap(after))
		}
	})
}

// TestCancelElsewherePollsAtOnce: a cancel made on r2 has r1, which polls the task, poll it at
// once rather than at the end of its wait, and the task ends CANCELED.
func TestCancelElsewherePollsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := clusterPolicy
		p.MaxInterval = 5 * time.Second
		c, _, r1, r2 := signalCluster(t, fiberfake.Config{Seed: 45, PeoplePerSecond: 20}, p)
		id := c.track(r1, 1200)
		time.Sleep(12*time.Second + 500*time.Millisecond)
		cancelled := time.Now()
		if _, err := r2.engine.Cancel(testContext(t), "alice", id, ""); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		polls := r1.polls.times(id)
		i := slices.IndexFunc(polls, func(at time.Time) bool { return !at.Before(cancelled) })
		if i < 1 {
			t.Fatalf("r1 did not poll the task before and after the cancel: %v", polls)
		}
		t.Logf("r1 polled %v after the cancel on r2; its previous poll was %v before", polls[i].Sub(cancelled), cancelled.Sub(polls[i-1]))
		if polls[i] != cancelled {
			t.Errorf("r1 polled %v after the cancel on r2, want at once", polls[i].Sub(cancelled))
		}
		ups := watchAll(t, r2.engine, id, 0)
		if last := ups[len(ups)-1].Task; last.State != storage.StateCanceled || last.Cancellation == nil {
			t.Errorf("the task ended %v (cancellation %v), want CANCELED with Fiber's answer", last.State, last.Cancellation)
		}
		if n := len(r2.polls.times(id)); n != 0 {
			t.Errorf("r2 polled the task %d times, want none", n)
		}
	})
}

// maxGap is the longest time between two consecutive times of ts.
func maxGap(ts []time.Time) time.Duration {
	var d time.Duration
	for i := 1; i < len(ts); i++ {
		d = max(d, ts[i].Sub(ts[i-1]))
	}
	return d
}

// writes counts the distinct times in stored: the writes that stored results.
func writes(stored []time.Time) int {
	n := 0
	for i, at := range stored {
		if i == 0 || !at.Equal(stored[i-1]) {
			n++
		}
	}
	return n
}
