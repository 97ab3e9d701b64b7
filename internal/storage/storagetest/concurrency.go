package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/storage"
)

// appenders is how many goroutines the concurrency tests race.
const appenders = 8

func testRacingAppendersSameSeq(t *testing.T, s Backend) {
	ctx := testContext(t)
	// Every appender starts from the same fromSeq: whatever the interleaving, exactly one
	// wins and the others are refused. Several rounds, to give a check-then-write window a
	// chance to show.
	for round := range 10 {
		id := fmt.Sprintf("task-%d", round)
		mustCreate(ctx, t, s, running(id, "alice", 0))
		from := 0
		if round%2 == 1 { // and from a task that has results already
			mustAppend(ctx, t, s, id, 0, payloads("old", 2), updateFor(2, 0))
			from = 2
		}
		errs := race(appenders, func(g int) error {
			return s.AppendResults(ctx, id, from, payloads(fmt.Sprint(g), 3), updateFor(from+3, g))
		})

		winner := -1
		for g, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("%s: appenders %d and %d both succeeded from the same fromSeq", id, winner, g)
			case err == nil:
				winner = g
			case !errors.Is(err, storage.ErrConflict):
				t.Errorf("%s: appender %d: %v, want success or %v", id, g, err, storage.ErrConflict)
			}
		}
		if winner < 0 {
			t.Fatalf("%s: no appender succeeded", id)
		}
		got := mustRead(ctx, t, s, id, from, 100)
		if diff := cmp.Diff(asResults(from+1, payloads(fmt.Sprint(winner), 3)), got); diff != "" {
			t.Errorf("%s: results are not exactly the winner's (-want +got):\n%s", id, diff)
		}
		if task := mustGet(ctx, t, s, id); task.NumResults != from+3 || !task.UpdateTime.Equal(at(winner)) {
			t.Errorf("%s: task has %d results, updated at %v; want %d and the winner's %v",
				id, task.NumResults, task.UpdateTime, from+3, at(winner))
		}
	}
}

// race runs fn(0..n-1) on n goroutines, released together, and returns their errors.
func race(n int, fn func(g int) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for g := range n {
		wg.Go(func() {
			<-start
			errs[g] = fn(g)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func testConcurrentAppenders(t *testing.T, s Backend) {
	ctx := testContext(t)
	mustCreate(ctx, t, s, running("task-1", "alice", 0))

	// Each appender stores its block of results once, retrying from the task's count after
	// every conflict, as pollers resuming the same task would.
	const block = 3
	errs := race(appenders, func(g int) error {
		return appendOnce(ctx, s, "task-1", payloads(fmt.Sprint(g), block))
	})
	for g, err := range errs {
		if err != nil {
			t.Fatalf("appender %d: %v", g, err)
		}
	}

	got := mustRead(ctx, t, s, "task-1", 0, 1000)
	if len(got) != appenders*block {
		t.Fatalf("%d results, want %d", len(got), appenders*block)
	}
	seen := map[string]bool{}
	for i := 0; i < len(got); i += block {
		// A block is whole and in order: appends are atomic.
		tag, _, _ := strings.Cut(string(got[i].Data), "/") // see payloads
		if seen[tag] {
			t.Errorf("appender %s's block stored twice", tag)
		}
		seen[tag] = true
		if diff := cmp.Diff(asResults(i+1, payloads(tag, block)), got[i:i+block]); diff != "" {
			t.Errorf("results %d..%d are not one whole block (-want +got):\n%s", i+1, i+block, diff)
		}
	}
	if task := mustGet(ctx, t, s, "task-1"); task.NumResults != appenders*block || task.Stats.NumCompleted != appenders*block {
		t.Errorf("task has NumResults %d, NumCompleted %d; want %d", task.NumResults, task.Stats.NumCompleted, appenders*block)
	}
}

// appendOnce appends data to task id, retrying on conflicts with the task's current count.
// It runs on its own goroutine, so it returns errors rather than failing the test.
func appendOnce(ctx context.Context, s Backend, id string, data [][]byte) error {
	for {
		task, err := s.GetTask(ctx, id)
		if err != nil {
			return err
		}
		n := task.NumResults
		err = s.AppendResults(ctx, id, n, data, updateFor(n+len(data), n))
		if !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
}

func testReadersSeeWholeAppends(t *testing.T, s Backend) {
	ctx := testContext(t)
	mustCreate(ctx, t, s, running("task-1", "alice", 0))

	// The writer appends blocks; the reader, until the writer is done, must only ever see
	// whole blocks, and a task whose update matches its results.
	const block, blocks, readers = 4, 100, 4
	done := make(chan struct{})
	var wg sync.WaitGroup
	readErrs := make([]error, readers)
	for r := range readers {
		wg.Go(func() {
			readErrs[r] = readWholeBlocks(ctx, s, "task-1", block, done)
		})
	}
	for b := range blocks {
		n := b * block
		if err := s.AppendResults(ctx, "task-1", n, payloads(fmt.Sprint(b), block), updateFor(n+block, b)); err != nil {
			t.Errorf("AppendResults(block %d): %v", b, err)
			break
		}
	}
	close(done)
	wg.Wait()
	for r, err := range readErrs {
		if err != nil {
			t.Errorf("reader %d: %v", r, err)
		}
	}
	if got := len(mustRead(ctx, t, s, "task-1", 0, 1000)); got != block*blocks {
		t.Errorf("%d results, want %d", got, block*blocks)
	}
}

// readWholeBlocks reads task id and its results until done is closed, and returns the first
// inconsistency it sees. Results read before the task may not outnumber its NumResults, nor
// results read after it fall short: results and their count are committed together.
func readWholeBlocks(ctx context.Context, s Backend, id string, block int, done <-chan struct{}) error {
	for {
		select {
		case <-done:
			return nil
		default:
		}
		before, err := readAll(ctx, s, id, block)
		if err != nil {
			return err
		}
		task, err := s.GetTask(ctx, id)
		if err != nil {
			return err
		}
		if task.NumResults%block != 0 || task.Stats.NumCompleted != task.NumResults {
			return fmt.Errorf("task seen with NumResults %d, NumCompleted %d: half an append", task.NumResults, task.Stats.NumCompleted)
		}
		after, err := readAll(ctx, s, id, block)
		if err != nil {
			return err
		}
		if before > task.NumResults || after < task.NumResults {
			return fmt.Errorf("%d results, then a task with %d, then %d results: results and count apart", before, task.NumResults, after)
		}
	}
}

// readAll reads the results of task id, checks that they are whole blocks numbered from 1,
// and returns how many there are.
func readAll(ctx context.Context, s Backend, id string, block int) (int, error) {
	rs, err := s.ReadResults(ctx, id, 0, 1000)
	if err != nil {
		return 0, err
	}
	if len(rs)%block != 0 {
		return 0, fmt.Errorf("%d results seen: half an append", len(rs))
	}
	for i, r := range rs {
		if r.Seq != i+1 {
			return 0, fmt.Errorf("result %d has Seq %d", i+1, r.Seq)
		}
	}
	return len(rs), nil
}
