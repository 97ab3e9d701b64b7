package budget

import "time"

// departures is the log of a bucket's most recent departures, at most max of them, in time
// order. Each entry bounds when one request reached Fiber:
//
//   - granted: logged when Wait granted the slot. The request arrives later than that, so the
//     time is only a lower bound of its arrival; the margin must cover the rest.
//   - inFlight: the caller reported (Limiter.Sent) that the request was written at that time
//     and its answer has not come. Its arrival is unknown: it may be any moment from now on.
//   - answered: the caller reported (Limiter.Done) that the answer began to arrive, or the
//     attempt ended, at that time. Fiber counted the request before it answered, so the time
//     is an upper bound of its arrival.
//
// Entries of one bucket are interchangeable: a report moves the oldest entry it may move, not
// necessarily the reporter's own. Entries only ever move later, and an in-flight entry counts as
// later than every other (see gate), so the log never understates how recent a departure was.
// It is a ring buffer that grows on demand up to max, so that a bucket with a large limit but
// little traffic stays small. It is not safe for concurrent use.
type departures struct {
	buf      []departure
	head     int // index in buf of the oldest entry
	n        int // entries in use
	max      int // the limit's N: older departures no longer matter
	granted  int // entries in state granted
	inFlight int // entries in state inFlight
}

// departure is one logged departure.
type departure struct {
	at    time.Time
	state depState
}

// depState is what a departure's time tells about the request's arrival at Fiber.
type depState uint8

const (
	granted  depState = iota // at is when the slot was granted: arrival is later
	inFlight                 // at is when the request was written; its answer has not come
	answered                 // at is when the answer came (or the attempt ended): arrival was earlier
)

// len returns the number of departures kept.
func (d *departures) len() int { return d.n }

// ref returns the i-th oldest entry, 0 <= i < len.
func (d *departures) ref(i int) *departure { return &d.buf[(d.head+i)%len(d.buf)] }

// at returns the time of the i-th oldest departure, 0 <= i < len.
func (d *departures) at(i int) time.Time { return d.ref(i).at }

// last returns the most recent departure, or the zero time when there is none.
func (d *departures) last() time.Time {
	if d.n == 0 {
		return time.Time{}
	}
	return d.at(d.n - 1)
}

// gate returns the k-th oldest departure, 0 <= k < len, with every in-flight entry counted as
// happening at now, after all the others: its request may reach Fiber at any moment, so a slot
// it gates cannot be placed before its answer comes.
func (d *departures) gate(k int, now time.Time) departure {
	if d.inFlight == 0 {
		return *d.ref(k)
	}
	if k < d.n-d.inFlight {
		for i := range d.n {
			if e := d.ref(i); e.state != inFlight {
				if k == 0 {
					return *e
				}
				k--
			}
		}
	}
	return departure{at: now, state: inFlight}
}

// push logs a departure granted at t, which is not before the last one, dropping the oldest
// entry when max are kept.
func (d *departures) push(t time.Time) {
	d.insert(departure{at: t, state: granted})
}

// sent reports that a request was written at t: the oldest granted entry after cutoff (one
// window before t: older grants cannot be the request's own) becomes in flight at t, or at its
// own time when that is later. When there is no such entry (the request's own was pushed out,
// or taken by another report), an in-flight entry at t is added.
func (d *departures) sent(t, cutoff time.Time) {
	d.settle(d.oldest(granted, cutoff), t, inFlight)
}

// done reports that the answer to a request began to arrive at t, or that its attempt ended
// then: the oldest in-flight entry becomes answered at t (or at its own time when that is
// later); when none is in flight, the oldest granted entry after cutoff does; when there is
// neither, an answered entry at t is added. In-flight entries are taken whatever their age, so
// that every Sent followed by its Done leaves nothing in flight.
func (d *departures) done(t, cutoff time.Time) {
	if d.inFlight > 0 {
		d.settle(d.oldest(inFlight, time.Time{}), t, answered)
		return
	}
	d.settle(d.oldest(granted, cutoff), t, answered)
}

// oldest returns the index of the oldest entry in state s after cutoff, or -1. It scans from
// the newest entry and stops once it has seen every entry in state s (they are few, and
// recent: requests between their grant and their answer), so a report costs little however
// long the log.
func (d *departures) oldest(s depState, cutoff time.Time) int {
	left := d.granted
	if s == inFlight {
		left = d.inFlight
	}
	idx := -1
	for i := d.n - 1; i >= 0 && left > 0; i-- {
		e := d.ref(i)
		if e.state != s {
			continue
		}
		left--
		if !e.at.After(cutoff) {
			break // the log is in time order: older entries are before the cutoff too
		}
		idx = i
	}
	return idx
}

// settle moves the entry at index i to state s at t (never earlier than it was), or adds an
// entry in state s at t when i is -1.
func (d *departures) settle(i int, t time.Time, s depState) {
	if i < 0 {
		d.insert(departure{at: t, state: s})
		return
	}
	e := d.ref(i)
	d.count(e.state, -1)
	if t.Before(e.at) {
		t = e.at
	}
	*e = departure{at: t, state: s}
	d.count(s, +1)
	// Keep the log in order: move the entry past those that are now earlier.
	for ; i+1 < d.n && d.at(i+1).Before(t); i++ {
		*d.ref(i), *d.ref(i + 1) = *d.ref(i + 1), *d.ref(i)
	}
}

// count adds delta to the counter of state s.
func (d *departures) count(s depState, delta int) {
	switch s {
	case granted:
		d.granted += delta
	case inFlight:
		d.inFlight += delta
	}
}

// insert adds e at its place in time order. When max are kept, the oldest entry that is not in
// flight (in-flight entries count as the most recent, see gate) is dropped, or e itself when it
// would be that one.
func (d *departures) insert(e departure) {
	if d.n == d.max {
		i := d.oldestSettled()
		if e.state != inFlight && (i < 0 || e.at.Before(d.at(i))) {
			return
		}
		d.remove(max(i, 0))
	}
	if d.n == len(d.buf) {
		nb := make([]departure, min(max(2*len(d.buf), 8), d.max))
		for i := range d.n {
			nb[i] = *d.ref(i)
		}
		d.buf, d.head = nb, 0
	}
	i := d.n
	d.n++
	for ; i > 0 && d.at(i-1).After(e.at); i-- {
		*d.ref(i) = *d.ref(i - 1)
	}
	*d.ref(i) = e
	d.count(e.state, +1)
}

// oldestSettled returns the index of the oldest entry that is not in flight, or -1 when all
// are.
func (d *departures) oldestSettled() int {
	for i := range d.n {
		if d.ref(i).state != inFlight {
			return i
		}
	}
	return -1
}

// remove deletes the i-th oldest entry, 0 <= i < len.
func (d *departures) remove(i int) {
	d.count(d.ref(i).state, -1)
	if i == 0 {
		d.head = (d.head + 1) % len(d.buf)
		d.n--
		return
	}
	for j := i; j < d.n-1; j++ {
		*d.ref(j) = *d.ref(j + 1)
	}
	d.n--
}

// giveBack deletes the entry of a grant at t that was not used: the granted entry at exactly t,
// or when a report took that one, the oldest granted entry (the later ones stay: the log must
// not understate). With no granted entry left, nothing is deleted.
func (d *departures) giveBack(t time.Time) {
	idx := -1
	for i := d.n - 1; i >= 0; i-- {
		e := d.ref(i)
		if e.state != granted {
			continue
		}
		idx = i
		if e.at.Equal(t) {
			break
		}
	}
	if idx >= 0 {
		d.remove(idx)
	}
}

// since counts the departures after t.
func (d *departures) since(t time.Time) int {
	lo, hi := 0, d.n // the first index whose departure is after t
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if d.at(mid).After(t) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return d.n - lo
}

// expire settles every entry in flight since ttl before now or earlier: it counts as answered
// ttl after it was sent, an upper bound of its arrival when no attempt lasts longer than ttl.
// It reports whether it changed the log. A Done that comes later then finds no entry in flight
// and settles or adds another, which only makes the log more recent than it was.
func (d *departures) expire(now time.Time, ttl time.Duration) bool {
	changed := false
	for d.inFlight > 0 {
		i := d.oldest(inFlight, time.Time{})
		at := d.at(i).Add(ttl)
		if at.After(now) {
			break
		}
		d.settle(i, at, answered)
		changed = true
	}
	return changed
}
