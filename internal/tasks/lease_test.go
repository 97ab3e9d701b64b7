package tasks

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage"
)

// TestLostLeaseStopsThePollerBeforeItsNextPoll: a replica cut off from the lease table
// cannot renew its lease; its poller stops before the lease runs out in the store, so it
// never polls once another replica may; another replica then takes the task over.
func TestLostLeaseStopsThePollerBeforeItsNextPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, fiberfake.Config{Seed: 31, PeoplePerSecond: 20})
		const ttl = 3 * time.Second
		r1 := c.start("r1", ttl)
		id := c.track(r1, 400) // 20s of work
		time.Sleep(5 * time.Second)
		if len(r1.polls.times(id)) == 0 {
			t.Fatal("r1 did not poll its task")
		}
		r1.leases.cutOff()
		time.Sleep(2 * ttl)
		l := c.leases.lease(id)
		if l.owner != "r1" || l.expiry.After(time.Now()) {
			t.Fatalf("the task's lease is %+v, want r1's, expired", l)
		}
		for _, at := range r1.polls.times(id) {
			if !at.Before(l.expiry) {
				t.Errorf("r1 polled at %v, once its lease had expired at %v", at, l.expiry)
			}
		}
		if r1.engine.polling(id) {
			t.Error("r1 still runs the task's poller")
		}
		if !r1.logs.logged("the task's lease was lost", id) {
			t.Errorf("r1 did not log the lost lease:\n%s", r1.logs)
		}

		r2 := c.start("r2", ttl)
		checkFollowedToTheEnd(t, r2.engine, id, 400)
	})
}

// TestRefusedFencedWriteStopsThePoller: a write the store refuses because the replica does not
// hold the task's lease stops the poller, with nothing written.
func TestRefusedFencedWriteStopsThePoller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, fiberfake.Config{Seed: 32, PeoplePerSecond: 200})
		r1 := c.start("r1", time.Minute)
		c.leases.refuseFencedWrites()
		id := c.track(r1, 100)
		if got := <-c.leases.refused; got != id {
			t.Fatalf("refused a write to %s, want %s", got, id)
		}
		synctest.Wait()
		if r1.engine.polling(id) {
			t.Error("r1 still runs the task's poller after a write was refused")
		}
		if task, err := c.store.GetTask(testContext(t), id); err != nil || task.NumResults != 0 {
			t.Errorf("the task after the refused write: %+v, %v; want no results", task, err)
		}
		if !r1.logs.logged("the task's lease was lost", id) {
			t.Errorf("r1 did not log the lost lease:\n%s", r1.logs)
		}
	})
}

// TestClaimLoopFollowsFreeTasks: tasks nobody holds are claimed a batch at a time and followed
// to the end, and their leases are released once they finish.
func TestClaimLoopFollowsFreeTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, fiberfake.Config{Seed: 33, PeoplePerSecond: 2000, Limits: fiberfake.Limits{Start: fiberfake.Rate{N: 1000, Per: time.Minute}}})
		var ids []string
		for range claimBatch + 3 {
			ids = append(ids, c.storeUnleased(5))
		}
		r1 := c.start("r1", 3*time.Second)
		for _, id := range ids {
			checkFollowedToTheEnd(t, r1.engine, id, 5)
		}
		if got := c.leases.mostClaimed(); got != claimBatch {
			t.Errorf("one claim took %d tasks, want at most (and here exactly) %d", got, claimBatch)
		}
		synctest.Wait()
		for _, id := range ids {
			if l := c.leases.lease(id); l.owner != "" {
				t.Errorf("finished task %s is still leased: %+v", id, l)
			}
		}
	})
}

// TestReplicasPollEachTaskOnce: two replicas on one store; each task is polled by one of them
// only: the one that tracked it, or the one that claimed it free. Every task is watched on
// both replicas at once, to the end: a replica serves the watchers of a task the other polls.
func TestReplicasPollEachTaskOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, fiberfake.Config{Seed: 34, PeoplePerSecond: 100})
		const ttl = 3 * time.Second
		r1, r2 := c.start("r1", ttl), c.start("r2", ttl)
		time.Sleep(time.Millisecond) // past the replicas' first claims, which find nothing
		tracked := map[string]*replica{}
		for _, r := range []*replica{r1, r2, r1, r2} {
			tracked[c.track(r, 200)] = r
		}
		ids := []string{c.storeUnleased(200), c.storeUnleased(200)}
		for id := range tracked {
			ids = append(ids, id)
		}

		var wg sync.WaitGroup
		errs := make(chan error, 2*len(ids))
		for _, id := range ids {
			for _, r := range []*replica{r1, r2} {
				wg.Go(func() { errs <- watchToTheEnd(r, id, 200) })
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		for _, id := range ids {
			p1, p2 := len(r1.polls.times(id)), len(r2.polls.times(id))
			t.Logf("task %s: %d polls by r1, %d by r2", id, p1, p2)
			if (p1 > 0) == (p2 > 0) {
				t.Errorf("task %s was polled %d times by r1 and %d times by r2: want one replica", id, p1, p2)
			}
			if r := tracked[id]; r != nil && len(r.polls.times(id)) == 0 {
				t.Errorf("task %s was not polled by %s, which tracked it", id, r.name)
			}
		}
	})
}

// TestStoppedReplicaReleasesItsTasks: a replica that stops releases its leases, and another
// takes its tasks over within one claim interval.
func TestStoppedReplicaReleasesItsTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, fiberfake.Config{Seed: 35, PeoplePerSecond: 40})
		r1, r2 := c.start("r1", DefaultLeaseTTL), c.start("r2", DefaultLeaseTTL)
		time.Sleep(time.Millisecond)
		ids := []string{c.track(r1, 200), c.track(r1, 200)} // 10s of work
		time.Sleep(3 * time.Second)
		r1.stop()
		stopped := time.Now()
		if !r1.logs.logged("released task leases", "") {
			t.Errorf("r1 did not log the release of its leases:\n%s", r1.logs)
		}
		for _, id := range ids {
			checkFollowedToTheEnd(t, r2.engine, id, 200)
			before, after := r1.polls.times(id), r2.polls.times(id)
			if len(before) == 0 || len(after) == 0 {
				t.Fatalf("task %s: %d polls by r1, %d by r2; want both", id, len(before), len(after))
			}
			if last := before[len(before)-1]; last.After(stopped) {
				t.Errorf("task %s: r1 polled at %v, after it stopped at %v", id, last, stopped)
			}
			took := after[0].Sub(stopped)
			t.Logf("task %s: r2 polled it %v after r1 stopped", id, took)
			if took > maxClaimInterval {
				t.Errorf("task %s: taken over %v after r1 stopped, want within one claim interval (%v)", id, took, maxClaimInterval)
			}
		}
	})
}

// TestDeadReplicasTasksAreTakenOver: a replica that dies holding a task's lease (it renews and
// releases nothing more) has the task taken over once the lease expires, within the lease TTL
// and one claim interval of its death.
func TestDeadReplicasTasksAreTakenOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, fiberfake.Config{Seed: 36, PeoplePerSecond: 40})
		const ttl = 3 * time.Second
		r1, r2 := c.start("r1", ttl), c.start("r2", ttl)
		time.Sleep(time.Millisecond)
		id := c.track(r1, 300) // 7.5s of work
		time.Sleep(2 * time.Second)
		r1.leases.cutOff()
		r1.stop()
		died := time.Now()
		expiry := c.leases.lease(id).expiry

		checkFollowedToTheEnd(t, r2.engine, id, 300)
		polls := r2.polls.times(id)
		if len(polls) == 0 {
			t.Fatal("r2 never polled the task")
		}
		if polls[0].Before(expiry) {
			t.Errorf("r2 polled at %v, before r1's lease expired at %v", polls[0], expiry)
		}
		took, bound := polls[0].Sub(died), ttl+min(ttl/3, maxClaimInterval)
		t.Logf("taken over %v after r1 died (lease TTL %v)", took, ttl)
		if took > bound {
			t.Errorf("taken over %v after r1 died, want within %v", took, bound)
		}
	})
}

// watchToTheEnd watches the task on r from the start and checks that it ends SUCCEEDED with n
// results, each once, in order. It may run on any goroutine.
func watchToTheEnd(r *replica, id string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	next, last := 1, Update{}
	err := r.engine.Watch(ctx, "alice", id, "", 0, false, func(u Update) error {
		for _, res := range u.Results {
			if int(res.GetSequence()) != next {
				return fmt.Errorf("result %d, want %d", res.GetSequence(), next)
			}
			next++
		}
		last = u
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: watch %s: %w", r.name, id, err)
	}
	if last.Task.State != storage.StateSucceeded || next-1 != n {
		return fmt.Errorf("%s: watch %s ended %v after %d results, want SUCCEEDED after %d", r.name, id, last.Task.State, next-1, n)
	}
	return nil
}
