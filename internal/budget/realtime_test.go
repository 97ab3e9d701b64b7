package budget_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// TestScaledLimitRealTime runs a scaled limit, 5/2s, on the wall clock: 12 concurrent Waits
// from 3 callers get 5 slots at once, 5 more one window (2.02s) later and the last 2 one window
// after that.
func TestScaledLimitRealTime(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 4s of real time")
	}
	ctx := testContext(t)
	lim := mustLimit(t, "5/2s")
	w := lim.Per + budget.DefaultMargin(lim)
	l := newLimiter(t, budget.Config{Limits: budget.Limits{Poll: lim}})
	out := make(chan outcome, 12)
	t0 := time.Now()
	for i := range 12 {
		waitAsync(ctx, l, testKey, fiber.EndpointPoll, fmt.Sprint("c", i%3), fmt.Sprint(i), out)
	}
	var at []time.Duration
	for range 12 {
		o := <-out
		if o.err != nil {
			t.Fatal(o.err)
		}
		at = append(at, o.at.Sub(t0))
	}
	slices.Sort(at)
	// Never early (that would be a 429); late only by scheduling on a loaded machine, which
	// half a window bounds without making the test depend on the machine's speed: a grant in
	// the wrong window is still caught.
	slack := w / 2
	for i, d := range at {
		want := time.Duration(i/5) * w
		if d < want || d > want+slack {
			t.Errorf("grant %d at +%v, want +%v (+%v slack)", i, d, want, slack)
		}
	}
	t.Logf("grants at %v", at)
	st := bucketStats(l, testKey, fiber.EndpointPoll)
	if st.Grants != 12 || st.Queued != 7 {
		t.Errorf("stats = %+v", st)
	}
}
