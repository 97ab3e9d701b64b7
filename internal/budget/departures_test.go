package budget

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestDeparturesModel drives the ring buffer with random operations and compares it with a
// plain sorted slice that keeps the newest max entries.
func TestDeparturesModel(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 3))
		maxN := 1 + rng.IntN(12)
		d := departures{max: maxN}
		var model []departure
		trim := func() {
			slices.SortStableFunc(model, func(a, b departure) int { return a.at.Compare(b.at) })
			if len(model) > maxN {
				model = model[len(model)-maxN:]
			}
		}
		t0 := time.Unix(1000, 0)
		now := t0
		for step := range 400 {
			now = now.Add(time.Duration(rng.IntN(50)) * time.Millisecond)
			switch op := rng.IntN(10); {
			case op < 5:
				d.push(now)
				model = append(model, departure{at: now})
				trim()
			case op < 8:
				cutoff := now.Add(-300 * time.Millisecond)
				d.sent(now, cutoff)
				i := slices.IndexFunc(model, func(e departure) bool { return !e.confirmed && e.at.After(cutoff) })
				if i < 0 {
					model = append(model, departure{at: now, confirmed: true})
				} else {
					model[i] = departure{at: now, confirmed: true}
				}
				trim()
			default:
				if len(model) == 0 {
					continue
				}
				victim := model[rng.IntN(len(model))].at
				d.giveBack(victim)
				i := -1
				for j := len(model) - 1; j >= 0; j-- {
					if model[j].confirmed {
						continue
					}
					i = j
					if model[j].at.Equal(victim) {
						break
					}
				}
				if i >= 0 {
					model = slices.Delete(model, i, i+1)
				}
			}
			var got []departure
			unconfirmed := 0
			for i := range d.len() {
				got = append(got, *d.ref(i))
				if !d.ref(i).confirmed {
					unconfirmed++
				}
			}
			// Entries at the same instant may sit in either order.
			sorted := func(es []departure) []departure {
				out := slices.Clone(es)
				slices.SortStableFunc(out, func(a, b departure) int {
					if c := a.at.Compare(b.at); c != 0 {
						return c
					}
					if a.confirmed == b.confirmed {
						return 0
					}
					if a.confirmed {
						return 1
					}
					return -1
				})
				return out
			}
			if !slices.Equal(sorted(got), sorted(model)) || unconfirmed != d.unconfirmed {
				t.Fatalf("seed %d step %d: log %v (unconfirmed %d), want %v", seed, step, got, d.unconfirmed, model)
			}
			if !slices.IsSortedFunc(got, func(a, b departure) int { return a.at.Compare(b.at) }) {
				t.Fatalf("seed %d step %d: log out of order: %v", seed, step, got)
			}
			if cut := now.Add(-time.Second); d.since(cut) != len(got)-slices.IndexFunc(append(got, departure{at: now.Add(time.Hour)}), func(e departure) bool { return e.at.After(cut) }) {
				t.Fatalf("seed %d step %d: since miscounts", seed, step)
			}
		}
	}
}
