package fiberfake

import (
	"fmt"
	"net/http"
	"time"
)

// The credits ledger. Credits are charged up front at start for every unique
// accepted person (see enrichment.price). People who complete without data
// (no data or failed) are refunded when they complete; because progress is
// computed from the time, those refunds are applied lazily ("settled")
// whenever the key's balance is read or used. Cancel refunds the people not
// completed yet at once. The caller of every function here holds s.mu.

// settle applies every refund due to apiKey by now.
func (s *Sim) settle(apiKey string, now time.Time) {
	for _, t := range s.order {
		if t.apiKey == apiKey {
			s.settleTask(t, now)
		}
	}
}

// settleTask applies the refunds due for t by now.
func (s *Sim) settleTask(t *task, now time.Time) {
	if refund := t.settle(t.completed(now, s.cfg.PeoplePerSecond)); refund > 0 {
		s.balances[t.apiKey] += refund
	}
}

// charge takes cost from apiKey's balance. When the balance is too small it
// takes nothing and returns the 402 to answer.
func (s *Sim) charge(apiKey string, cost float64) *reqError {
	bal := s.balances[apiKey]
	if cost > bal {
		return &reqError{
			status: http.StatusPaymentRequired,
			msg:    fmt.Sprintf("Not enough credits: this request costs %s credits and %s are available.", credits(cost), credits(bal)),
			alert: &creditAlert{
				GetMoreCreditsURL: s.cfg.GetMoreCreditsURL,
				Message:           "You are out of credits. Get more credits to continue.",
				AvailableCredits:  bal,
			},
		}
	}
	s.balances[apiKey] = bal - cost
	return nil
}

// lowCreditAlert returns the lowCreditAlert for apiKey's current balance: nil
// unless it is below Config.LowCreditThreshold.
func (s *Sim) lowCreditAlert(apiKey string) *creditAlert {
	bal := s.balances[apiKey]
	if bal >= s.cfg.LowCreditThreshold {
		return nil
	}
	return &creditAlert{
		GetMoreCreditsURL: s.cfg.GetMoreCreditsURL,
		Message:           fmt.Sprintf("Your credit balance is low: %s credits left.", credits(bal)),
		AvailableCredits:  bal,
	}
}

// credits formats an amount of credits without a needless fraction.
func credits(v float64) string {
	return fmt.Sprintf("%g", v)
}
