package fiberfake_test

import (
	"fmt"
	"math"
	"regexp"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestTaskIDsDifferBetweenSimulators builds two simulators from one Config, as
// two runs of a server on one store do, and starts the same batches on both:
// no task id may repeat, with or without a seed. The seed still decides the
// people's data.
func TestTaskIDsDifferBetweenSimulators(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  fiberfake.Config
	}{
		{"default config", fiberfake.Config{}},
		{"same seed", fiberfake.Config{Seed: 42, NoDataRate: 0.3, FailRate: 0.2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt.cfg.PeoplePerSecond = math.Inf(1)
				seen := map[string]string{} // task id -> which simulator and task
				var pages [2][]any
				for run := range 2 {
					e := newEnv(t, tt.cfg)
					for i, prefix := range []string{"first", "second"} {
						id := e.start(profiles(prefix, 5)...)
						if !uuidPattern.MatchString(id) {
							t.Errorf("simulator %d, task %d: id %q, want a lower-case UUID", run+1, i+1, id)
						}
						where := fmt.Sprintf("simulator %d's %s task", run+1, prefix)
						if other, ok := seen[id]; ok {
							t.Errorf("%s got id %s, as the %s did", where, id, other)
						}
						seen[id] = where
						if i == 0 {
							pages[run] = list(t, e.poll(id, nil, 0), "pageResults")
						}
					}
				}
				if d := cmp.Diff(pages[0], pages[1]); d != "" {
					t.Errorf("same config, same people, different results (-simulator 1 +simulator 2):\n%s", d)
				}
			})
		})
	}
}
