package fiberfake

import (
	"fmt"
	"net/http"
)

// maxPeople is the most personDetails one start accepts.
const maxPeople = 2000

// startRequest is a validated start body.
type startRequest struct {
	values []string // personDetails[].linkedinUrl.value, in order
	types  enrichment
}

// start handles POST /v1/contact-details/batch/start. Checks run in this
// order: body is a JSON object (400), apiKey (401), rate limit (429), schema
// (400), all people rejected (400), credits (402).
func (s *Sim) start(body []byte) (reply, *reqError) {
	var warns []apiWarning
	top, key, now, err := s.open(body, EndpointStart, &warns, "apiKey", "personDetails", "enrichmentTypes")
	if err != nil {
		return reply{}, err
	}
	req, err := parseStart(top, &warns)
	if err != nil {
		return reply{}, err
	}

	// Skip duplicates, then reject; both are free.
	seen := make(map[string]bool, len(req.values))
	var people []person
	duplicates, rejected := 0, 0
	for _, v := range req.values {
		id, slug, _ := parseProfile(v) // validated by parseStart
		switch {
		case seen[id]:
			duplicates++
		case s.rejected(id, slug):
			seen[id] = true
			rejected++
		default:
			seen[id] = true
			people = append(people, person{url: v, id: id, slug: slug, outcome: s.outcomeOf(id, slug)})
		}
	}
	if len(people) == 0 {
		return reply{}, &reqError{status: http.StatusBadRequest,
			msg: fmt.Sprintf("personDetails: no person could be queued (%d rejected, %d duplicates)", rejected, duplicates)}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(key, now)
	price := req.types.price()
	cost := price * float64(len(people))
	if err := s.charge(key, cost); err != nil {
		return reply{}, err
	}
	t := &task{
		id:         s.dice.taskID(s.cfg.TaskIDSalt, len(s.order)+1),
		apiKey:     key,
		types:      req.types,
		price:      price,
		people:     people,
		rejected:   rejected,
		duplicates: duplicates,
		startedAt:  now,
		charged:    cost,
	}
	s.tasks[t.id] = t
	s.order = append(s.order, t)

	advice := []string{"Poll /v1/contact-details/batch/poll with this taskId until output.done is true; results arrive as people complete."}
	if duplicates > 0 {
		advice = append(advice, fmt.Sprintf("%d duplicate people were skipped and not charged.", duplicates))
	}
	if rejected > 0 {
		advice = append(advice, fmt.Sprintf("%d people were rejected before queueing and not charged.", rejected))
	}
	return jsonReply(http.StatusOK, envelope{
		Output: startOutput{TaskID: t.id, NumPeopleEnqueued: len(people), NumDuplicatesSkipped: duplicates},
		ChargeInfo: chargedNow{
			Method:         "charged-now",
			CreditsCharged: cost,
			LowCreditAlert: s.lowCreditAlert(key),
		},
		Warnings: warns,
		Advice:   advice,
	}), nil
}

// parseStart validates personDetails and enrichmentTypes, adding warnings for
// unknown fields.
func parseStart(top object, warns *[]apiWarning) (startRequest, *reqError) {
	var req startRequest
	items, ok, err := top.array("personDetails")
	if err != nil {
		return req, err
	}
	switch {
	case !ok:
		return req, badRequest("personDetails", "required")
	case len(items) == 0:
		return req, badRequest("personDetails", "must contain at least 1 item")
	case len(items) > maxPeople:
		return req, badRequest("personDetails", "must contain at most %d items, got %d", maxPeople, len(items))
	}
	for i, raw := range items {
		item, err := decodeObject(raw, top.index("personDetails", i), []string{"linkedinUrl"}, warns)
		if err != nil {
			return req, err
		}
		lraw, ok := item.get("linkedinUrl")
		if !ok {
			return req, badRequest(item.child("linkedinUrl"), "required")
		}
		lu, err := decodeObject(lraw, item.child("linkedinUrl"), []string{"value"}, warns)
		if err != nil {
			return req, err
		}
		v, ok, err := lu.str("value")
		if err != nil {
			return req, err
		}
		if !ok {
			return req, badRequest(lu.child("value"), "required")
		}
		if _, _, ok := parseProfile(v); !ok {
			return req, badRequest(lu.child("value"), "must be a LinkedIn profile URL, like 'https://www.linkedin.com/in/jake'")
		}
		req.values = append(req.values, v)
	}

	req.types = enrichment{work: true, personal: true, phone: true}
	if raw, ok := top.get("enrichmentTypes"); ok {
		et, err := decodeObject(raw, "enrichmentTypes", []string{"getWorkEmails", "getPersonalEmails", "getPhoneNumbers"}, warns)
		if err != nil {
			return req, err
		}
		for _, f := range []struct {
			name string
			dst  *bool
		}{{"getWorkEmails", &req.types.work}, {"getPersonalEmails", &req.types.personal}, {"getPhoneNumbers", &req.types.phone}} {
			if *f.dst, err = et.boolean(f.name, true); err != nil {
				return req, err
			}
		}
		if !req.types.work && !req.types.personal && !req.types.phone {
			return req, badRequest("enrichmentTypes", "at least one of getWorkEmails, getPersonalEmails and getPhoneNumbers must be true")
		}
	}
	return req, nil
}
