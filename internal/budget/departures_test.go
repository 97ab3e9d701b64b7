package budget

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestDeparturesModel drives the ring buffer with random operations (grants, Sent and Done
// reports, grants given back) and compares it, and its gate times, with a plain sorted slice
// that keeps the newest max entries, in-flight entries counting as the newest.
func TestDeparturesModel(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 3))
		maxN := 1 + rng.IntN(12)
		d := departures{max: maxN}
		var model []departure
		trim := func() {
			slices.SortStableFunc(model, func(a, b departure) int { return a.at.Compare(b.at) })
			// Drop the oldest entries that are not in flight (or the oldest, when all are).
			for len(model) > maxN {
				i := max(slices.IndexFunc(model, func(e departure) bool { return e.state != inFlight }), 0)
				model = slices.Delete(model, i, i+1)
			}
		}
		t0 := time.Unix(1000, 0)
		now := t0
		for step := range 600 {
			now = now.Add(time.Duration(rng.IntN(50)) * time.Millisecond)
			switch op := rng.IntN(10); {
			case op < 5:
				d.push(now)
				model = append(model, departure{at: now, state: granted})
				trim()
			case op < 7:
				cutoff := now.Add(-300 * time.Millisecond)
				d.sent(now, cutoff)
				settleModel(&model, now, inFlight, func(e departure) bool { return e.state == granted && e.at.After(cutoff) })
				trim()
			case op < 9:
				cutoff := now.Add(-300 * time.Millisecond)
				d.done(now, cutoff)
				if slices.ContainsFunc(model, func(e departure) bool { return e.state == inFlight }) {
					settleModel(&model, now, answered, func(e departure) bool { return e.state == inFlight })
				} else {
					settleModel(&model, now, answered, func(e departure) bool { return e.state == granted && e.at.After(cutoff) })
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
					if model[j].state != granted {
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
			counts := map[depState]int{}
			for i := range d.len() {
				got = append(got, *d.ref(i))
				counts[d.ref(i).state]++
			}
			// Entries at the same instant may sit in either order.
			sorted := func(es []departure) []departure {
				out := slices.Clone(es)
				slices.SortStableFunc(out, func(a, b departure) int {
					if c := a.at.Compare(b.at); c != 0 {
						return c
					}
					return int(a.state) - int(b.state)
				})
				return out
			}
			if !slices.Equal(sorted(got), sorted(model)) || counts[granted] != d.granted || counts[inFlight] != d.inFlight {
				t.Fatalf("seed %d step %d: log %v (granted %d, in flight %d), want %v", seed, step, got, d.granted, d.inFlight, model)
			}
			// gate: the settled entries in order, then every in-flight one at now.
			var eff []time.Time
			for _, e := range model {
				if e.state != inFlight {
					eff = append(eff, e.at)
				}
			}
			for range len(model) - len(eff) {
				eff = append(eff, now)
			}
			for k, want := range eff {
				if g := d.gate(k, now).at; !g.Equal(want) {
					t.Fatalf("seed %d step %d: gate(%d) = %v, want %v (log %v)", seed, step, k, g, want, got)
				}
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

// settleModel is departures.settle on a plain slice: the first entry that match accepts moves
// to state s at t (never earlier), or an entry is appended.
func settleModel(model *[]departure, t time.Time, s depState, match func(departure) bool) {
	i := slices.IndexFunc(*model, match)
	if i < 0 {
		*model = append(*model, departure{at: t, state: s})
		return
	}
	if t.Before((*model)[i].at) {
		t = (*model)[i].at
	}
	(*model)[i] = departure{at: t, state: s}
}

// BenchmarkAttempt measures what one attempt costs a bucket, as fiber.Retrier drives it through
// the Limiter: Wait's grant of a free slot, then the Sent and Done reports. Time is passed in:
// it stands still during an attempt (the answer comes at once) and moves between attempts, so
// that a slot is always free. The Limiter adds its mutex, a map lookup and time.Now to each of
// the three calls (BenchmarkWaitFree measures them for Wait).
//
//   - uncontended: Fiber's poll limit, 240/min, used at a tenth of its pace. The slot is
//     always free; the log still keeps its last 240 departures, most of them out of the window.
//   - log-full: the same limit used at exactly its pace: all 240 departures of the log are in
//     the window, and each attempt takes the slot that has just freed up.
//   - log-full-10000: log-full with a limit of 10000/min. Sent and Done look for the entry to
//     move from the oldest one (departures.settle), so this shows how the cost grows with the
//     length of the log, which both cases above keep at 240 entries.
func BenchmarkAttempt(b *testing.B) {
	for _, bc := range []struct {
		name string
		lim  Limit
		pace int // time moves pace slot intervals ((Per+margin)/N) between attempts
	}{
		{"uncontended", Limit{N: 240, Per: time.Minute}, 10},
		{"log-full", Limit{N: 240, Per: time.Minute}, 1},
		{"log-full-10000", Limit{N: 10000, Per: time.Minute}, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			window := bc.lim.Per + DefaultMargin(bc.lim)
			bk := &bucket{limit: bc.lim, window: window, log: departures{max: bc.lim.N}}
			// A slot interval is the window over N, rounded up.
			step := time.Duration(bc.pace) * (window/time.Duration(bc.lim.N) + 1)
			now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			attempt := func() {
				now = now.Add(step)
				if !bk.grantFree(now) {
					b.Fatalf("no free slot at %v", now)
				}
				bk.log.sent(now, now.Add(-window)) // as Limiter.Sent
				bk.log.done(now, now.Add(-window)) // as Limiter.Done
			}
			for range bc.lim.N { // fill the log
				attempt()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				attempt()
			}
			b.StopTimer()
			// Departures step apart: those less than a window old are in it.
			if want := min(bc.lim.N, int((window+step-1)/step)); bk.log.since(now.Add(-window)) != want {
				b.Errorf("%d departures in the window, want %d", bk.log.since(now.Add(-window)), want)
			}
			if bk.log.granted != 0 || bk.log.inFlight != 0 {
				b.Errorf("log has %d granted and %d in-flight entries, want every attempt answered", bk.log.granted, bk.log.inFlight)
			}
		})
	}
}
