package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

// The end-to-end tests of `fibergate enrich` run the real server in front of the standalone
// simulator with Fiber's limits scaled ten times (30 starts and 240 polls per 6 seconds), and
// the client binary as a person runs it.

// scaledLimits are the rate flags shared by the simulator and the server.
var scaledLimits = []string{"-start-rate", "30/6s", "-poll-rate", "240/6s"}

// startEnrichStack starts a stack whose simulator completes pps people a second per task.
func startEnrichStack(t *testing.T, pps int) *stack {
	t.Helper()
	return startStack(t, append([]string{"-people-per-second", strconv.Itoa(pps)}, scaledLimits...), scaledLimits)
}

// simCounters reads the simulator's counters.
func simCounters(t testing.TB, s *stack) fiberfake.Stats {
	t.Helper()
	resp, err := http.Get("http://" + s.fake.Addr + "/_sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st fiberfake.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// enrichCmd is the client binary running `enrich args...` in dir against s.
func enrichCmd(ctx context.Context, s *stack, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, cliBin, append([]string{"enrich"}, args...)...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "FIBERGATE_ADDR=" + s.server.GRPCAddr}
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	return cmd
}

// cliRun runs `fibergate enrich args...` to its end and returns its exit code and output.
func cliRun(t testing.TB, s *stack, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := enrichCmd(ctx, s, dir, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run fibergate enrich: %v", err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// spreadsheet writes a CSV export of people unique people, with extra columns, then the
// given extra LinkedIn values (duplicates, invalid rows) at the given rows, and returns its
// path.
func spreadsheet(t testing.TB, dir string, people int, extra map[int]string) string {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"id", "Full Name", "LinkedIn Profile", "Company", "Notes"})
	row, p := 0, 0
	for p < people || extra[row] != "" {
		if v, ok := extra[row]; ok {
			w.Write([]string{"x" + strconv.Itoa(row), "Extra " + strconv.Itoa(row), v, "Initech", "extra row"})
		} else {
			w.Write([]string{strconv.Itoa(row), "Person " + strconv.Itoa(p), fmt.Sprintf("https://www.linkedin.com/in/person-%d", p), "Acme, Inc.", `said "hi"`})
			p++
		}
		row++
	}
	w.Flush()
	path := filepath.Join(dir, "contacts.csv")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// the4500 are the extra rows of the 4,500-row spreadsheet: 3 invalid, 5 duplicates.
var the4500 = map[int]string{
	100:  "not a url",
	900:  "https://www.linkedin.com/company/acme",
	2500: "",
	1000: "https://www.linkedin.com/in/person-5",
	1800: "linkedin.com/in/PERSON-5/",
	3000: "https://www.linkedin.com/in/person-77?trk=x",
	3500: "https://uk.linkedin.com/in/person-2000",
	4400: "https://www.linkedin.com/in/person-4000",
}

// outputRows reads a CSV output and checks it has one row per valid input row (with its
// own columns kept), each once. It returns the rows by input line.
func outputRows(t *testing.T, input, output string, invalid int) map[int][]string {
	t.Helper()
	in := readCSVFile(t, input)
	out := readCSVFile(t, output)
	wantHeader := append(append([]string{}, in[0]...), "input_line", "status", "duplicate_of", "emails", "phone_numbers")
	if strings.Join(out[0], "|") != strings.Join(wantHeader, "|") {
		t.Fatalf("output header %q, want %q", out[0], wantHeader)
	}
	rows := map[int][]string{}
	for _, r := range out[1:] {
		line, err := strconv.Atoi(r[5])
		if err != nil {
			t.Fatalf("row %q: input_line %q", r, r[5])
		}
		if _, dup := rows[line]; dup {
			t.Fatalf("input line %d is twice in the output", line)
		}
		rows[line] = r
		if src := in[line-1]; strings.Join(src, "|") != strings.Join(r[:5], "|") {
			t.Fatalf("line %d: output %q does not keep the input's columns %q", line, r[:5], src)
		}
	}
	if want := len(in) - 1 - invalid; len(rows) != want {
		t.Fatalf("%d output rows, want %d (one per valid input row)", len(rows), want)
	}
	return rows
}

func readCSVFile(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

var dryRunCost = regexp.MustCompile(`(?m)^cost: +(\d+) credits`)

func TestEnrichSpreadsheetEndToEnd(t *testing.T) {
	s := startEnrichStack(t, 2000)
	dir := t.TempDir()
	input := spreadsheet(t, dir, 4492, the4500)
	if n := len(readCSVFile(t, input)) - 1; n != 4500 {
		t.Fatalf("the spreadsheet has %d rows", n)
	}

	code, stdout, stderr := cliRun(t, s, dir, "-dry-run", "contacts.csv", "-o", "contacts.out.csv")
	m := dryRunCost.FindStringSubmatch(stdout)
	if code != exitPartial || m == nil || !strings.Contains(stdout, "batches:  3 (1498, 1497, 1497 people)") {
		t.Fatalf("dry run: exit %d\n%s%s", code, stdout, stderr)
	}
	cost, _ := strconv.ParseFloat(m[1], 64)
	if st := simCounters(t, s); st.Endpoints[fiberfake.EndpointStart].Calls != 0 {
		t.Fatalf("the dry run called Fiber: %+v", st)
	}

	code, _, stderr = cliRun(t, s, dir, "-progress-every", "100ms", "contacts.csv", "-o", "contacts.out.csv")
	if code != exitPartial {
		t.Fatalf("enrich: exit %d, want %d (rows left out)\n%s", code, exitPartial, stderr)
	}
	for _, want := range []string{
		`contacts.csv line 102: not a LinkedIn profile URL`,
		`contacts.csv line 902: a LinkedIn page that is not a person's profile`,
		`contacts.csv line 2502: no LinkedIn URL`,
		"progress: 4492/4492 people (100%), 3/3 batches started",
		"4497 of 4497 rows in contacts.out.csv",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if n := strings.Count(stderr, "progress: "); n < 2 {
		t.Errorf("%d plain progress lines on a pipe, want several:\n%s", n, stderr)
	}
	rows := outputRows(t, input, filepath.Join(dir, "contacts.out.csv"), 3)
	statuses := map[string]int{}
	for _, r := range rows {
		statuses[r[6]]++
	}
	if statuses["duplicate"] != 5 || statuses["found"]+statuses["no data"] != 4492 {
		t.Errorf("statuses %v, want 5 duplicates and 4492 found or without data", statuses)
	}
	if r := rows[1802]; r[6] != "duplicate" || r[7] != "7" || r[8] != rows[7][8] {
		t.Errorf("line 1802 (person-5 again): %q, want a duplicate of line 7 with its emails %q", r, rows[7][8])
	}
	st := simCounters(t, s)
	if st.TasksStarted != 3 || st.CreditsCharged != cost {
		t.Errorf("simulator: %d tasks, %v credits charged; want 3 and the dry run's %v", st.TasksStarted, st.CreditsCharged, cost)
	}

	// The same command again: nothing is started, the output stays as it is.
	before, _ := os.ReadFile(filepath.Join(dir, "contacts.out.csv"))
	code, _, stderr = cliRun(t, s, dir, "contacts.csv", "-o", "contacts.out.csv")
	if code != exitPartial {
		t.Fatalf("enrich again: exit %d\n%s", code, stderr)
	}
	if again := simCounters(t, s); again.Endpoints[fiberfake.EndpointStart].Calls != st.Endpoints[fiberfake.EndpointStart].Calls || again.TasksStarted != 3 {
		t.Errorf("the same command again reached Fiber's start: %d calls, then %d", st.Endpoints[fiberfake.EndpointStart].Calls, again.Endpoints[fiberfake.EndpointStart].Calls)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "contacts.out.csv")); !bytes.Equal(before, after) {
		t.Error("the same command again changed the output")
	}
}

var progressLine = regexp.MustCompile(`^progress: (\d+)/(\d+) people .*, (\d+)/(\d+) batches started`)

func TestEnrichResumesAfterSIGINT(t *testing.T) {
	s := startEnrichStack(t, 200) // 1,500 people a task: 7.5s
	dir := t.TempDir()
	input := spreadsheet(t, dir, 4492, the4500)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := enrichCmd(ctx, s, dir, "-progress-every", "100ms", "contacts.csv", "-o", "out.csv")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// SIGINT once every batch is started and some people are written, well before the end.
	var seen []string
	sc := bufio.NewScanner(stderr)
	interrupted := false
	for sc.Scan() {
		seen = append(seen, sc.Text())
		m := progressLine.FindStringSubmatch(sc.Text())
		if m == nil || interrupted {
			continue
		}
		done, _ := strconv.Atoi(m[1])
		if m[3] == "3" && done >= 300 {
			if done > 3000 {
				t.Fatalf("the run was at %d people before the interrupt could be sent", done)
			}
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			interrupted = true
		}
	}
	io.Copy(io.Discard, stderr)
	cmd.Wait()
	if !interrupted || cmd.ProcessState.ExitCode() != exitInterrupted {
		t.Fatalf("interrupted: %v, exit %d, want %d\n%s", interrupted, cmd.ProcessState.ExitCode(), exitInterrupted, strings.Join(seen, "\n"))
	}
	if !strings.Contains(strings.Join(seen, "\n"), "interrupted: run the same command again") {
		t.Errorf("the interrupt does not say how to go on:\n%s", strings.Join(seen, "\n"))
	}
	startsBefore := simCounters(t, s).Endpoints[fiberfake.EndpointStart].Calls

	code, _, errOut := cliRun(t, s, dir, "contacts.csv", "-o", "out.csv")
	if code != exitPartial || !strings.Contains(errOut, "resuming from out.csv"+".fibergate-state") {
		t.Fatalf("the same command again: exit %d\n%s", code, errOut)
	}
	outputRows(t, input, filepath.Join(dir, "out.csv"), 3) // every person once
	st := simCounters(t, s)
	if st.TasksStarted != 3 || st.Endpoints[fiberfake.EndpointStart].Calls != startsBefore {
		t.Errorf("simulator: %d tasks, start calls %d then %d: want 3 tasks and no new start", st.TasksStarted, startsBefore, st.Endpoints[fiberfake.EndpointStart].Calls)
	}
}

func TestEnrichStopsAStartOfUnknownOutcome(t *testing.T) {
	s := startEnrichStack(t, 2000)
	dir := t.TempDir()
	spreadsheet(t, dir, 10, nil)
	fault := `{"endpoint": "start", "kind": "drop-after", "count": 1}` // started and charged, no answer
	resp, err := http.Post("http://"+s.fake.Addr+"/_sim/faults", "application/json", strings.NewReader(fault))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	code, _, stderr := cliRun(t, s, dir, "contacts.csv", "-o", "out.jsonl")
	if code != exitError {
		t.Fatalf("exit %d, want %d\n%s", code, exitError, stderr)
	}
	for _, want := range []string{"UPSTREAM_OUTCOME_UNKNOWN", "batch 1 (10 people, input lines 2 to 11) may or may not have been started", "fibergate list", "-adopt 1=TASK_ID", "-restart-unknown"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	calls := simCounters(t, s).Endpoints[fiberfake.EndpointStart].Calls
	code, _, stderr = cliRun(t, s, dir, "contacts.csv", "-o", "out.jsonl")
	if code != exitError || simCounters(t, s).Endpoints[fiberfake.EndpointStart].Calls != calls {
		t.Fatalf("again: exit %d, start calls %d then %d: want the batch left alone\n%s", code, calls, simCounters(t, s).Endpoints[fiberfake.EndpointStart].Calls, stderr)
	}
	code, _, stderr = cliRun(t, s, dir, "-restart-unknown", "contacts.csv", "-o", "out.jsonl")
	if code != exitOK {
		t.Fatalf("-restart-unknown: exit %d\n%s", code, stderr)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if n := strings.Count(string(data), "\n"); n != 10 {
		t.Errorf("%d JSONL lines, want 10:\n%s", n, data)
	}
	if st := simCounters(t, s); st.TasksStarted != 2 {
		t.Errorf("%d tasks started, want 2: the lost one (paid, as the warning says) and the restart", st.TasksStarted)
	}
}

func TestEnrichRetriesARateLimitedStartWithTheSameRequestID(t *testing.T) {
	// One start per 2s, and the server refuses to queue a start longer than 100ms: the second
	// and third batches get RESOURCE_EXHAUSTED with a RetryInfo.
	limits := []string{"-start-rate", "1/2s", "-poll-rate", "240/6s"}
	s := startStack(t, append([]string{"-people-per-second", "5000"}, limits...), append([]string{"-max-queue-wait", "100ms"}, limits...))
	dir := t.TempDir()
	input := spreadsheet(t, dir, 4001, nil)
	code, _, stderr := cliRun(t, s, dir, "-quiet", "contacts.csv", "-o", "out.csv")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !regexp.MustCompile(`batch 2: ResourceExhausted RATE_LIMITED: .*; starting it again in \S+ with the same request_id`).MatchString(stderr) {
		t.Errorf("stderr does not tell of the retry:\n%s", stderr)
	}
	outputRows(t, input, filepath.Join(dir, "out.csv"), 0)
	if st := simCounters(t, s); st.TasksStarted != 3 || st.Endpoints[fiberfake.EndpointStart].Calls != 3 {
		t.Errorf("simulator: %d tasks, %d start calls; want 3 and 3 (the refused starts never reached Fiber)", st.TasksStarted, st.Endpoints[fiberfake.EndpointStart].Calls)
	}
}
