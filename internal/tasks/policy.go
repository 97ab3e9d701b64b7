package tasks

import (
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/storage"
)

// PageSize is what every poll asks for: Fiber's maximum take.
const PageSize = 100

// paceSlack is how many people more than it needs a poller waits for at the measured pace, so
// that a pace measured a little high, or counts rounded down, do not bring a poll a few people
// too soon: a page one person short of full costs a whole poll.
const paceSlack = 3

// Fiber's pace is the slope of a task's finished people over its answers of the last
// paceWindow (the last two, if further apart), measured once they span MinInterval. A task
// just started also counts its start as an answer with nobody finished until its answers alone
// span paceSpan, taken startLag early: Fiber is at work from the moment it takes the start,
// before fibergate has its answer and stores the task. Measured from the stored start, the pace
// comes out high (by that lag, over the time since) and brings the next poll early, a part
// page; a lag taken too long only brings it late.
const (
	paceWindow = 5 * time.Second
	paceSpan   = time.Second
	startLag   = 250 * time.Millisecond
)

// Policy tunes when pollers poll; see the package documentation. A zero (or negative) field
// takes its default. WatchedMaxInterval is at most MaxInterval, and MinInterval and FirstPoll
// are at most WatchedMaxInterval.
type Policy struct {
	// FirstPoll is the wait between starting a task and its first poll, which also gives the
	// first measure of Fiber's pace; an unwatched task whose key's pace is known waits until
	// a full page should be waiting instead, if that is longer. Default 1s.
	FirstPoll time.Duration
	// MinInterval is the shortest wait between two polls, unless the last page came back
	// full with a new cursor and another full page with a new cursor is waiting (or Fiber
	// said done): then the next one follows at once. Default 500ms.
	MinInterval time.Duration
	// MaxInterval caps the wait of a task nobody watches. Default 30s.
	MaxInterval time.Duration
	// WatchedMaxInterval caps the wait of a watched task. Default 2s.
	WatchedMaxInterval time.Duration
	// RetryMin and RetryMax bound the backoff after a failed poll or store call. Defaults 1s
	// and 1m.
	RetryMin, RetryMax time.Duration
}

func (p Policy) withDefaults() Policy {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&p.FirstPoll, time.Second)
	def(&p.MinInterval, 500*time.Millisecond)
	def(&p.MaxInterval, 30*time.Second)
	def(&p.WatchedMaxInterval, 2*time.Second)
	def(&p.RetryMin, time.Second)
	def(&p.RetryMax, time.Minute)
	p.WatchedMaxInterval = min(p.WatchedMaxInterval, p.MaxInterval)
	p.MinInterval = min(p.MinInterval, p.WatchedMaxInterval)
	p.FirstPoll = min(p.FirstPoll, p.WatchedMaxInterval)
	return p
}

// pacer decides the wait before a task's next poll from the answers to its polls. One per
// poller; not safe for concurrent use.
type pacer struct {
	policy Policy
	// shared is the pace of the task's key: read at the start, and set by every measure
	// taken while Fiber still had people of the task to finish.
	shared *keyPace
	// start is when the task was started, if it was just started (fresh); zero otherwise.
	start time.Time
	// rate is Fiber's pace in people finished per second: measured on marks, the answers of
	// the last paceWindow (see paceWindow), once they span MinInterval; until then the key's
	// pace (0 if unknown).
	rate  float64
	marks []mark // oldest first; for a task just started, its start (startLag early) first
	// startMark: marks[0] is the task's start, not an answer.
	startMark bool
	// seen is how many people were finished at the previous answer; stalls counts the
	// waited polls in a row that found nobody newly finished.
	seen   int
	stalls int
	// phantom is how many people Fiber counts as finished (numCompleted+numFailed) but its
	// pages never showed, learned whenever a page catches up with Fiber.
	phantom int
	// full: the last page was full and moved the cursor, so the next one is waiting;
	// followed: the last wait was 0 for that reason.
	full, followed bool
	// deferred: the task's first poll waits for another task of the key to measure the
	// pace (see first).
	deferred bool
	// undercounted: an answer counted fewer people finished than results were stored, so
	// Fiber's counts do not match its pages and cannot end the task (see fetchedAll).
	undercounted bool
}

// newPacer starts a pacer for a task of the key whose pace is shared. For a task just started
// (fresh), created is the start time: Fiber's pace is then measured from the start on, taken
// startLag early (nobody was finished then). For a task resumed or adopted, what Fiber finished before the first
// answer says nothing about its pace.
func newPacer(p Policy, created time.Time, fresh bool, shared *keyPace) *pacer {
	pc := &pacer{policy: p, shared: shared, rate: shared.get()}
	if fresh {
		pc.start = created
		pc.marks, pc.startMark = []mark{{at: created.Add(-startLag)}}, true
	}
	return pc
}

// mark is what one answer said: done people finished (numCompleted+numFailed) at at.
type mark struct {
	at   time.Time
	done int
}

// first returns how long after its start a task just started is first polled. t is the task
// as stored, watched whether anybody watches it. Watched, that is FirstPoll. Unwatched, with
// the pace of the key's other tasks known, the first poll waits until a full page with a new
// cursor (or every person of the task, if fewer) should be waiting, as later polls do, within
// [FirstPoll, MaxInterval]: at FirstPoll it would fetch a part page, a poll spent for little.
// With the pace unknown, one task of the key at a time is first polled at FirstPoll, and its
// answer measures the pace; the first poll of the others started meanwhile is deferred to
// MinInterval after that, when again times it by the pace measured.
func (p *pacer) first(t storage.Task, watched bool) time.Duration {
	switch {
	case watched:
		return p.policy.FirstPoll
	case p.rate > 0:
		return p.paced(t)
	case p.shared.probe(time.Now(), p.start.Add(p.policy.FirstPoll)):
		return p.policy.FirstPoll
	}
	p.deferred = true
	return p.policy.FirstPoll + p.policy.MinInterval
}

// again is called before each poll of a task; for the first poll, deferred by first, it
// returns how much longer to wait since the task's start, by the pace another task of the
// key measured meanwhile (0: poll now). A deferred wait ended early (by a watcher, or a cancel)
// is not prolonged.
func (p *pacer) again(t storage.Task, now time.Time, watched bool) time.Duration {
	if !p.deferred {
		return 0
	}
	p.deferred = false
	if watched || now.Before(p.start.Add(p.policy.FirstPoll+p.policy.MinInterval)) {
		return 0
	}
	p.rate = p.shared.get()
	if p.rate == 0 {
		return 0 // not measured: this poll measures it
	}
	return p.paced(t) - now.Sub(p.start)
}

// paced returns how long after its start a task just started should first be polled at the
// pace p.rate (see first).
func (p *pacer) paced(t storage.Task) time.Duration {
	need := PageSize + 1
	if r := t.Stats.NumRemaining; r > 0 && r < need {
		need = r
	}
	wait := time.Duration(float64(need+paceSlack) / p.rate * float64(time.Second))
	return clamp(wait, p.policy.FirstPoll, p.policy.MaxInterval)
}

// kickBy returns when a wait that began after a poll sent at lastPoll (for the first poll:
// at the task's creation) ends if the task gains a watcher meanwhile: WatchedMaxInterval
// after lastPoll, or for a task just started and not polled yet, FirstPoll after its start,
// the first poll of a task watched from the start.
func (p *pacer) kickBy(lastPoll time.Time) time.Time {
	if !p.start.IsZero() && lastPoll.Equal(p.start) {
		return p.start.Add(p.policy.FirstPoll)
	}
	return lastPoll.Add(p.policy.WatchedMaxInterval)
}

// observe records the answer to a poll sent at time at: t is the task once the answer was
// stored, page how many results the page held (including ones stored before), moved whether
// its nextCursor moved the task's cursor.
func (p *pacer) observe(at time.Time, t storage.Task, page int, moved bool) {
	done := t.Stats.NumCompleted + t.Stats.NumFailed
	if done < t.NumResults {
		p.undercounted = true
	}
	if page < PageSize || !moved { // caught up: every finished person Fiber shows is stored
		p.phantom = max(0, done-t.NumResults)
	}
	switch {
	case done > p.seen:
		p.stalls = 0
	case len(p.marks) > 0 && !p.followed: // not the first answer to a resumed or adopted task
		p.stalls++ // waited, and nothing changed
	}
	p.seen = done
	p.full = page >= PageSize && moved
	p.measure(mark{at: at, done: done}, t.Stats.NumRemaining > 0)
}

// measure adds m to the marks and measures the pace on them (see paceWindow). working says
// Fiber had people of the task left to finish at m: then the measure is also the key's pace
// for its other tasks. Marks count the people Fiber counts but never pages (see phantom) too:
// as many of them in every mark change no slope, and more of them over time make the pace
// come out high, which only brings polls a little early.
func (p *pacer) measure(m mark, working bool) {
	p.marks = append(p.marks, m)
	if p.startMark && m.at.Sub(p.marks[1].at) >= paceSpan {
		p.marks, p.startMark = p.marks[1:], false
	}
	for !p.startMark && len(p.marks) > 2 && m.at.Sub(p.marks[0].at) > paceWindow {
		p.marks = p.marks[1:]
	}
	oldest := p.marks[0]
	span := m.at.Sub(oldest.at)
	if m.done <= oldest.done || span < p.policy.MinInterval {
		return // nothing to measure: the pace stays as it was
	}
	p.rate = float64(m.done-oldest.done) / span.Seconds()
	if working {
		p.shared.set(p.rate)
	}
}

// countsTrusted reports whether Fiber's counts have matched its pages so far: no answer this
// pacer observed counted fewer people finished than results were stored.
func (p *pacer) countsTrusted() bool {
	return !p.undercounted
}

// fetchedAll reports whether an answer proves by its own counts that, once its page is
// stored, stored results are every result the task will have: Fiber said done, the task was
// not cancelled (cancelled people may stay in numRemaining), nobody remains, and every person
// of the task is counted completed or failed and stored, since Fiber pages each of them once,
// failed ones with null outputs (rejected people and duplicates are never queued, so neither
// counted nor paged). Counts that are missing, or that disagree with the pages (people counted
// that its pages never show), fail the test: the task is then polled until a page comes back
// short, as without counts.
func fetchedAll(resp *fiber.PollResponse, stored int) bool {
	s := resp.Stats
	return resp.Done && !resp.Canceled && s.NumRemaining == 0 &&
		s.TotalPeopleToFetch == stored && s.NumCompleted+s.NumFailed == stored
}

// next returns how long to wait after the poll last observed. t is the task after the poll;
// watched says whether anybody watches it.
//
// A full page that moved the cursor is followed at once when another full page with a new
// cursor is waiting by Fiber's stats (more than PageSize finished people not stored yet: with
// exactly PageSize, the page would reach the last of them, and a caught-up page may carry a
// null cursor, which the next poll pays for), or when Fiber said done (this is how the last
// pages are drained: the task stays running only while they come back full, and the counts
// did not prove it finished). After a full page with fewer waiting, following at once would
// fetch a part page: the wait is timed like any other.
// Otherwise the wait is at least MinInterval: a page pays off when it comes back full with a
// new cursor, which needs PageSize+1 results beyond the cursor. Skip of those are already
// stored and pending (finished people not stored yet, phantom ones aside) are waiting, so the
// poller waits until need = PageSize+1-skip-pending more people are finished, or until the
// task should be done if sooner, and paceSlack more, at the measured pace: a poll that comes a
// few people too soon costs a whole poll more. So does a watched task, within its lower cap:
// when Fiber finishes a page within WatchedMaxInterval, waiting for it costs its watchers only
// the slack; when Fiber is slower, the cap brings part pages, fresher results for more polls.
// Each waited poll in a row that found nothing newly finished doubles the wait, up to the cap.
func (p *pacer) next(t storage.Task, watched bool) time.Duration {
	pending := max(0, t.Stats.NumCompleted+t.Stats.NumFailed-t.NumResults-p.phantom)
	if p.full && (pending > PageSize || t.Progress.FiberDone) {
		p.followed = true
		return 0
	}
	p.followed = false
	ceiling := p.policy.MaxInterval
	if watched {
		ceiling = p.policy.WatchedMaxInterval
	}
	need := PageSize + 1 - t.Progress.Skip - pending
	if r := t.Stats.NumRemaining; r > 0 && r < need {
		need = r
	}
	wait := p.policy.MinInterval
	if p.rate > 0 && need > 0 {
		wait = max(wait, time.Duration(float64(need+paceSlack)/p.rate*float64(time.Second)))
	}
	for i := 0; i < p.stalls && wait < ceiling; i++ {
		wait *= 2
	}
	return clamp(wait, p.policy.MinInterval, ceiling)
}

// backoff returns the wait after the n-th consecutive failure (n ≥ 1) of a poll or a store
// call.
func (p Policy) backoff(n int) time.Duration {
	d := p.RetryMin
	for i := 1; i < n && d < p.RetryMax; i++ {
		d *= 2
	}
	return min(d, p.RetryMax)
}

func clamp(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}
