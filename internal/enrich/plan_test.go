package enrich

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func textInput(t *testing.T, urls ...string) *Input {
	t.Helper()
	return read(t, "urls.txt", strings.Join(urls, "\n")+"\n", ReadOptions{})
}

func TestPlanDedupesAndLeavesOutInvalidRows(t *testing.T) {
	in := textInput(t,
		"https://www.linkedin.com/in/jake",
		"not a url",
		"linkedin.com/in/JAKE/", // jake again
		"https://www.linkedin.com/in/ann",
		"https://www.linkedin.com/company/acme",
		"https://www.linkedin.com/in/jake?x=1", // and again
	)
	p := NewPlan(in, AllTypes)
	if got, want := len(p.People), 2; got != want {
		t.Fatalf("%d people, want %d", got, want)
	}
	if diff := cmp.Diff([]Invalid{
		{Line: 2, Value: "not a url", Reason: ErrNotProfile.Error()},
		{Line: 5, Value: "https://www.linkedin.com/company/acme", Reason: ErrNotPerson.Error()},
	}, p.Invalid); diff != "" {
		t.Errorf("invalid (-want +got):\n%s", diff)
	}
	var dupOf []int
	for _, r := range p.Rows {
		dupOf = append(dupOf, r.DuplicateOf)
	}
	if diff := cmp.Diff([]int{0, 1, 0, 1}, dupOf); diff != "" {
		t.Errorf("DuplicateOf by row (-want +got):\n%s", diff)
	}
	if p.Duplicates() != 2 || p.Cost() != 10 {
		t.Errorf("duplicates %d cost %v, want 2 and 10", p.Duplicates(), p.Cost())
	}
}

func TestPlanBalancesBatches(t *testing.T) {
	for _, tc := range []struct {
		people int
		sizes  []int
	}{
		{1, []int{1}},
		{2000, []int{2000}},
		{2001, []int{1001, 1000}},
		{4492, []int{1498, 1497, 1497}},
		{10000, []int{2000, 2000, 2000, 2000, 2000}},
	} {
		urls := make([]string, tc.people)
		for i := range urls {
			urls[i] = fmt.Sprintf("https://www.linkedin.com/in/p-%d", i)
		}
		p := NewPlan(textInput(t, urls...), AllTypes)
		var sizes []int
		next := 0
		for _, b := range p.Batches {
			sizes = append(sizes, len(b.People))
			for _, i := range b.People {
				if i != next {
					t.Fatalf("%d people: batch %d holds person %d, want %d (input order)", tc.people, b.Number, i, next)
				}
				next++
			}
		}
		if diff := cmp.Diff(tc.sizes, sizes); diff != "" {
			t.Errorf("%d people: batch sizes (-want +got):\n%s", tc.people, diff)
		}
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRequestIDIsStableAndNamesWhatIsSent(t *testing.T) {
	urls := []string{"https://www.linkedin.com/in/a", "https://www.linkedin.com/in/b"}
	p := NewPlan(textInput(t, urls...), AllTypes)
	id := p.RequestID(0, 1)
	if !uuidPattern.MatchString(id) {
		t.Fatalf("request id %q is not a version 8 UUID", id)
	}
	if again := NewPlan(textInput(t, urls...), AllTypes).RequestID(0, 1); again != id {
		t.Errorf("same input: %s, then %s", id, again)
	}
	// The same people written otherwise are sent the same: same id.
	if same := NewPlan(textInput(t, "linkedin.com/in/a/", "HTTPS://WWW.LINKEDIN.COM/IN/b?trk=x"), AllTypes).RequestID(0, 1); same != id {
		t.Errorf("same URLs as sent: %s, want %s", same, id)
	}
	others := map[string]string{
		"other types":   NewPlan(textInput(t, urls...), Types{Phones: true}).RequestID(0, 1),
		"other people":  NewPlan(textInput(t, urls[0]), AllTypes).RequestID(0, 1),
		"another order": NewPlan(textInput(t, urls[1], urls[0]), AllTypes).RequestID(0, 1),
		"attempt 2":     p.RequestID(0, 2),
	}
	for what, other := range others {
		if other == id {
			t.Errorf("%s: the same request id %s", what, id)
		}
	}
}

func TestPrice(t *testing.T) {
	for _, tc := range []struct {
		t    Types
		want float64
	}{
		{AllTypes, 5},
		{Types{WorkEmails: true}, 2},
		{Types{PersonalEmails: true}, 2},
		{Types{Phones: true}, 3},
		{Types{WorkEmails: true, PersonalEmails: true}, 4},
		{Types{WorkEmails: true, Phones: true}, 5},
	} {
		if got := tc.t.Price(); got != tc.want {
			t.Errorf("%v: price %v, want %v", tc.t, got, tc.want)
		}
	}
}
