package main

import (
	"fmt"
	"path/filepath"
	"testing"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// TestFakeFiberRestartsHandOutNewTaskIDs runs the real binary with -fake-fiber three times on
// one SQLite store, as `go run ./cmd/server -fake-fiber` run again and again does. Every run's
// StartBatch must get a task id the store does not hold yet, its watch must stream that run's
// people and no one else, and the earlier runs' tasks must keep their own results.
func TestFakeFiberRestartsHandOutNewTaskIDs(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"default", nil},
		{"seeded", []string{"-seed", "7"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := "sqlite:" + filepath.Join(t.TempDir(), "fibergate.db")
			var ids []string
			var batches []batch
			for run := 1; run <= 3; run++ {
				p := startServer(t, nil, append([]string{"-fake-fiber", "-store", store}, tt.args...)...)
				client := p.dial(t)
				b := runBatch(run, 4)
				id := b.start(t, client)
				for i, prev := range ids {
					if id == prev {
						t.Errorf("run %d got task id %s, which run %d already had", run, id, i+1)
					}
				}
				what := fmt.Sprintf("run %d's watch", run)
				msgs, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: id})
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				checkEndsWith(t, what, msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
				got := results(msgs)
				checkSequence(t, what, got, 0, b.want)
				if len(got) != len(b.want) {
					t.Errorf("%s streamed %d results, want %d", what, len(got), len(b.want))
				}
				for i, prev := range ids {
					all, _ := listAllResults(t, client, prev, 100)
					checkSequence(t, fmt.Sprintf("run %d's results read in run %d", i+1, run), all, 0, batches[i].want)
					if len(all) != len(batches[i].want) {
						t.Errorf("run %d's task holds %d results in run %d, want %d", i+1, len(all), run, len(batches[i].want))
					}
				}
				ids, batches = append(ids, id), append(batches, b)
				if err := p.stop(); err != nil {
					t.Fatalf("run %d did not stop cleanly: %v\n%s", run, err, p.logs.String())
				}
			}
		})
	}
}

// runBatch returns a batch of n people that belong to run alone.
func runBatch(run, n int) batch {
	b := batch{req: &cdv1.StartBatchRequest{}}
	for i := range n {
		u := fmt.Sprintf("https://www.linkedin.com/in/run-%d-person-%d", run, i)
		b.req.PersonDetails = append(b.req.PersonDetails, &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: u}})
		b.want = append(b.want, u)
	}
	return b
}
