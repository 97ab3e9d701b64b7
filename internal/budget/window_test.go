package budget

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// TestWindowRoundTrip: a window decodes to what was encoded, entries, states, pause and
// streak, over random logs.
func TestWindowRoundTrip(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 5))
		lim := Limit{N: 1 + rng.IntN(40), Per: time.Second}
		b := &bucket{limit: lim, window: lim.Per, log: departures{max: lim.N}}
		now := time.Unix(1_700_000_000, rng.Int64N(1e9))
		for range rng.IntN(100) {
			now = now.Add(time.Duration(rng.IntN(int(50 * time.Millisecond))))
			switch rng.IntN(3) {
			case 0:
				b.log.push(now)
			case 1:
				b.log.sent(now, now.Add(-b.window))
			default:
				b.log.done(now, now.Add(-b.window))
			}
		}
		if rng.IntN(2) == 0 {
			b.streak = rng.IntN(5)
			b.pausedUntil = now.Add(time.Duration(rng.IntN(1e9)))
		}
		format := byte(windowFormat1)
		if rng.IntN(2) == 0 {
			b.claim = urgentClaim{until: now.Add(time.Duration(rng.IntN(1e9))), by: rng.Uint64()}
			format = windowFormat2
		}
		data := b.marshalWindow()
		if data[0] != format {
			t.Fatalf("seed %d: format %d, want %d (claim %+v)", seed, data[0], format, b.claim)
		}
		got := b.fresh()
		if err := got.unmarshalWindow(data); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !got.pausedUntil.Equal(b.pausedUntil) || got.streak != b.streak || got.log.len() != b.log.len() ||
			!got.claim.until.Equal(b.claim.until) || got.claim.by != b.claim.by ||
			got.log.granted != b.log.granted || got.log.inFlight != b.log.inFlight {
			t.Fatalf("seed %d: decoded %+v, want %+v", seed, got, b)
		}
		for i := range b.log.len() {
			if e, g := *b.log.ref(i), *got.log.ref(i); !e.at.Equal(g.at) || e.state != g.state {
				t.Fatalf("seed %d: entry %d = %+v, want %+v", seed, i, g, e)
			}
		}
	}
}

// TestWindowDecodeErrors: nothing is an empty window; a truncated, padded or newer record is
// refused.
func TestWindowDecodeErrors(t *testing.T) {
	lim := Limit{N: 3, Per: time.Second}
	b := &bucket{limit: lim, window: lim.Per, log: departures{max: lim.N}}
	now := time.Unix(1_700_000_000, 0)
	b.log.push(now)
	b.log.push(now.Add(time.Millisecond))
	data := b.marshalWindow()
	if err := b.fresh().unmarshalWindow(nil); err != nil {
		t.Errorf("no record: %v", err)
	}
	for name, bad := range map[string][]byte{
		"truncated": data[:len(data)-1],
		"padded":    append(append([]byte{}, data...), 0),
	} {
		if err := b.fresh().unmarshalWindow(bad); !errors.Is(err, errCorruptWindow) {
			t.Errorf("%s: %v, want errCorruptWindow", name, err)
		}
	}
	if err := b.fresh().unmarshalWindow(append([]byte{windowFormat + 1}, data[1:]...)); err == nil {
		t.Error("a newer format decoded")
	}
	// With a claim, format 2; truncated or padded it is refused too, and a format 2 record
	// without a claim is not one fibergate writes.
	b.claim = urgentClaim{until: now.Add(time.Second), by: 7}
	claimed := b.marshalWindow()
	for name, bad := range map[string][]byte{
		"truncated claimed":  claimed[:len(claimed)-1],
		"padded claimed":     append(append([]byte{}, claimed...), 0),
		"format 2, no claim": append([]byte{windowFormat2}, append([]byte{data[1], data[2], 0, 0}, data[3:]...)...),
	} {
		if err := b.fresh().unmarshalWindow(bad); !errors.Is(err, errCorruptWindow) {
			t.Errorf("%s: %v, want errCorruptWindow", name, err)
		}
	}
	// A log longer than the limit keeps the newest entries.
	small := &bucket{limit: Limit{N: 1, Per: time.Second}, log: departures{max: 1}}
	if err := small.unmarshalWindow(data); err != nil || small.log.len() != 1 || !small.log.at(0).Equal(now.Add(time.Millisecond)) {
		t.Errorf("decoded into N=1: %v, %d entries", err, small.log.len())
	}
}

// TestExpire: entries in flight for ttl count as answered ttl after they were sent; the others
// stay as they are.
func TestExpire(t *testing.T) {
	d := departures{max: 4}
	t0 := time.Unix(1000, 0)
	d.push(t0)
	d.push(t0.Add(time.Second))
	d.sent(t0, t0.Add(-time.Minute))                    // the first is in flight from t0
	d.sent(t0.Add(2*time.Second), t0.Add(-time.Minute)) // the second from t0+2s
	if d.expire(t0.Add(4*time.Second), 5*time.Second) {
		t.Fatal("expired before its time")
	}
	if !d.expire(t0.Add(6*time.Second), 5*time.Second) || d.inFlight != 1 {
		t.Fatalf("after 6s: %d in flight, want 1", d.inFlight)
	}
	if e := d.gate(0, t0.Add(6*time.Second)); e.state != answered || !e.at.Equal(t0.Add(5*time.Second)) {
		t.Errorf("expired entry = %+v, want answered at t0+5s", e)
	}
}
