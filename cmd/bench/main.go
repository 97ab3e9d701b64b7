// Command bench measures fibergate against the limits Fiber sets per API key, with the real
// binaries: it builds the server (cmd/server) and the standalone Fiber simulator
// (cmd/fiberfake), runs each scenario against fresh processes on loopback ports with Fiber's
// limits scaled down so that the whole run takes minutes, and writes a Markdown report to
// stdout. Every figure is set beside the ideal the limits allow and its ratio to it.
//
//	go run ./cmd/bench                  # every scenario
//	go run ./cmd/bench -only fanout,startbacklog
//
// Progress goes to stderr. The exit code is 1 when a scenario could not run, not when a
// figure misses its goal: the report says that.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fibergate/fibergate/internal/launch"
)

// scenario is one section of the report.
type scenario struct {
	name string // for -only
	run  func(ctx context.Context, b *bench) (section, error)
}

// scenarios returns every scenario, in the report's order.
func scenarios() []scenario {
	return []scenario{
		{"fanout", fanout},
		{"startbacklog", startBacklog},
		{"polleff", pollEfficiency},
		{"drain", drain},
		{"overhead", runOverhead},
		{"scale", runScale},
		{"rest", runREST},
	}
}

// bench is what every scenario gets: the built binaries and where to log progress.
type bench struct {
	serverBin, fakeBin string
	dir                string    // scratch directory, removed at the end
	log                io.Writer // progress lines, stderr
	runs               int       // stacks started, to name their stores
}

// logf writes a progress line.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// section is one scenario's part of the report: a table of figures and notes under it.
type section struct {
	title string
	setup string // one line: the scaled limits and sizes used
	rows  []row
	notes []string
}

// row is one figure: what was measured beside the ideal the limits allow.
type row struct {
	figure    string // what is measured, e.g. "upstream polls"
	fibergate string // the measured value through fibergate
	baseline  string // the same without fibergate (naive client), or "" when there is none
	ideal     string // what the limits allow, or ""
	ratio     string // measured against the ideal (or the baseline), e.g. "0.98×", or ""
	goal      string // the goal, e.g. "≤ 1.03×", and whether it is met, or ""
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	only := fs.String("only", "", "comma-separated scenarios to run (default: all): "+strings.Join(names(), ","))
	_ = fs.Parse(os.Args[1:])
	if err := run(ctx, *only, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func names() []string {
	var n []string
	for _, s := range scenarios() {
		n = append(n, s.name)
	}
	return n
}

func run(ctx context.Context, only string, stdout, stderr io.Writer) error {
	var chosen []scenario
	for _, s := range scenarios() {
		if only == "" || slices.Contains(strings.Split(only, ","), s.name) {
			chosen = append(chosen, s)
		}
	}
	if len(chosen) == 0 {
		return fmt.Errorf("no scenario named in -only %q; there are: %s", only, strings.Join(names(), ","))
	}
	dir, err := os.MkdirTemp("", "fibergate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bench{dir: dir, log: stderr}
	b.logf("building the server and the simulator")
	bins, err := launch.Build(ctx, dir, launch.ServerPkg, launch.FiberfakePkg)
	if err != nil {
		return err
	}
	b.serverBin, b.fakeBin = bins[0], bins[1]

	fmt.Fprintf(stdout, "# fibergate benchmark report\n\n%s, %s, `go run ./cmd/bench`.\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), machine())
	var failed []string
	for _, s := range chosen {
		b.logf("scenario %s", s.name)
		start := time.Now()
		sec, err := s.run(ctx, b)
		if err != nil {
			failed = append(failed, s.name)
			fmt.Fprintf(stdout, "\n## %s\n\nCould not run: %s\n", s.name, oneLine(err.Error()))
			b.logf("scenario %s failed: %v", s.name, err)
			continue
		}
		b.logf("scenario %s done in %v", s.name, time.Since(start).Round(time.Second))
		writeSection(stdout, sec)
	}
	if len(failed) > 0 {
		return fmt.Errorf("scenarios that could not run: %s", strings.Join(failed, ", "))
	}
	return nil
}

func writeSection(w io.Writer, s section) {
	fmt.Fprintf(w, "\n## %s\n\n", s.title)
	if s.setup != "" {
		fmt.Fprintf(w, "%s\n\n", s.setup)
	}
	fmt.Fprintln(w, "| figure | fibergate | without fibergate | ideal | ratio | goal |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range s.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.figure, cell(r.fibergate), cell(r.baseline), cell(r.ideal), cell(r.ratio), cell(r.goal))
	}
	for _, n := range s.notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
}

func cell(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
