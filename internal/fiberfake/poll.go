package fiberfake

import (
	"net/http"
)

// Poll page sizes.
const (
	defaultTake = 100
	maxTake     = 100
)

// poll handles POST /v1/contact-details/batch/poll. Checks run in this order:
// body is a JSON object (400), apiKey (401), rate limit (429), fields (400),
// task exists and belongs to the key (404), cursor belongs to the task (400).
// Polling is free.
func (s *Sim) poll(body []byte) (reply, *reqError) {
	var warns []apiWarning
	top, key, now, err := s.open(body, EndpointPoll, &warns, "apiKey", "taskId", "cursor", "take")
	if err != nil {
		return reply{}, err
	}
	taskID, err := requiredTaskID(top)
	if err != nil {
		return reply{}, err
	}
	cursor, _, err := top.str("cursor")
	if err != nil {
		return reply{}, err
	}
	take, ok, err := top.integer("take")
	if err != nil {
		return reply{}, err
	}
	if !ok {
		take = defaultTake
	}
	if take < 1 || take > maxTake {
		return reply{}, badRequest("take", "must be between 1 and %d, got %d", maxTake, take)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.taskOf(key, taskID)
	if err != nil {
		return reply{}, err
	}
	start := 0
	if cursor != "" {
		off, derr := decodeCursor(cursor, t.id)
		if derr != nil || off > len(t.people) {
			return reply{}, badRequest("cursor", "invalid cursor")
		}
		start = off
	}
	s.settle(key, now)
	completed := t.completed(now, s.cfg.PeoplePerSecond)
	start = min(start, completed) // a cursor made up by the caller may point past them
	results, end := s.page(t, start, take, completed)
	done := t.done(completed)
	next := s.nextCursor(t.id, end, completed)
	s.polls[t.id] = append(s.polls[t.id], PollRecord{At: now, Cursor: cursor, NextCursor: next, Results: len(results)})
	advice := []string{}
	if !done {
		advice = append(advice, "Results are returned as people complete: call again with nextCursor until output.done is true.")
	}
	return jsonReply(http.StatusOK, envelope{
		Output: pollOutput{
			OverallStats: t.stats(completed),
			Done:         done,
			Failed:       t.failed(completed),
			Canceled:     t.canceled,
			PageResults:  results,
			NextCursor:   next,
		},
		ChargeInfo: chargeFree{Method: "free", Message: "Polling is free.", LowCreditAlert: s.lowCreditAlert(key)},
		Warnings:   warns,
		Advice:     advice,
	}), nil
}

// page returns the results of t from offset start on, at most take of them,
// among its first completed people, and the offset where the page ends. A
// person that is not paged (a failure, with FailedUnpaged) is passed over; so
// are those right after a full page, so that a page ends at completed whenever
// no paged person follows it yet.
func (s *Sim) page(t *task, start, take, completed int) ([]pageResult, int) {
	paged := func(p person) bool { return p.outcome != outcomeFailed || !s.cfg.FailedUnpaged }
	results := make([]pageResult, 0, min(take, completed-start))
	end := start
	for ; end < completed && len(results) < take; end++ {
		p := t.people[end]
		if !paged(p) {
			continue
		}
		r := pageResult{Inputs: resultInputs{LinkedinURL: linkedinURL{Value: p.url}}}
		if p.outcome == outcomeFound {
			r.Outputs = s.details(p, t.types)
		}
		results = append(results, r)
	}
	for end < completed && !paged(t.people[end]) {
		end++
	}
	return results, end
}

// requiredTaskID reads the taskId field.
func requiredTaskID(top object) (string, *reqError) {
	id, ok, err := top.str("taskId")
	if err != nil {
		return "", err
	}
	if !ok || id == "" {
		return "", badRequest("taskId", "required")
	}
	return id, nil
}

// taskOf returns the task taskID of apiKey. A task of another key is not
// found either. The caller holds s.mu.
func (s *Sim) taskOf(apiKey, taskID string) (*task, *reqError) {
	t, ok := s.tasks[taskID]
	if !ok || t.apiKey != apiKey {
		return nil, &reqError{status: http.StatusNotFound, msg: "task not found: " + taskID}
	}
	return t, nil
}
