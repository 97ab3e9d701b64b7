package enrich

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"google.golang.org/grpc"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// Client is what a run needs of the server: cdv1.ContactDetailsServiceClient has it.
type Client interface {
	StartBatch(ctx context.Context, in *cdv1.StartBatchRequest, opts ...grpc.CallOption) (*cdv1.StartBatchResponse, error)
	WatchTask(ctx context.Context, in *cdv1.WatchTaskRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[cdv1.WatchTaskResponse], error)
}

var _ Client = cdv1.ContactDetailsServiceClient(nil)

// DefaultWatches is how many tasks a run watches at once by default. The server polls every
// task it started whether watched or not; a watched one first.
const DefaultWatches = 8

// Config is one run.
type Config struct {
	Plan   *Plan
	Client Client
	// OutputPath is the output file, with its state file beside it (StateSuffix); "-" writes
	// to Stdout and keeps no state.
	OutputPath string
	Stdout     io.Writer
	Format     OutputFormat
	// Watches bounds the tasks watched at once; 0 means DefaultWatches.
	Watches int
	// Adopt gives, by batch number, the task of a batch whose start's outcome was unknown,
	// found by the user: the batch follows that task instead of starting.
	Adopt map[int]string
	// RestartUnknown starts the batches whose start's outcome was unknown again, with a new
	// request id (which pays for them again if they had started).
	RestartUnknown bool
	// Progress, if not nil, is called with the progress after each change, by one goroutine
	// at a time; it should not block.
	Progress func(Progress)
	// Notes receives messages for the person running it, a line each: resumption, retries,
	// batches that stopped. Nil discards them. Written to by several goroutines, one line at
	// a time.
	Notes io.Writer
	// Describe renders an error on one line for Notes; nil means its Error method.
	Describe func(error) string
}

// Progress is a run's progress.
type Progress struct {
	People int // unique people of the plan
	Done   int // people whose rows are in the output
	// Batches of the plan; Started of them have a task; Finished are done or stopped.
	Batches, Started, Finished int
	// CreditsCharged is what Fiber charged for the starts. CreditsRefunded is what comes
	// back: the price of each person without data (Fiber refunds them), and cancels.
	CreditsCharged, CreditsRefunded float64
}

// Summary is what a run did, over all its runs so far.
type Summary struct {
	Progress
	Counts        Counts // people by status
	Rows          int    // output rows: one per valid input row, once every batch is done
	BatchesDone   int    // batches whose every row is in the output
	DuplicateRows int
	Invalid       int
	Resumed       bool // the run went on from a state file
	Unmatched     int  // results naming no person of their batch (ignored)
	// Unknown are the numbers of the batches whose start's outcome is unknown.
	Unknown []int
}

// Partial reports whether some rows were left out, or some people rejected, failed or
// canceled.
func (s Summary) Partial() bool {
	return s.Invalid > 0 || s.Counts.Rejected+s.Counts.Failed+s.Counts.Canceled > 0
}

// Errors of Run.
var (
	// ErrStateMismatch: the state file beside the output belongs to another run.
	ErrStateMismatch = errors.New("state file mismatch")
	// ErrOutcomeUnknown: some batch's start may or may not have started a task.
	ErrOutcomeUnknown = errors.New("outcome of a start unknown")
)

// Run starts and watches the plan's batches and writes the output, going on from the state
// file if there is one. It returns when every batch is done or stopped, or when ctx ends
// (then with ctx's error, after a last checkpoint). The Summary is valid with any error but
// a failure to open the output or the state.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	r, err := newRun(cfg)
	if err != nil {
		return Summary{}, err
	}
	defer r.close()
	return r.run(ctx)
}

// run is one Run's state. The writer goroutine owns out, st and the counters; the
// starter and the watchers talk to it through events.
type run struct {
	cfg       Config
	plan      *Plan
	statePath string // "" for stdout
	file      *os.File
	out       *output
	st        *State
	resumed   bool
	unmatched int
	stopped   []error // why batches stopped, in the order they did
	finished  int     // batches done or stopped
	events    chan event
	notesMu   sync.Mutex // guards writes to cfg.Notes
}

type eventKind int

const (
	evStarted eventKind = iota // resp: the start's answer
	evMessage                  // msg: a watch message
	evUnknown                  // err: the start's outcome is unknown
	evStopped                  // err: the batch stopped (a start or watch that failed)
)

type event struct {
	batch int
	kind  eventKind
	resp  *cdv1.StartBatchResponse
	msg   *cdv1.WatchTaskResponse
	err   error
}

func newRun(cfg Config) (*run, error) {
	if cfg.Watches <= 0 {
		cfg.Watches = DefaultWatches
	}
	r := &run{cfg: cfg, plan: cfg.Plan, events: make(chan event, 64)}
	if cfg.OutputPath == "-" {
		r.st = newState(r.plan)
		r.out = newOutput(r.plan, cfg.Format, cfg.Stdout, nil, 0)
		return r, r.out.writeHeader()
	}
	r.statePath = cfg.OutputPath + StateSuffix
	st, err := loadState(r.statePath)
	if err != nil {
		return nil, err
	}
	if st != nil && st.Fingerprint != r.plan.Fingerprint() {
		return nil, fmt.Errorf("%w: %s was written by a run with another input, column or enrichment types: remove it (and %s) to start over, or write to another -o",
			ErrStateMismatch, r.statePath, cfg.OutputPath)
	}
	if err := r.applyChoices(st); err != nil {
		return nil, err
	}
	if st == nil {
		return r, r.create(newState(r.plan))
	}
	return r, r.reopen(st)
}

// applyChoices applies Adopt and RestartUnknown to st.
func (r *run) applyChoices(st *State) error {
	for n, task := range r.cfg.Adopt {
		if st == nil || n < 1 || n > len(st.Batches) || st.Batches[n-1].Unknown == nil {
			return fmt.Errorf("%w: -adopt %d=%s: batch %d has no start of unknown outcome", ErrStateMismatch, n, task, n)
		}
		b := &st.Batches[n-1]
		b.TaskID, b.Unknown = task, nil
	}
	if r.cfg.RestartUnknown && st != nil {
		for i := range st.Batches {
			if b := &st.Batches[i]; b.Unknown != nil {
				b.Attempt++
				b.RequestID, b.Unknown = r.plan.RequestID(i, b.Attempt), nil
			}
		}
	}
	return nil
}

// create starts a new output and its state.
func (r *run) create(st *State) error {
	f, err := os.Create(r.cfg.OutputPath)
	if err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	r.file, r.st = f, st
	r.out = newOutput(r.plan, r.cfg.Format, f, f, 0)
	if err := r.out.writeHeader(); err != nil {
		return err
	}
	return r.checkpoint()
}

// reopen goes on with an output and its state: the output is cut back to its complete part.
// An output shorter than that (or gone) is written anew from every batch's first result;
// the batches' tasks are kept, never started again.
func (r *run) reopen(st *State) error {
	r.resumed = true
	f, err := os.OpenFile(r.cfg.OutputPath, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return fmt.Errorf("open output: %w", err)
	}
	r.file, r.st = f, st
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open output: %w", err)
	}
	if fi.Size() < st.OutputBytes {
		r.note("%s holds %d bytes, less than the %d its state file records: writing it again from the results kept on the server (no batch is started again)",
			r.cfg.OutputPath, fi.Size(), st.OutputBytes)
		st.restartOutput()
	}
	if err := f.Truncate(st.OutputBytes); err != nil {
		return fmt.Errorf("truncate output: %w", err)
	}
	if _, err := f.Seek(st.OutputBytes, io.SeekStart); err != nil {
		return fmt.Errorf("open output: %w", err)
	}
	r.out = newOutput(r.plan, r.cfg.Format, f, f, st.OutputBytes)
	if st.OutputBytes == 0 {
		if err := r.out.writeHeader(); err != nil {
			return err
		}
	}
	return r.checkpoint()
}

func (r *run) close() {
	if r.file != nil {
		r.file.Close()
	}
}

// checkpoint makes the output durable, then records its length and the batches' positions.
func (r *run) checkpoint() error {
	n, err := r.out.checkpoint()
	if err != nil {
		return err
	}
	if r.statePath == "" {
		return nil
	}
	r.st.OutputBytes = n
	return r.st.save(r.statePath)
}

// note writes a line to Notes.
func (r *run) note(format string, args ...any) {
	if r.cfg.Notes == nil {
		return
	}
	r.notesMu.Lock()
	defer r.notesMu.Unlock()
	fmt.Fprintf(r.cfg.Notes, format+"\n", args...)
}

// run runs the starter, the watchers and the writer until every batch is done or stopped.
func (r *run) run(ctx context.Context) (Summary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan watchItem, len(r.plan.Batches))
	var toStart []int
	for i, b := range r.st.Batches {
		switch {
		case b.Done || b.Unknown != nil:
		case b.TaskID != "":
			queue <- watchItem{batch: i, taskID: b.TaskID, token: b.ResumeToken}
		default:
			toStart = append(toStart, i)
		}
	}
	if r.resumed {
		r.note("resuming from %s: %s", r.statePath, r.describeState())
	}
	var wg sync.WaitGroup
	wg.Go(func() { r.startAll(ctx, toStart, queue) })
	for range r.cfg.Watches {
		wg.Go(func() { r.watchAll(ctx, queue) })
	}
	werr := r.write(ctx)
	cancel() // the writer is done: so is everything else
	wg.Wait()
	sum := r.summary()
	switch {
	case werr != nil:
		return sum, werr
	case len(r.stopped) > 0:
		return sum, r.stopped[0]
	case len(sum.Unknown) > 0:
		return sum, fmt.Errorf("%w: batch %v", ErrOutcomeUnknown, sum.Unknown)
	}
	return sum, nil
}

// describeState says where a resumed run is.
func (r *run) describeState() string {
	done, started := 0, 0
	for _, b := range r.st.Batches {
		if b.Done {
			done++
		}
		if b.TaskID != "" {
			started++
		}
	}
	return fmt.Sprintf("%d of %d batches done, %d started, %d of %d people written",
		done, len(r.st.Batches), started, r.progress().Done, len(r.plan.People))
}

// send hands an event to the writer, unless ctx ends first.
func (r *run) send(ctx context.Context, ev event) bool {
	select {
	case r.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}
