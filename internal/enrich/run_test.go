package enrich

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// testCSV is a CSV of n people with a name column, plus rows that test the edges: two
// people Fiber rejects, one it finds nothing for, two duplicate rows and an invalid one.
func testCSV(n int) string {
	var b strings.Builder
	b.WriteString("name,linkedin_url,company\n")
	for i := range n {
		fmt.Fprintf(&b, "P%d,https://www.linkedin.com/in/p-%d,Acme %d\n", i, i, i%7)
	}
	b.WriteString("R1,https://www.linkedin.com/in/reject-1,X\n")
	b.WriteString("R2,https://www.linkedin.com/in/reject-2,X\n")
	b.WriteString("N1,https://www.linkedin.com/in/nodata-1,X\n")
	b.WriteString("D1,linkedin.com/in/P-3/,dup\n")
	b.WriteString("D2,https://www.linkedin.com/in/reject-1?x,dup\n")
	b.WriteString("Bad,https://example.com/nope,X\n")
	return b.String()
}

func csvPlan(t *testing.T, data string, types Types) *Plan {
	t.Helper()
	return NewPlan(read(t, "in.csv", data, ReadOptions{}), types)
}

// notes collects a run's notes.
type notes struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (n *notes) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.buf.Write(p)
}

func (n *notes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.buf.String()
}

func runCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// readOutput reads a CSV output: its rows by input line, failing on a line seen twice.
func readOutput(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v", err)
	}
	want := []string{"name", "linkedin_url", "company", "input_line", "status", "duplicate_of", "emails", "phone_numbers"}
	if strings.Join(recs[0], ",") != strings.Join(want, ",") {
		t.Fatalf("header %q, want %q", recs[0], want)
	}
	rows := map[string][]string{}
	for _, r := range recs[1:] {
		if _, dup := rows[r[3]]; dup {
			t.Fatalf("input line %s twice in the output", r[3])
		}
		rows[r[3]] = r
	}
	return rows
}

// checkComplete checks that the output has one row per valid input row of testCSV(n),
// with its columns and the right status.
func checkComplete(t *testing.T, p *Plan, rows map[string][]string) {
	t.Helper()
	if len(rows) != len(p.Rows) {
		t.Fatalf("%d rows, want %d (one per valid input row)", len(rows), len(p.Rows))
	}
	for _, pr := range p.Rows {
		r, ok := rows[strconv.Itoa(pr.Line)]
		if !ok {
			t.Fatalf("no row for input line %d", pr.Line)
		}
		want := StatusFound
		switch {
		case pr.DuplicateOf > 0:
			want = StatusDuplicate
		case strings.Contains(pr.Value, "reject-"):
			want = StatusRejected
		case strings.Contains(pr.Value, "nodata-"):
			want = StatusNoData
		}
		if r[0] != pr.Fields[0] || r[2] != pr.Fields[2] || r[4] != want {
			t.Fatalf("line %d: %q, want the input's columns %q and status %q", pr.Line, r, pr.Fields, want)
		}
		if want == StatusFound && !strings.Contains(r[6], "(work, valid)") {
			t.Fatalf("line %d: emails %q", pr.Line, r[6])
		}
	}
}

func TestRunWritesEveryValidRowOnceAndRetriesARateLimitWithTheSameID(t *testing.T) {
	f := newFakeServer()
	f.startErr = func(_ *cdv1.StartBatchRequest, call int) error {
		if call == 1 {
			return statusWith(t, codes.ResourceExhausted, "RATE_LIMITED", "start budget booked up", 10*time.Millisecond)
		}
		return nil
	}
	client := f.serve(t)
	p := csvPlan(t, testCSV(4100), AllTypes)
	if len(p.Batches) != 3 || len(p.Invalid) != 1 || p.Duplicates() != 2 {
		t.Fatalf("plan: %d batches, %d invalid, %d duplicates", len(p.Batches), len(p.Invalid), p.Duplicates())
	}
	out := filepath.Join(t.TempDir(), "out.csv")
	var n notes
	var last Progress
	sum, err := Run(runCtx(t), Config{Plan: p, Client: client, OutputPath: out, Format: OutputCSV, Notes: &n, Progress: func(pr Progress) { last = pr }})
	if err != nil {
		t.Fatalf("Run: %v\nnotes:\n%s", err, n.String())
	}
	checkComplete(t, p, readOutput(t, out))
	starts := f.startCalls()
	if len(starts) != 4 || starts[0] != starts[1] || starts[0] != p.RequestID(0, 1) {
		t.Errorf("StartBatch request ids %q: want batch 1's twice (a retry), then one each", starts)
	}
	if !strings.Contains(n.String(), "batch 1: ") || !strings.Contains(n.String(), "same request_id") {
		t.Errorf("notes do not tell of the retry:\n%s", n.String())
	}
	if sum.Counts != (Counts{Found: 4100, NoData: 1, Rejected: 2}) || sum.Rows != len(p.Rows) || !sum.Partial() {
		t.Errorf("summary %+v", sum)
	}
	if last.Done != len(p.People) || last.Started != 3 || last.CreditsCharged != p.Cost() || last.CreditsRefunded != 5 {
		t.Errorf("last progress %+v", last)
	}

	// Again: nothing is started, the output is kept.
	before, _ := os.ReadFile(out)
	if _, err := Run(runCtx(t), Config{Plan: p, Client: client, OutputPath: out, Format: OutputCSV}); err != nil {
		t.Fatal(err)
	}
	if len(f.startCalls()) != 4 {
		t.Errorf("the run again started batches: %q", f.startCalls()[4:])
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
		t.Error("the run again changed the output")
	}
}

func TestRunResumesAfterAnInterruptWithEveryPersonOnce(t *testing.T) {
	f := newFakeServer()
	f.hold = 2500 // the watches stop there: the run is cut in the middle
	client := f.serve(t)
	p := csvPlan(t, testCSV(4100), AllTypes)
	out := filepath.Join(t.TempDir(), "out.csv")
	ctx, cancel := context.WithCancel(runCtx(t))
	_, err := Run(ctx, Config{Plan: p, Client: client, OutputPath: out, Format: OutputCSV, Progress: func(pr Progress) {
		if pr.Done >= 1000 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Run: %v, want context.Canceled", err)
	}
	partial := readOutput(t, out)
	if len(partial) < 1000 || len(partial) >= len(p.Rows) {
		t.Fatalf("%d rows after the interrupt, want some but not all", len(partial))
	}
	// Rows written after the last checkpoint, as a crash would leave them: more than the
	// rest of the run writes.
	fh, err := os.OpenFile(out, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(fh, strings.Repeat("P1,https://www.linkedin.com/in/p-1,Acme 1,2,found,,,\n", 20000))
	fh.Close()

	f.mu.Lock()
	f.hold = 0
	sent := f.sent
	f.mu.Unlock()
	var n notes
	sum, err := Run(runCtx(t), Config{Plan: p, Client: client, OutputPath: out, Format: OutputCSV, Notes: &n})
	if err != nil {
		t.Fatalf("resumed Run: %v\n%s", err, n.String())
	}
	if !sum.Resumed || !strings.Contains(n.String(), "resuming from") {
		t.Errorf("summary %+v, notes %q: want a resumed run", sum, n.String())
	}
	checkComplete(t, p, readOutput(t, out))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sent != 3 {
		t.Errorf("%d tasks started in all (%d before the resume), want 3", f.sent, sent)
	}
}

func TestRunWritesAgainAnOutputShorterThanRecorded(t *testing.T) {
	f := newFakeServer()
	client := f.serve(t)
	p := csvPlan(t, testCSV(50), AllTypes)
	out := filepath.Join(t.TempDir(), "out.csv")
	if _, err := Run(runCtx(t), Config{Plan: p, Client: client, OutputPath: out, Format: OutputCSV}); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(out, 100); err != nil {
		t.Fatal(err)
	}
	var n notes
	if _, err := Run(runCtx(t), Config{Plan: p, Client: client, OutputPath: out, Format: OutputCSV, Notes: &n}); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, p, readOutput(t, out))
	if len(f.startCalls()) != 1 || !strings.Contains(n.String(), "writing it again") {
		t.Errorf("starts %q, notes %q: want one start and the output written again", f.startCalls(), n.String())
	}
}

func TestRunStopsABatchOfUnknownOutcomeUntilAdopted(t *testing.T) {
	f := newFakeServer()
	f.startErr = func(req *cdv1.StartBatchRequest, call int) error {
		if call != 2 {
			return nil
		}
		// Fiber started it, the answer was lost.
		var urls []string
		for _, p := range req.GetPersonDetails() {
			urls = append(urls, p.GetLinkedinUrl().GetValue())
		}
		f.tasks["task-lost"] = urls
		return statusWith(t, codes.Unknown, "UPSTREAM_OUTCOME_UNKNOWN", "fiber start: outcome unknown", 0)
	}
	client := f.serve(t)
	p := csvPlan(t, testCSV(4100), AllTypes)
	out := filepath.Join(t.TempDir(), "out.csv")
	var n notes
	sum, err := Run(runCtx(t), Config{Plan: p, Client: client, OutputPath: out, Format: OutputCSV, Notes: &n})
	if !errors.Is(err, ErrOutcomeUnknown) || len(sum.Unknown) != 1 || sum.Unknown[0] != 2 {
		t.Fatalf("Run: %v, unknown %v; want batch 2 of unknown outcome", err, sum.Unknown)
	}
	for _, want := range []string{"batch 2 (", "fibergate list", "-adopt 2=TASK_ID", "-restart-unknown", p.RequestID(1, 1)} {
		if !strings.Contains(n.String(), want) {
			t.Errorf("notes lack %q:\n%s", want, n.String())
		}
	}
	if sum.BatchesDone != 2 {
		t.Errorf("%d batches done, want the other two", sum.BatchesDone)
	}

	// Again: batch 2 is left alone.
	calls := len(f.startCalls())
	if _, err := Run(runCtx(t), Config{Plan: p, Client: client, OutputPath: out, Format: OutputCSV}); !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("Run again: %v, want ErrOutcomeUnknown", err)
	}
	if len(f.startCalls()) != calls {
		t.Fatalf("Run again started %q", f.startCalls()[calls:])
	}
	// The person found the task: adopted, it completes the output without a start.
	if _, err := Run(runCtx(t), Config{Plan: p, Client: client, OutputPath: out, Format: OutputCSV, Adopt: map[int]string{2: "task-lost"}}); err != nil {
		t.Fatalf("Run with -adopt: %v", err)
	}
	if len(f.startCalls()) != calls {
		t.Errorf("Run with -adopt started %q", f.startCalls()[calls:])
	}
	checkComplete(t, p, readOutput(t, out))
}

func TestRunRefusesAnotherRunsState(t *testing.T) {
	f := newFakeServer()
	client := f.serve(t)
	out := filepath.Join(t.TempDir(), "out.csv")
	if _, err := Run(runCtx(t), Config{Plan: csvPlan(t, testCSV(5), AllTypes), Client: client, OutputPath: out, Format: OutputCSV}); err != nil {
		t.Fatal(err)
	}
	_, err := Run(runCtx(t), Config{Plan: csvPlan(t, testCSV(5), Types{Phones: true}), Client: client, OutputPath: out, Format: OutputCSV})
	if !errors.Is(err, ErrStateMismatch) {
		t.Errorf("Run with other types on the same output: %v, want ErrStateMismatch", err)
	}
}

func TestRunToStdoutAsJSONL(t *testing.T) {
	f := newFakeServer()
	f.final = cdv1.TaskState_TASK_STATE_CANCELED
	client := f.serve(t)
	p := csvPlan(t, testCSV(3), AllTypes)
	var stdout bytes.Buffer
	if _, err := Run(runCtx(t), Config{Plan: p, Client: client, OutputPath: "-", Stdout: &stdout, Format: OutputJSONL}); err != nil {
		t.Fatal(err)
	}
	type line struct {
		InputLine   int    `json:"inputLine"`
		Status      string `json:"status"`
		DuplicateOf int    `json:"duplicateOf"`
		LinkedinURL string `json:"linkedinUrl"`
		NoDataFound *bool  `json:"noDataFound"`
		Emails      []struct {
			Email, Type, Status string
		} `json:"emails"`
	}
	got := map[int]line{}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var v line
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got[v.InputLine] = v
	}
	if len(got) != len(p.Rows) {
		t.Fatalf("%d lines, want %d:\n%s", len(got), len(p.Rows), stdout.String())
	}
	if l := got[2]; l.Status != StatusFound || l.LinkedinURL != "https://www.linkedin.com/in/p-0" || l.NoDataFound == nil || len(l.Emails) != 1 || l.Emails[0].Type != "EMAIL_TYPE_WORK" {
		t.Errorf("line 2: %+v", l)
	}
	if l := got[5]; l.Status != StatusCanceled { // reject-1, without a result in a canceled task
		t.Errorf("line 5: %+v, want canceled", l)
	}
	if l := got[9]; l.Status != StatusDuplicate || l.DuplicateOf != 5 {
		t.Errorf("line 9: %+v, want a duplicate of line 5", l)
	}
}
