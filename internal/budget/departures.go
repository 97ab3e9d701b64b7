package budget

import "time"

// departures is the log of a bucket's most recent departures, at most max of them, oldest
// first. A departure is first logged when its slot is granted; when the caller later reports
// (Limiter.Sent) that the request was written, the oldest unconfirmed entry moves to that time.
// Entries only ever move later, so the log never understates how recent a departure was. It is
// a ring buffer that grows on demand up to max, so that a bucket with a large limit but little
// traffic stays small. It is not safe for concurrent use.
type departures struct {
	buf         []departure
	head        int // index in buf of the oldest entry
	n           int // entries in use
	max         int // the limit's N: older departures no longer matter
	unconfirmed int // entries not yet confirmed by sent
}

// departure is one logged departure.
type departure struct {
	at        time.Time
	confirmed bool // at is when the request was written, not when its slot was granted
}

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

// push logs an unconfirmed departure at t, which is not before the last one, dropping the
// oldest entry when max are kept.
func (d *departures) push(t time.Time) {
	d.insert(departure{at: t})
}

// sent confirms that a request was written at t: the oldest unconfirmed entry after cutoff
// (one window before t: older grants cannot be the request's own) moves to t; it never moves
// earlier. Entries of the same bucket are interchangeable, so moving another request's entry
// instead of the writer's own only makes the log later, never earlier. When there is no such
// entry (the request's own was pushed out), t is logged as a new confirmed departure.
func (d *departures) sent(t, cutoff time.Time) {
	i := 0
	if d.unconfirmed > 0 {
		for ; i < d.n; i++ {
			if e := d.ref(i); !e.confirmed && e.at.After(cutoff) {
				break
			}
		}
	} else {
		i = d.n
	}
	if i == d.n {
		d.insert(departure{at: t, confirmed: true})
		return
	}
	e := d.ref(i)
	d.unconfirmed--
	if t.Before(e.at) {
		t = e.at
	}
	*e = departure{at: t, confirmed: true}
	// Keep the log in order: move the entry past those that are now earlier.
	for ; i+1 < d.n && d.at(i+1).Before(t); i++ {
		*d.ref(i), *d.ref(i + 1) = *d.ref(i + 1), *d.ref(i)
	}
}

// insert adds e at its place in time order, dropping the oldest entry when max are kept (and
// e itself when it would be the oldest).
func (d *departures) insert(e departure) {
	if d.n == d.max {
		if d.n > 0 && e.at.Before(d.at(0)) {
			return
		}
		d.drop()
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
	if !e.confirmed {
		d.unconfirmed++
	}
}

// drop removes the oldest entry.
func (d *departures) drop() {
	if !d.ref(0).confirmed {
		d.unconfirmed--
	}
	d.head = (d.head + 1) % len(d.buf)
	d.n--
}

// giveBack deletes the entry of a grant at t that was not used: the unconfirmed entry at
// exactly t, or when another request's Sent confirmed it, the oldest unconfirmed entry (the
// later ones stay: the log must not understate). With no unconfirmed entry left, nothing is
// deleted.
func (d *departures) giveBack(t time.Time) {
	idx := -1
	for i := d.n - 1; i >= 0; i-- {
		e := d.ref(i)
		if e.confirmed {
			continue
		}
		idx = i
		if e.at.Equal(t) {
			break
		}
	}
	if idx < 0 {
		return
	}
	for j := idx; j < d.n-1; j++ {
		*d.ref(j) = *d.ref(j + 1)
	}
	d.n--
	d.unconfirmed--
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
