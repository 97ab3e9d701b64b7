package main

import (
	"encoding/json"
	"math"
	"net/http"
	"testing"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestPeopleWithoutDataAreResultsMarkedNoDataFound(t *testing.T) {
	// No random no-data people: exactly the "nodata-" slugs have none.
	_, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: math.Inf(1), NoDataRate: -1})
	p := startOn(t, url)
	client := p.dial(t)
	urls := []string{
		"https://www.linkedin.com/in/jake",
		"https://www.linkedin.com/in/nodata-first",
		"https://www.linkedin.com/in/ada-lovelace",
		"https://www.linkedin.com/in/nodata-second",
	}
	noData := map[string]bool{urls[1]: true, urls[3]: true}
	id := batch{req: idempotentStart("", urls...), want: urls}.start(t, client)
	msgs, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: id})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	checkEndsWith(t, "watch", msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)

	// gRPC: every person is a result, in order; those without data are marked and empty.
	got := results(msgs)
	if len(got) != len(urls) {
		t.Fatalf("%d results, want %d (people without data must not be dropped)", len(got), len(urls))
	}
	for i, r := range got {
		if r.GetLinkedinUrl() != urls[i] {
			t.Errorf("result %d is %s, want %s", i, r.GetLinkedinUrl(), urls[i])
		}
		empty := len(r.GetEmails()) == 0 && len(r.GetPhoneNumbers()) == 0
		switch {
		case noData[urls[i]] && (!r.GetNoDataFound() || !empty):
			t.Errorf("%s: no_data_found %v, %d emails, %d phones; want true and none", urls[i], r.GetNoDataFound(), len(r.GetEmails()), len(r.GetPhoneNumbers()))
		case !noData[urls[i]] && (r.GetNoDataFound() || empty):
			t.Errorf("%s: no_data_found %v with %d emails; want data", urls[i], r.GetNoDataFound(), len(r.GetEmails()))
		}
	}

	// REST: the same, as JSON, with noDataFound and no email or phone fields.
	code, _, body := p.rest(t, http.MethodGet, "/v1/contact-details/batch/"+id+"/results", nil, nil)
	if code != http.StatusOK {
		t.Fatalf("REST results: %d %s", code, body)
	}
	var page struct {
		Results []map[string]json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("REST results %s: %v", body, err)
	}
	if len(page.Results) != len(urls) {
		t.Fatalf("REST: %d results, want %d:\n%s", len(page.Results), len(urls), body)
	}
	for i, r := range page.Results {
		var u string
		_ = json.Unmarshal(r["linkedinUrl"], &u)
		if !noData[u] {
			continue
		}
		if string(r["noDataFound"]) != "true" {
			t.Errorf("REST result %d (%s): noDataFound %s, want true", i, u, r["noDataFound"])
		}
		for _, f := range []string{"emails", "phoneNumbers"} {
			if v, ok := r[f]; ok && string(v) != "[]" {
				t.Errorf("REST result %d (%s): %s = %s, want none", i, u, f, v)
			}
		}
	}
}
