package fiberfake

import (
	"maps"
	"net/http"
	"slices"
	"time"
)

// EndpointStats counts the calls of one endpoint.
type EndpointStats struct {
	// Calls counts every arrival, whatever its method or fate.
	Calls int `json:"calls"`
	// OK counts answers with a 2xx status, including broken bodies.
	OK int `json:"ok"`
	// RateLimited counts 429 answers, from the limiter or from a fault.
	RateLimited int `json:"rateLimited"`
	// Faulted counts calls that met an injected fault of any kind.
	Faulted int `json:"faulted"`
	// Dropped counts calls whose connection was closed without an answer.
	Dropped int `json:"dropped"`
	// Statuses counts answers by status code.
	Statuses map[int]int `json:"statuses"`
}

// Stats is a snapshot of the simulator's counters.
type Stats struct {
	Endpoints    map[Endpoint]EndpointStats `json:"endpoints"`
	TasksStarted int                        `json:"tasksStarted"`
	// CreditsCharged is what the ledger charged for every start so far, all keys together
	// (refunds are not taken off).
	CreditsCharged float64 `json:"creditsCharged"`
}

// TaskInfo describes a started task, as seen at the time of the call.
type TaskInfo struct {
	ID              string
	APIKey          string
	People          int // unique accepted people (numPeopleEnqueued)
	Rejected        int
	Duplicates      int
	CreditsCharged  float64
	CreditsRefunded float64 // by cancel, or for people without data so far
	StartedAt       time.Time
	Completed       int // people completed (found, no data or failed)
	Done            bool
	Canceled        bool
}

// PollRecord is one poll of a task that the simulator answered with a page.
type PollRecord struct {
	// At is when the poll arrived.
	At time.Time `json:"at"`
	// Cursor is the cursor the request brought; empty when it had none.
	Cursor string `json:"cursor,omitempty"`
	// NextCursor is the nextCursor of the answer; nil for null.
	NextCursor *string `json:"nextCursor"`
	// Results is how many results the page held.
	Results int `json:"results"`
}

// TaskPolls is one task's poll log, as GET /_sim/polls serves it.
type TaskPolls struct {
	TaskID    string       `json:"taskId"`
	People    int          `json:"people"` // unique accepted people
	StartedAt time.Time    `json:"startedAt"`
	Polls     []PollRecord `json:"polls"` // as Polls returns them; never null
}

// Polls returns the polls of task taskID answered with a page so far, in
// arrival order. A poll refused before its page was built (bad key, rate
// limit, bad field or cursor, an injected fault in place of the answer) is not
// there; one whose answer a fault broke or dropped afterwards is.
func (s *Sim) Polls(taskID string) []PollRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.polls[taskID])
}

// PollLog returns the poll log of every task started so far, in start order.
func (s *Sim) PollLog() []TaskPolls {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TaskPolls, 0, len(s.order))
	for _, t := range s.order {
		polls := slices.Clone(s.polls[t.id])
		if polls == nil {
			polls = []PollRecord{}
		}
		out = append(out, TaskPolls{TaskID: t.id, People: len(t.people), StartedAt: t.startedAt, Polls: polls})
	}
	return out
}

// arrive counts an arrival at ep.
func (s *Sim) arrive(ep Endpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats[ep].Calls++
}

// record counts an answer (status 0: dropped) and whether a fault caused it.
func (s *Sim) record(ep Endpoint, status int, kind FaultKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats[ep]
	if kind != "" {
		st.Faulted++
	}
	switch {
	case status == 0:
		st.Dropped++
		return
	case status >= 200 && status < 300:
		st.OK++
	case status == http.StatusTooManyRequests:
		st.RateLimited++
	}
	st.Statuses[status]++
}

// Calls returns how many calls have arrived at ep so far, whatever their
// method or fate.
func (s *Sim) Calls(ep Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stats[ep]; ok {
		return st.Calls
	}
	return 0
}

// Stats returns a snapshot of every counter.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Endpoints: make(map[Endpoint]EndpointStats, len(s.stats)), TasksStarted: len(s.order)}
	for _, t := range s.order {
		out.CreditsCharged += t.charged
	}
	for ep, st := range s.stats {
		c := *st
		c.Statuses = maps.Clone(st.Statuses)
		out.Endpoints[ep] = c
	}
	return out
}

// StartedTasks returns every task started so far, in start order, as seen
// now. A start whose answer was dropped or broken by a fault is here too.
func (s *Sim) StartedTasks() []TaskInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	out := make([]TaskInfo, 0, len(s.order))
	for _, t := range s.order {
		s.settleTask(t, now)
		c := t.completed(now, s.cfg.PeoplePerSecond)
		out = append(out, TaskInfo{
			ID:              t.id,
			APIKey:          t.apiKey,
			People:          len(t.people),
			Rejected:        t.rejected,
			Duplicates:      t.duplicates,
			CreditsCharged:  t.charged,
			CreditsRefunded: t.refunded,
			StartedAt:       t.startedAt,
			Completed:       c,
			Done:            t.done(c),
			Canceled:        t.canceled,
		})
	}
	return out
}
