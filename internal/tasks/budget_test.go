package tasks

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// TestPollBudgetUnderLoad runs 20 concurrent 500-person tasks, each finishing faster than a
// page per second, through a scaled poll limit that the simulator enforces too: no poll may
// be refused, and the pacer must fetch close to full pages.
func TestPollBudgetUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	synctest.Test(t, func(t *testing.T) {
		pollLimit := budget.Limit{N: 20, Per: time.Second}
		e := newEnv(t, fiberfake.Config{
			Seed: 11, PeoplePerSecond: 150,
			Limits: fiberfake.Limits{Poll: fiberfake.Rate{N: pollLimit.N, Per: pollLimit.Per}},
		})
		limiter, err := budget.New(budget.Config{Limits: budget.Limits{Poll: pollLimit}})
		if err != nil {
			t.Fatal(err)
		}
		e.stop()
		e.client2 = fiber.NewRetrier(e.client, fiber.RetryConfig{Limiter: limiter})
		e.startEngine(Policy{})

		ids := make([]string, 20)
		for i := range ids {
			ids[i] = e.start(500)
		}
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.waitFinished(id)
			}()
		}
		wg.Wait()

		stats := e.sim.Stats().Endpoints[fiberfake.EndpointPoll]
		perPoll := float64(20*500) / float64(stats.Calls)
		t.Logf("20 × 500 results in %d polls: %.1f results per poll; 429s at the simulator: %d", stats.Calls, perPoll, stats.RateLimited)
		if stats.RateLimited != 0 {
			t.Errorf("the simulator refused %d polls", stats.RateLimited)
		}
		if perPoll < 90 {
			t.Errorf("%.1f results per poll, want at least 90", perPoll)
		}
	})
}
