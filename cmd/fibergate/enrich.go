package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fibergate/fibergate/internal/enrich"
)

// enrichCommand is `fibergate enrich`.
func enrichCommand() command {
	return command{name: "enrich", args: "INPUT -o OUTPUT", summary: "contact details for a file of LinkedIn URLs (CSV, JSONL or text)", run: runEnrich}
}

// enrichFlags are enrich's command line.
type enrichFlags struct {
	conn                      connFlags
	output, column            string
	inputFormat, outputFormat string
	work, personal, phones    bool
	strict, dryRun, quiet     bool
	restartUnknown            bool
	progressEvery             time.Duration
	watches                   int
	adopt                     map[int]string
	typesGiven                map[string]bool
	input                     string
}

// maxListedInvalid is how many invalid rows are listed one by one.
const maxListedInvalid = 20

func runEnrich(ctx context.Context, e env, args []string) int {
	f, err := parseEnrichFlags(e, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return report(e.stderr, err)
	}
	plan, err := f.plan(e)
	if err != nil {
		return report(e.stderr, err)
	}
	reportInvalid(e.stderr, plan)
	if f.strict && len(plan.Invalid) > 0 {
		return report(e.stderr, usagef("-strict: %d rows of %s are not LinkedIn profile URLs (listed above); nothing was started", len(plan.Invalid), plan.Input.Name))
	}
	if f.dryRun {
		return dryRun(e.stdout, f, plan)
	}
	if len(plan.People) == 0 {
		return report(e.stderr, usagef("%s holds no LinkedIn profile URL: nothing to do", plan.Input.Name))
	}
	return f.run(ctx, e, plan)
}

func parseEnrichFlags(e env, args []string) (*enrichFlags, error) {
	f := &enrichFlags{adopt: map[int]string{}, typesGiven: map[string]bool{}}
	fs := flag.NewFlagSet("fibergate enrich", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&f.output, "o", "", "OUTPUT file: .csv or .jsonl (see -output-format); - for stdout (not resumable). Its state file is OUTPUT"+enrich.StateSuffix)
	fs.StringVar(&f.column, "column", "", "the CSV column holding the LinkedIn URLs (default: found by its name, such as linkedin_url, or by its content)")
	fs.StringVar(&f.inputFormat, "input-format", "auto", "INPUT's format: auto (by extension, else by content), csv, jsonl or text")
	fs.StringVar(&f.outputFormat, "output-format", "", "OUTPUT's format: csv or jsonl (default: by OUTPUT's extension, else csv)")
	fs.BoolVar(&f.work, "work-emails", false, "fetch work emails (with none of -work-emails, -personal-emails, -phones: all three, as Fiber)")
	fs.BoolVar(&f.personal, "personal-emails", false, "fetch personal emails")
	fs.BoolVar(&f.phones, "phones", false, "fetch phone numbers")
	fs.BoolVar(&f.strict, "strict", false, "stop, starting nothing, when a row is not a LinkedIn profile URL (default: report it and leave it out)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "say what would be started and what it would cost, without connecting")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar or progress lines")
	fs.DurationVar(&f.progressEvery, "progress-every", 5*time.Second, "interval of the progress lines when stderr is not a terminal")
	fs.IntVar(&f.watches, "watches", enrich.DefaultWatches, "tasks watched at once")
	fs.BoolVar(&f.restartUnknown, "restart-unknown", false, "start again, with a new request_id, the batches whose start's outcome was unknown (pays twice if they had started)")
	fs.Func("adopt", "N=TASK_ID: batch N, whose start's outcome was unknown, is task TASK_ID (found with fibergate list): take its results (repeatable)", func(s string) error {
		n, task, ok := strings.Cut(s, "=")
		num, err := strconv.Atoi(n)
		if !ok || err != nil || num < 1 || task == "" {
			return fmt.Errorf("want N=TASK_ID, such as 2=abc123")
		}
		f.adopt[num] = task
		return nil
	})
	f.conn.register(fs, e.getenv)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: fibergate enrich [flags] INPUT -o OUTPUT

Fetches contact details for every LinkedIn profile URL of INPUT (- for stdin): a CSV with a
header row (other columns are kept in the CSV output), JSONL with a linkedinUrl field, or one
URL a line. Each person is sent once, in batches of at most 2000 started through the server's
budget; rows that are not profile URLs are reported and left out. Results are written to
OUTPUT as they arrive. Run the same command again after Ctrl-C or a failure: it goes on where
it was, and never starts or pays for a batch twice.

Flags:
`)
		fs.PrintDefaults()
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "work-emails", "personal-emails", "phones":
			f.typesGiven[fl.Name] = true
		}
	})
	switch {
	case len(positional) != 1:
		return nil, usagef("want one INPUT file (- for stdin), got %d arguments: fibergate enrich INPUT -o OUTPUT", len(positional))
	case f.output == "" && !f.dryRun:
		return nil, usagef("-o OUTPUT is required (- for stdout)")
	case f.watches < 1:
		return nil, usagef("-watches must be at least 1")
	case f.progressEvery <= 0:
		return nil, usagef("-progress-every must be positive")
	}
	f.input = positional[0]
	if f.output != "-" && f.output != "" && f.input != "-" && sameFile(f.input, f.output) {
		return nil, usagef("OUTPUT %s is INPUT: write the results to another file", f.output)
	}
	return f, nil
}

// sameFile reports whether two paths name one existing file.
func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return os.SameFile(fa, fb)
}

// types are the enrichment types asked for: those set true; when none is, all but those
// set false.
func (f *enrichFlags) types() enrich.Types {
	t := enrich.Types{WorkEmails: f.work, PersonalEmails: f.personal, Phones: f.phones}
	if t.Any() {
		return t
	}
	return enrich.Types{
		WorkEmails:     !f.typesGiven["work-emails"],
		PersonalEmails: !f.typesGiven["personal-emails"],
		Phones:         !f.typesGiven["phones"],
	}
}

// plan reads INPUT and plans the batches.
func (f *enrichFlags) plan(e env) (*enrich.Plan, error) {
	types := f.types()
	if !types.Any() {
		return nil, usagef("no enrichment type left: want at least one of -work-emails, -personal-emails, -phones")
	}
	format, err := enrich.ParseFormat(f.inputFormat)
	if err != nil {
		return nil, usagef("-input-format: %v", err)
	}
	var r io.Reader = e.stdin
	name := "stdin"
	if f.input != "-" {
		file, err := os.Open(f.input)
		if err != nil {
			return nil, usagef("%v", err)
		}
		defer file.Close()
		r, name = file, f.input
	}
	in, err := enrich.ReadInput(r, enrich.ReadOptions{Name: name, Format: format, Column: f.column})
	var ie *enrich.InputError
	if errors.As(err, &ie) {
		return nil, usagef("%s", ie.Msg)
	}
	if err != nil {
		return nil, err
	}
	return enrich.NewPlan(in, types), nil
}

// outputFormat is OUTPUT's format: -output-format, else its extension, else CSV.
func (f *enrichFlags) outputFormatOf() (enrich.OutputFormat, error) {
	if f.outputFormat != "" {
		of, err := enrich.ParseOutputFormat(f.outputFormat)
		if err != nil {
			return 0, usagef("-output-format: %v", err)
		}
		return of, nil
	}
	if of, ok := enrich.OutputFormatFor(f.output); ok {
		return of, nil
	}
	return enrich.OutputCSV, nil
}

// reportInvalid lists the rows left out on w, the first few one by one.
func reportInvalid(w io.Writer, p *enrich.Plan) {
	for i, inv := range p.Invalid {
		if i == maxListedInvalid {
			fmt.Fprintf(w, "fibergate: ... and %d more rows left out\n", len(p.Invalid)-i)
			break
		}
		fmt.Fprintf(w, "fibergate: %s line %d: %s: %q (left out)\n", p.Input.Name, inv.Line, inv.Reason, truncate(inv.Value, 80))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// dryRun prints what a run would start and what it would cost.
func dryRun(w io.Writer, f *enrichFlags, p *enrich.Plan) int {
	in := p.Input
	switch {
	case in.Header != nil && in.ColumnByContent:
		fmt.Fprintf(w, "input:    %s, CSV, LinkedIn URLs in column %q (found by its content)\n", in.Name, in.Header[in.Column])
	case in.Header != nil:
		fmt.Fprintf(w, "input:    %s, CSV, LinkedIn URLs in column %q\n", in.Name, in.Header[in.Column])
	default:
		fmt.Fprintf(w, "input:    %s, %s\n", in.Name, in.Format)
	}
	fmt.Fprintf(w, "rows:     %d: %d valid, %d left out as invalid\n", len(in.Rows), len(p.Rows), len(p.Invalid))
	fmt.Fprintf(w, "people:   %d (%s: each gets its person's result, sent once)\n", len(p.People), plural(p.Duplicates(), "duplicate row", "duplicate rows"))
	sizes := make([]string, len(p.Batches))
	for i, b := range p.Batches {
		sizes[i] = strconv.Itoa(len(b.People))
	}
	fmt.Fprintf(w, "batches:  %d (%s people)\n", len(p.Batches), strings.Join(sizes, ", "))
	fmt.Fprintf(w, "types:    %s: %g credits a person\n", p.Types, p.Types.Price())
	fmt.Fprintf(w, "cost:     %g credits at most: charged at each start for the people Fiber queues; people it finds nothing for are refunded\n", p.Cost())
	if f.output != "" && f.output != "-" {
		if pending, ok, err := enrich.Pending(p, f.output); err == nil && ok {
			people := 0
			for _, b := range pending {
				people += len(p.Batches[b].People)
			}
			fmt.Fprintf(w, "resuming: %s%s records started batches: a run now starts %d batches, %d people, %g credits at most\n",
				f.output, enrich.StateSuffix, len(pending), people, float64(people)*p.Types.Price())
		}
	}
	if len(p.Invalid) > 0 {
		return exitPartial
	}
	return exitOK
}

// run starts and watches the batches.
func (f *enrichFlags) run(ctx context.Context, e env, p *enrich.Plan) int {
	of, err := f.outputFormatOf()
	if err != nil {
		return report(e.stderr, err)
	}
	conn, client, err := f.conn.dial()
	if err != nil {
		return report(e.stderr, err)
	}
	defer conn.Close()
	ui := newProgressUI(e, f)
	sum, err := enrich.Run(ctx, enrich.Config{
		Plan:           p,
		Client:         client,
		OutputPath:     f.output,
		Stdout:         e.stdout,
		Format:         of,
		Watches:        f.watches,
		Adopt:          f.adopt,
		RestartUnknown: f.restartUnknown,
		Progress:       ui.update,
		Notes:          ui.notes(),
		Describe:       describe,
	})
	ui.finish(err == nil)
	if sum.People > 0 || err == nil {
		printSummary(e.stderr, f.output, p, sum)
	}
	switch {
	case errors.Is(err, enrich.ErrStateMismatch):
		return report(e.stderr, usagef("%v", err))
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(e.stderr, "fibergate: interrupted: "+resumeHint(f.output))
		return exitInterrupted
	case errors.Is(err, enrich.ErrOutcomeUnknown):
		fmt.Fprintf(e.stderr, "fibergate: UPSTREAM_OUTCOME_UNKNOWN: the start of batch %s may or may not have happened: check what is said above before running the command again\n", joinInts(sum.Unknown))
		return exitError
	case err != nil:
		code := report(e.stderr, err)
		fmt.Fprintln(e.stderr, "fibergate: "+resumeHint(f.output))
		return code
	case sum.Partial():
		return exitPartial
	}
	return exitOK
}

func resumeHint(output string) string {
	if output == "-" {
		return "output to stdout cannot be resumed: the same command writes everything again (batches already started are not started or paid again while the server remembers their request_id, 24 hours by default)"
	}
	return "run the same command again to go on where it stopped"
}

// printSummary writes the closing line.
func printSummary(w io.Writer, output string, p *enrich.Plan, s enrich.Summary) {
	dest := output
	if output == "-" {
		dest = "stdout"
	}
	parts := []string{fmt.Sprintf("%d found", s.Counts.Found), fmt.Sprintf("%d no data", s.Counts.NoData)}
	for _, c := range []struct {
		n    int
		name string
	}{{s.Counts.Rejected, "rejected"}, {s.Counts.Failed, "failed"}, {s.Counts.Canceled, "canceled"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.name))
		}
	}
	line := fmt.Sprintf("fibergate: %d of %d rows in %s: %s (%s), %s",
		s.Rows, len(p.Rows), dest, plural(s.Done, "person", "people"), strings.Join(parts, ", "), plural(s.DuplicateRows, "duplicate row", "duplicate rows"))
	if s.Invalid > 0 {
		line += fmt.Sprintf("; %s left out", plural(s.Invalid, "invalid row", "invalid rows"))
	}
	line += fmt.Sprintf("; %d of %s done; %g credits charged, %g refunded", s.BatchesDone, plural(s.Batches, "batch", "batches"), s.CreditsCharged, s.CreditsRefunded)
	fmt.Fprintln(w, line)
}

// plural is "1 row" or "2 rows".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
