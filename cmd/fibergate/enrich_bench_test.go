package main

import (
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

// BenchmarkEnrich times `fibergate enrich` of 10,000 and 100,000 people against the real
// server and simulator with Fiber's default limits scaled ten times (30 starts and 240 polls
// per 6s), the simulator completing people at once (-people-per-second inf) so that Fiber's
// work is not the bound, and reports it beside the ideal those limits allow: start k and
// poll k can go no sooner than 6s*floor(k/30) and 6s*floor(k/240) after the first, and each
// page holds 100 people.
//
//	go test -run '^$' -bench Enrich -benchtime 1x ./cmd/fibergate/
func BenchmarkEnrich(b *testing.B) {
	for _, people := range []int{10000, 100000} {
		b.Run(strconv.Itoa(people), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s := startStack(b, append([]string{"-people-per-second", "inf", "-keys", fiberfake.DemoAPIKey + "=100000000"}, scaledLimits...), scaledLimits)
				dir := b.TempDir()
				spreadsheet(b, dir, people, nil)
				b.StartTimer()
				start := time.Now()
				code, _, stderr := cliRun(b, s, dir, "-quiet", "contacts.csv", "-o", "out.csv")
				elapsed := time.Since(start)
				b.StopTimer()
				if code != exitOK {
					b.Fatalf("exit %d\n%s", code, stderr)
				}
				st := simCounters(b, s)
				starts := int(math.Ceil(float64(people) / 2000))
				polls := int(math.Ceil(float64(people) / 100))
				ideal := max(6*time.Second*time.Duration((starts-1)/30), 6*time.Second*time.Duration((polls-1)/240))
				b.ReportMetric(elapsed.Seconds(), "s")
				b.ReportMetric(ideal.Seconds(), "ideal-s")
				b.ReportMetric(float64(st.Endpoints[fiberfake.EndpointPoll].Calls), "polls")
				b.Log(fmt.Sprintf("%d people: %v; ideal %v (%d starts, %d polls needed; Fiber saw %d starts, %d polls, %d rate-limited)",
					people, elapsed.Round(10*time.Millisecond), ideal, starts, polls, st.Endpoints[fiberfake.EndpointStart].Calls,
					st.Endpoints[fiberfake.EndpointPoll].Calls, st.Endpoints[fiberfake.EndpointPoll].RateLimited+st.Endpoints[fiberfake.EndpointStart].RateLimited))
				b.StartTimer()
			}
		})
	}
}
