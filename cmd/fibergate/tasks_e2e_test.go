package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/launch"
)

// tasksCheckSequences checks that results hold sequences 1 to n, each once, in order.
func tasksCheckSequences(t *testing.T, what string, got []int32, n int) {
	t.Helper()
	want := make([]int32, n)
	for i := range want {
		want[i] = int32(i + 1)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: result sequences (-want +got):\n%s", what, diff)
	}
}

func tasksWatchSequences(msgs []*cdv1.WatchTaskResponse) []int32 {
	var seqs []int32
	for _, m := range msgs {
		for _, r := range m.GetResults() {
			seqs = append(seqs, r.GetSequence())
		}
	}
	return seqs
}

// A batch followed through the client binary: watch, get, results, list, delete.
func TestTasksCommandsE2E(t *testing.T) {
	st := startStack(t, []string{"-people-per-second", "20"}, nil)
	vars := tasksAddrEnv(st)
	const n = 6
	id := tasksStart(t, st.server.GRPCAddr, "", "cli-e2e", n)

	// watch: NDJSON to the terminal state, every result once.
	w := tasksCLI(t, vars, "watch", id)
	w.want(t, exitOK)
	msgs := tasksLines[*cdv1.WatchTaskResponse](t, w.stdout)
	if len(msgs) == 0 || msgs[len(msgs)-1].GetState() != cdv1.TaskState_TASK_STATE_SUCCEEDED {
		t.Fatalf("watch output does not end SUCCEEDED:\n%s", w.stdout)
	}
	tasksCheckSequences(t, "watch", tasksWatchSequences(msgs), n)
	for _, m := range msgs {
		if m.GetTaskId() != id || m.GetResumeToken() == "" {
			t.Errorf("watch line without the task id or a resume token: %v", m)
		}
	}

	// watch -progress-only: the same end, no results; from the last token: the last step only.
	p := tasksCLI(t, vars, "watch", "-progress-only", id)
	p.want(t, exitOK)
	for _, m := range tasksLines[*cdv1.WatchTaskResponse](t, p.stdout) {
		if len(m.GetResults()) != 0 {
			t.Errorf("watch -progress-only printed results: %v", m)
		}
	}
	r := tasksCLI(t, vars, "watch", id, "-resume-token", msgs[len(msgs)-1].GetResumeToken())
	r.want(t, exitOK)
	if again := tasksLines[*cdv1.WatchTaskResponse](t, r.stdout); len(again) != 1 || len(again[0].GetResults()) != 0 ||
		again[0].GetState() != cdv1.TaskState_TASK_STATE_SUCCEEDED {
		t.Errorf("watch -resume-token LAST = %s, want one SUCCEEDED line without results", r.stdout)
	}

	// get: the Task as JSON, and as a table.
	g := tasksCLI(t, vars, "get", "-json", id)
	g.want(t, exitOK)
	tasks := tasksLines[*cdv1.Task](t, g.stdout)
	if len(tasks) != 1 || tasks[0].GetTaskId() != id || tasks[0].GetState() != cdv1.TaskState_TASK_STATE_SUCCEEDED ||
		tasks[0].GetNumResults() != n || tasks[0].GetChargeInfo().GetFiberMethod() == "" {
		t.Errorf("get -json = %s", g.stdout)
	}
	// The same JSON as the REST API's task, field for field.
	var cliTask, restTask struct{ Task map[string]any }
	if err := json.Unmarshal([]byte(g.stdout), &cliTask.Task); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + st.server.HTTPAddr + "/v1/contact-details/batch/" + id)
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&restTask)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(restTask.Task, cliTask.Task); diff != "" {
		t.Errorf("get -json differs from the REST API's task (-rest +cli):\n%s", diff)
	}

	g = tasksCLI(t, vars, "get", id)
	g.want(t, exitOK)
	for _, line := range []string{"Task:        " + id, "State:       SUCCEEDED", fmt.Sprintf("Results:     %d", n)} {
		if !strings.Contains(g.stdout, line+"\n") {
			t.Errorf("get lacks %q:\n%s", line, g.stdout)
		}
	}

	// results: every result as NDJSON, then as a table, a row each after the header.
	res := tasksCLI(t, vars, "results", id, "-json")
	res.want(t, exitOK)
	var seqs []int32
	var urls []string
	for _, pr := range tasksLines[*cdv1.PersonResult](t, res.stdout) {
		seqs = append(seqs, pr.GetSequence())
		urls = append(urls, pr.GetLinkedinUrl())
	}
	tasksCheckSequences(t, "results -json", seqs, n)
	slices.Sort(urls)
	for i, u := range urls {
		if want := fmt.Sprintf("https://www.linkedin.com/in/cli-e2e-%d", i); u != want {
			t.Errorf("results -json: url %d = %q, want %q", i, u, want)
		}
	}
	res = tasksCLI(t, vars, "results", id)
	res.want(t, exitOK)
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != n+1 || !strings.HasPrefix(lines[0], "#  LINKEDIN URL") || !strings.Contains(res.stdout, "https://www.linkedin.com/in/cli-e2e-0 ") {
		t.Errorf("results table:\n%s", res.stdout)
	}

	// list: a second task, newest first; -limit, -state.
	id2 := tasksStart(t, st.server.GRPCAddr, "", "cli-e2e-second", 2)
	l := tasksCLI(t, vars, "list", "-json")
	l.want(t, exitOK)
	var ids []string
	for _, task := range tasksLines[*cdv1.Task](t, l.stdout) {
		ids = append(ids, task.GetTaskId())
	}
	if diff := cmp.Diff([]string{id2, id}, ids); diff != "" {
		t.Errorf("list -json task ids (-want +got):\n%s", diff)
	}
	l = tasksCLI(t, vars, "list", "-limit", "1")
	l.want(t, exitOK)
	if rows := strings.Split(strings.TrimSuffix(l.stdout, "\n"), "\n"); len(rows) != 2 || !strings.HasPrefix(rows[0], "TASK ID") || !strings.HasPrefix(rows[1], id2+" ") {
		t.Errorf("list -limit 1:\n%s", l.stdout)
	}
	l = tasksCLI(t, vars, "list", "-json", "-state", "succeeded")
	l.want(t, exitOK)
	for _, task := range tasksLines[*cdv1.Task](t, l.stdout) {
		if task.GetState() != cdv1.TaskState_TASK_STATE_SUCCEEDED {
			t.Errorf("list -state succeeded printed a %v task", task.GetState())
		}
	}
	if !strings.Contains(l.stdout, id) {
		t.Errorf("list -state succeeded lacks %s:\n%s", id, l.stdout)
	}

	// delete: gone afterwards.
	tasksCLI(t, vars, "delete", id).want(t, exitOK)
	tasksCLI(t, vars, "get", id).want(t, exitError, "NotFound TASK_NOT_FOUND")
}

// A long task: its partial results, Ctrl-C during a watch, then a cancel and its refund.
func TestTasksCancelE2E(t *testing.T) {
	st := startStack(t, []string{"-people-per-second", "5"}, nil)
	vars := tasksAddrEnv(st)
	id := tasksStart(t, st.server.GRPCAddr, "", "cli-e2e-long", 500) // 100s of work

	// results of a running task: what is stored so far, and exit 3 saying it runs.
	tasksCLI(t, vars, "results", id, "-json").want(t, exitPartial, "task "+id+" is still RUNNING")

	// Ctrl-C during a watch: exit 130, one line.
	ctx, cancel := context.WithTimeout(context.Background(), tasksCLITimeout)
	defer cancel()
	cmd := tasksCommand(ctx, vars, "watch", id)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatalf("watch printed no line: %v\nstderr: %s", sc.Err(), errOut.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // a line may have been on its way
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || errOut.String() != "fibergate: interrupted\n" {
		t.Errorf("watch after SIGINT exited %d, stderr %q; want %d and one line \"interrupted\"", code, errOut.String(), exitInterrupted)
	}

	c := tasksCLI(t, vars, "cancel", "-json", id)
	c.want(t, exitOK)
	cancelled := tasksLines[*cdv1.CancelTaskResponse](t, c.stdout)
	if len(cancelled) != 1 || cancelled[0].GetCancelledCount() == 0 || cancelled[0].GetCreditsRefunded() == 0 {
		t.Fatalf("cancel -json = %s, want people cancelled and credits refunded", c.stdout)
	}

	// The watch ends CANCELED with the refund, exit 3; get shows the refund.
	w := tasksCLI(t, vars, "watch", "-progress-only", id)
	w.want(t, exitPartial, "task "+id+" ended CANCELED")
	msgs := tasksLines[*cdv1.WatchTaskResponse](t, w.stdout)
	last := msgs[len(msgs)-1]
	if last.GetState() != cdv1.TaskState_TASK_STATE_CANCELED || last.GetCancellation().GetCancelledCount() != cancelled[0].GetCancelledCount() {
		t.Errorf("watch after cancel ends %v, want CANCELED with %d cancelled", last, cancelled[0].GetCancelledCount())
	}
	g := tasksCLI(t, vars, "get", id)
	g.want(t, exitOK)
	if want := fmt.Sprintf("Cancelled:   %d people cancelled, ", cancelled[0].GetCancelledCount()); !strings.Contains(g.stdout, want) {
		t.Errorf("get after cancel lacks %q:\n%s", want, g.stdout)
	}
	// A second cancel of the finished task is refused, on one line.
	tasksCLI(t, vars, "cancel", id).want(t, exitError, "FailedPrecondition TASK_FINISHED")
}

func TestTasksErrorsE2E(t *testing.T) {
	st := startStack(t, nil, nil)
	vars := tasksAddrEnv(st)
	for _, cmd := range []string{"get", "watch", "results", "cancel"} {
		tasksCLI(t, vars, cmd, "no-such-task").want(t, exitError, "NotFound TASK_NOT_FOUND", "no-such-task")
	}
	tasksCLI(t, vars, "get", "no such task").want(t, exitUsage, `task id "no such task"`)
	tasksCLI(t, vars, "watch", "no-such-task", "-resume-token", "garbage").want(t, exitError, "InvalidArgument INVALID_TOKEN", "resumeToken")

	down := []string{"FIBERGATE_ADDR=" + tasksClosedAddr(t)}
	for _, cmd := range [][]string{{"get", "t"}, {"watch", "t"}, {"list"}} {
		tasksCLI(t, down, cmd...).want(t, exitError, "cannot reach the server")
	}
}

// A watch outlives a restart of the server: it resumes with no gap and no duplicate.
func TestTasksWatchResumesE2E(t *testing.T) {
	store := "sqlite:" + filepath.Join(t.TempDir(), "restart.db")
	st := startStack(t, []string{"-people-per-second", "2"}, []string{"-store", store})
	const n = 16 // 8s of work
	id := tasksStart(t, st.server.GRPCAddr, "", "cli-e2e-restart", n)

	ctx, cancel := context.WithTimeout(context.Background(), tasksCLITimeout)
	defer cancel()
	cmd := tasksCommand(ctx, tasksAddrEnv(st), "watch", id)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	var out strings.Builder
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		m := tasksLines[*cdv1.WatchTaskResponse](t, sc.Text()+"\n")[0]
		if len(m.GetResults()) > 0 && m.GetState() == cdv1.TaskState_TASK_STATE_RUNNING {
			break // some results seen, more to come
		}
		if m.GetState() != cdv1.TaskState_TASK_STATE_RUNNING {
			t.Fatalf("the task ended before the restart: %s", sc.Text())
		}
	}

	if err := st.server.Stop(); err != nil {
		t.Fatalf("server stop: %v\n%s", err, st.server.Logs())
	}
	srv, err := launch.StartServer(serverBin, []string{"FIBER_API_KEY=" + fiberfake.DemoAPIKey},
		"-fiber-url", "http://"+st.fake.Addr, "-store", store, "-insecure-no-auth", "-grpc-addr", st.server.GRPCAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("restarted server stop: %v\n%s", err, srv.Logs())
		}
	})

	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitOK {
		t.Fatalf("watch across a restart exited %d\nstderr: %s", code, errOut.String())
	}
	msgs := tasksLines[*cdv1.WatchTaskResponse](t, out.String())
	if last := msgs[len(msgs)-1]; last.GetState() != cdv1.TaskState_TASK_STATE_SUCCEEDED {
		t.Errorf("watch across a restart ends %v", last.GetState())
	}
	tasksCheckSequences(t, "watch across a restart", tasksWatchSequences(msgs), n)
	if !strings.Contains(errOut.String(), "resuming in") || !strings.Contains(errOut.String(), "Unavailable") {
		t.Errorf("watch did not say it resumes: %q", errOut.String())
	}
}
