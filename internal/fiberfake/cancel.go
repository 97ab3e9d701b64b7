package fiberfake

import (
	"fmt"
	"net/http"
)

// cancel handles POST /v1/contact-details/batch/cancel. Checks run in this
// order: body is a JSON object (400), apiKey (401), rate limit (429), taskId
// (400), task exists and belongs to the key (404), task not done yet (422).
//
// The people not completed yet are cancelled and their credits refunded at
// once; completed people stay charged (minus the usual refunds for those
// without data). The task is then done and canceled, and its cancelled people
// stay counted in numRemaining.
func (s *Sim) cancel(body []byte) (reply, *reqError) {
	var warns []apiWarning
	top, key, now, err := s.open(body, EndpointCancel, &warns, "apiKey", "taskId")
	if err != nil {
		return reply{}, err
	}
	taskID, err := requiredTaskID(top)
	if err != nil {
		return reply{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.taskOf(key, taskID)
	if err != nil {
		return reply{}, err
	}
	s.settle(key, now)
	completed := t.completed(now, s.cfg.PeoplePerSecond)
	if t.done(completed) {
		state := "completed"
		if t.canceled {
			state = "canceled"
		}
		return reply{}, &reqError{status: http.StatusUnprocessableEntity,
			msg: fmt.Sprintf("task %s is already %s and cannot be canceled", t.id, state)}
	}
	n := len(t.people) - completed
	refund := float64(n) * t.price
	t.canceled = true
	t.frozen = completed
	t.refunded += refund
	s.balances[key] += refund

	msg := fmt.Sprintf("Canceled %d people not yet fetched and refunded %s credits.", n, credits(refund))
	return jsonReply(http.StatusOK, envelope{
		Output: cancelOutput{CancelledCount: n, CreditsRefunded: refund, Message: msg},
		ChargeInfo: creditsRefunded{
			Method:          "credits-refunded",
			CreditsRefunded: refund,
			Message:         msg,
			LowCreditAlert:  s.lowCreditAlert(key),
		},
		Warnings: warns,
		Advice:   []string{},
	}), nil
}
