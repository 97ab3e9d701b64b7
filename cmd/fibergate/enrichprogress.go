package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/fibergate/fibergate/internal/enrich"
)

// progressUI shows a run's progress on stderr: a live bar on a terminal, a plain line every
// -progress-every otherwise, nothing with -quiet. Notes (retries, resumption) go above the
// bar, or as plain lines.
type progressUI interface {
	update(enrich.Progress) // from one goroutine at a time
	notes() io.Writer
	finish(complete bool) // once, after the run
}

func newProgressUI(e env, f *enrichFlags) progressUI {
	switch {
	case f.quiet:
		return quietUI{w: e.stderr}
	case isTerminal(e.stderr) && !(f.output == "-" && isTerminal(e.stdout)):
		return newBarUI(e.stderr)
	}
	return &lineUI{w: e.stderr, every: f.progressEvery, meter: newMeter()}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// meter measures the rate of this run (not of the runs before a resume) and the ETA.
type meter struct {
	mu    sync.Mutex // guards the fields below
	start time.Time
	base  int // people done when the first update came
	first bool
	last  enrich.Progress
}

func newMeter() *meter { return &meter{start: time.Now(), first: true} }

func (m *meter) update(p enrich.Progress) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.first {
		m.first, m.base, m.start = false, p.Done, time.Now()
	}
	m.last = p
}

// read returns the latest progress, the rate (people a second, 0 before any) and the ETA
// (negative when unknown).
func (m *meter) read() (enrich.Progress, float64, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.last
	elapsed := time.Since(m.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.Done-m.base) / elapsed
	}
	eta := time.Duration(-1)
	if rate > 0 {
		eta = time.Duration(float64(p.People-p.Done) / rate * float64(time.Second))
	}
	return p, rate, eta
}

func formatETA(eta time.Duration) string {
	if eta < 0 {
		return "ETA -"
	}
	return "ETA " + eta.Round(time.Second).String()
}

func formatCredits(p enrich.Progress) string {
	return fmt.Sprintf("%g credits charged, %g refunded", p.CreditsCharged, p.CreditsRefunded)
}

// lineUI prints a plain progress line at most every interval, and a last one at the end.
type lineUI struct {
	w       io.Writer
	every   time.Duration
	meter   *meter
	mu      sync.Mutex // guards printed, line and writes to w
	printed time.Time
	line    string // the last line printed
}

func (u *lineUI) update(p enrich.Progress) {
	u.meter.update(p)
	u.mu.Lock()
	defer u.mu.Unlock()
	if time.Since(u.printed) >= u.every {
		u.print()
	}
}

// print writes the line; the caller holds mu.
func (u *lineUI) print() {
	p, rate, eta := u.meter.read()
	pct := 100.0
	if p.People > 0 {
		pct = 100 * float64(p.Done) / float64(p.People)
	}
	u.line = fmt.Sprintf("progress: %d/%d people (%.0f%%), %d/%d batches started, %.0f/s, %s, %s\n",
		p.Done, p.People, pct, p.Started, p.Batches, rate, formatETA(eta), formatCredits(p))
	io.WriteString(u.w, u.line)
	u.printed = time.Now()
}

func (u *lineUI) notes() io.Writer { return lockedWriter{mu: &u.mu, w: u.w} }

// finish prints the last line, unless it says nothing new.
func (u *lineUI) finish(bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if p, _, _ := u.meter.read(); u.line == "" || !strings.HasPrefix(u.line, fmt.Sprintf("progress: %d/%d people ", p.Done, p.People)) {
		u.print()
	}
}

// lockedWriter serializes writes with the progress lines.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// barUI is a live bar: people done / total, percentage, rate, ETA, credits.
type barUI struct {
	p     *mpb.Progress
	bar   *mpb.Bar
	meter *meter
	once  sync.Once // creates the bar at the first update, when the total is known
	w     io.Writer
}

func newBarUI(w io.Writer) *barUI {
	return &barUI{p: mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(150*time.Millisecond), mpb.WithWidth(40)), meter: newMeter(), w: w}
}

func (u *barUI) update(p enrich.Progress) {
	u.meter.update(p)
	u.once.Do(func() {
		u.bar = u.p.AddBar(int64(p.People),
			mpb.PrependDecorators(
				decor.Name("enrich "),
				decor.CountersNoUnit("%d / %d people", decor.WCSyncSpaceR),
			),
			mpb.AppendDecorators(
				decor.Percentage(decor.WC{W: 5}),
				decor.Any(func(decor.Statistics) string {
					_, rate, eta := u.meter.read()
					return fmt.Sprintf("  %.0f/s  %s", rate, formatETA(eta))
				}),
				decor.Any(func(decor.Statistics) string {
					p, _, _ := u.meter.read()
					return fmt.Sprintf("  batches %d/%d  %s", p.Started, p.Batches, formatCredits(p))
				}),
			),
		)
	})
	u.bar.SetCurrent(int64(p.Done))
}

// notes go above the bar while it runs.
func (u *barUI) notes() io.Writer { return u.p }

func (u *barUI) finish(complete bool) {
	if u.bar == nil {
		u.p.Wait()
		return
	}
	if complete {
		p, _, _ := u.meter.read()
		u.bar.SetTotal(int64(p.People), true)
	} else {
		u.bar.Abort(false)
	}
	u.p.Wait()
}

// quietUI shows no progress; notes still go to stderr.
type quietUI struct{ w io.Writer }

func (quietUI) update(enrich.Progress) {}
func (q quietUI) notes() io.Writer     { return q.w }
func (quietUI) finish(bool)            {}
