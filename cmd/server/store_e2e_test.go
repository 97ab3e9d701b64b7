package main

import (
	"errors"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
)

// TestPostgresStoreKeepsTasksAcrossRestarts runs the real binary on a PostgreSQL store of its
// own: a task watched to the end is all there, results and all, for the next server on the
// same database. The DSN carries a password (which trust authentication ignores): it never
// shows in the logs.
func TestPostgresStoreKeepsTasksAcrossRestarts(t *testing.T) {
	const password = "e2e-pg-s3cret"
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	dsn := u.String()

	first := startServer(t, nil, "-fake-fiber", "-store", dsn)
	client := first.dial(t)
	b := runBatch(1, 5)
	id := b.start(t, client)
	msgs, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: id})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	checkEndsWith(t, "the watch", msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
	watched := results(msgs)
	checkSequence(t, "the watch", watched, 0, b.want)
	if len(watched) != len(b.want) {
		t.Fatalf("the watch streamed %d results, want %d", len(watched), len(b.want))
	}
	before, err := client.GetTask(testContext(t), &cdv1.GetTaskRequest{TaskId: id})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.stop(); err != nil {
		t.Fatalf("the first server did not stop cleanly: %v\n%s", err, first.logs.String())
	}

	second := startServer(t, nil, "-fake-fiber", "-store", dsn)
	client = second.dial(t)
	after, err := client.GetTask(testContext(t), &cdv1.GetTaskRequest{TaskId: id})
	if err != nil {
		t.Fatalf("GetTask after the restart: %v", err)
	}
	if diff := cmp.Diff(before, after, protocmp.Transform()); diff != "" {
		t.Errorf("the task after the restart (-before +after):\n%s", diff)
	}
	if got := after.GetTask(); got.GetState() != cdv1.TaskState_TASK_STATE_SUCCEEDED || int(got.GetNumResults()) != len(b.want) {
		t.Errorf("after the restart the task is %v with %d results, want SUCCEEDED with %d", got.GetState(), got.GetNumResults(), len(b.want))
	}
	stored, _ := listAllResults(t, client, id, 2)
	if diff := cmp.Diff(watched, stored, protocmp.Transform()); diff != "" {
		t.Errorf("stored results after the restart differ from the watched ones (-watched +stored):\n%s", diff)
	}

	for _, p := range []*proc{first, second} {
		logs := p.logs.String()
		if strings.Contains(logs, password) {
			t.Errorf("the store's password shows in the logs:\n%s", logs)
		}
		mustContain(t, logs, `"store open"`, "xxxxx@127.0.0.1", `"shared_in_store":true`)
	}
}

// TestSecondServerOnOneSQLiteFileIsRefused: a second server started on the SQLite file a
// running server holds exits at once, saying to use PostgreSQL for several replicas; the
// first keeps serving.
func TestSecondServerOnOneSQLiteFileIsRefused(t *testing.T) {
	store := "sqlite:" + filepath.Join(t.TempDir(), "fibergate.db")
	first := startServer(t, nil, "-fake-fiber", "-store", store)

	stderr, err := runServerToExit(t, nil, "-fake-fiber", "-store", store)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("the second server: %v, want a non-zero exit\n%s", err, stderr)
	}
	mustContain(t, stderr, "another fibergate process", "PostgreSQL")

	client := first.dial(t)
	b := runBatch(1, 2)
	id := b.start(t, client)
	msgs, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: id})
	if err != nil {
		t.Fatalf("the first server's watch: %v", err)
	}
	checkEndsWith(t, "the first server's watch", msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
	if err := first.stop(); err != nil {
		t.Fatalf("the first server did not stop cleanly: %v", err)
	}

	// Once the first has stopped, the file is free.
	again := startServer(t, nil, "-fake-fiber", "-store", store)
	if _, err := again.dial(t).GetTask(testContext(t), &cdv1.GetTaskRequest{TaskId: id}); err != nil {
		t.Errorf("GetTask on the next server: %v", err)
	}
}
