//go:build linux

package main

import (
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkSlowBodyClients measures what 1,000 REST clients that send their bodies a byte a
// second cost the server binary run with its default limits: they all connect at once, then
// each sends a byte a second until the server hangs up, for at most 75s. Once a second it
// samples the server's open descriptors beyond those at rest (the connections it holds) and
// its RSS. The server's file limit is raised to 4096 for the run, so that only its own limits
// are measured (the benchmark is skipped where that is not allowed).
//
// Figures: held-max (connections held at once), cut-all-s (seconds until every client was
// cut; -1 if some were still held when the run ended), held-end (connections held when the
// run ended), cut-median-s and cut-max-s (how long a client was kept, from its connect to the
// server hanging up, among those cut), rss-MiB (the server's peak RSS during the run) and
// rss-rest-MiB (before). One op is one round: run it with -benchtime 1x.
//
//	go test -run '^$' -bench SlowBodyClients -benchtime 1x ./cmd/server/
func BenchmarkSlowBodyClients(b *testing.B) {
	const clients, maxRun, fileLimit = 1000, 75 * time.Second, 4096
	var own unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &own); err != nil || own.Cur < clients+256 {
		b.Skipf("this process may open %d files, %d clients need more", own.Cur, clients)
	}
	for range b.N {
		p := startServer(b, nil, "-fake-fiber")
		if err := unix.Prlimit(p.pid(), unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: fileLimit, Max: fileLimit}, nil); err != nil {
			b.Skipf("cannot raise the server's file limit to %d: %v", fileLimit, err)
		}
		base, rest := p.openFiles(b), p.memoryKiB(b, "VmRSS")
		ctx := testContext(b)
		start := time.Now()
		var open []*slowClient
		dialled := make(map[*slowClient]time.Time, clients)
		for range clients {
			c, err := dialSlowClient(ctx, p.httpAddr)
			if err != nil {
				b.Fatalf("client %d: %v", len(open)+1, err)
			}
			open = append(open, c)
			dialled[c] = time.Now()
		}
		all := slices.Clone(open)
		var kept []time.Duration
		heldMax, heldEnd, rss, cutAll := 0, 0, rest, -1.0
		tick := time.NewTicker(time.Second)
		for range int(maxRun / time.Second) {
			<-tick.C
			open = slices.DeleteFunc(open, func(c *slowClient) bool {
				select {
				case <-c.closed:
					kept = append(kept, time.Since(dialled[c]))
					return true
				default:
					_ = c.trickle()
					return false
				}
			})
			heldEnd = p.openFiles(b) - base
			heldMax, rss = max(heldMax, heldEnd), max(rss, p.memoryKiB(b, "VmRSS"))
			if len(open) == 0 {
				cutAll = time.Since(start).Seconds()
				break
			}
		}
		tick.Stop()
		for _, c := range all {
			c.conn.Close()
		}
		for _, c := range all {
			<-c.closed
		}
		slices.Sort(kept)
		b.ReportMetric(float64(heldMax), "held-max")
		b.ReportMetric(float64(max(heldEnd, 0)), "held-end")
		b.ReportMetric(cutAll, "cut-all-s")
		if len(kept) > 0 {
			b.ReportMetric(kept[len(kept)/2].Seconds(), "cut-median-s")
			b.ReportMetric(kept[len(kept)-1].Seconds(), "cut-max-s")
		}
		b.ReportMetric(float64(rss)/1024, "rss-MiB")
		b.ReportMetric(float64(rest)/1024, "rss-rest-MiB")
		if err := p.stop(); err != nil {
			b.Errorf("server exit: %v", err)
		}
	}
}
