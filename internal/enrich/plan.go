package enrich

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// MaxBatch is the most people one batch may hold (Fiber's limit for a start).
const MaxBatch = 2000

// Types are the enrichment types requested. The zero value requests nothing; Fiber's
// default is AllTypes.
type Types struct {
	WorkEmails, PersonalEmails, Phones bool
}

// AllTypes is Fiber's default: work and personal emails and phone numbers.
var AllTypes = Types{WorkEmails: true, PersonalEmails: true, Phones: true}

// Any reports whether anything is requested.
func (t Types) Any() bool { return t.WorkEmails || t.PersonalEmails || t.Phones }

// String lists the types, as in "work emails, phones".
func (t Types) String() string {
	var s []string
	if t.WorkEmails {
		s = append(s, "work emails")
	}
	if t.PersonalEmails {
		s = append(s, "personal emails")
	}
	if t.Phones {
		s = append(s, "phones")
	}
	return strings.Join(s, ", ")
}

// Price is the credits Fiber charges per unique person queued. Fiber documents 5 for all
// three types, 2 for work email only, 2 for personal email only and 3 for phones only; for
// the other combinations it is taken as 2 per email type plus 3 for phones, at most 5 (as the
// simulator does; Fiber does not say).
func (t Types) Price() float64 {
	p := 0.0
	if t.WorkEmails {
		p += 2
	}
	if t.PersonalEmails {
		p += 2
	}
	if t.Phones {
		p += 3
	}
	return min(p, 5)
}

func (t Types) proto() *cdv1.EnrichmentTypes {
	return &cdv1.EnrichmentTypes{GetWorkEmails: &t.WorkEmails, GetPersonalEmails: &t.PersonalEmails, GetPhoneNumbers: &t.Phones}
}

// code is the types' part of a request id and a fingerprint: "w1p1h0".
func (t Types) code() string {
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	return "w" + b(t.WorkEmails) + "p" + b(t.PersonalEmails) + "h" + b(t.Phones)
}

// Person is one unique person of the input.
type Person struct {
	Profile
	// Rows are the indexes in Plan.Rows of the person's rows, in input order: the first is
	// the original, the others its duplicates.
	Rows []int
	// Batch is the index in Plan.Batches of the batch the person is sent in.
	Batch int
}

// PlannedRow is a valid input row.
type PlannedRow struct {
	Row
	// Person is the index in Plan.People of the row's person.
	Person int
	// DuplicateOf is the line of the person's first row when this row repeats it; else 0.
	DuplicateOf int
}

// Invalid is an input row left out, with the reason.
type Invalid struct {
	Line   int
	Value  string
	Reason string
}

// Batch is one start of up to MaxBatch people.
type Batch struct {
	// Number is the batch's 1-based number.
	Number int
	// People are indexes in Plan.People, in the order they are sent.
	People []int
}

// Plan is what a run sends: the unique people, in batches.
type Plan struct {
	Input   *Input
	Types   Types
	People  []Person
	Rows    []PlannedRow // the valid rows, in input order
	Invalid []Invalid    // the rows left out, in input order
	Batches []Batch
	keys    map[string]int // Profile.Key -> index in People
}

// NewPlan checks every row of in, sends each person once, and splits the people into as few
// batches as MaxBatch allows, of sizes that differ by one at most: batches of equal size
// finish together, since Fiber works on them side by side.
func NewPlan(in *Input, types Types) *Plan {
	p := &Plan{Input: in, Types: types, keys: map[string]int{}}
	for _, r := range in.Rows {
		if r.Problem != "" {
			p.Invalid = append(p.Invalid, Invalid{Line: r.Line, Value: r.Value, Reason: r.Problem})
			continue
		}
		prof, err := ParseProfile(r.Value)
		if err != nil {
			p.Invalid = append(p.Invalid, Invalid{Line: r.Line, Value: r.Value, Reason: err.Error()})
			continue
		}
		pr := PlannedRow{Row: r}
		if i, ok := p.keys[prof.Key]; ok {
			pr.Person = i
			pr.DuplicateOf = p.Rows[p.People[i].Rows[0]].Line
		} else {
			pr.Person = len(p.People)
			p.keys[prof.Key] = pr.Person
			p.People = append(p.People, Person{Profile: prof})
		}
		p.People[pr.Person].Rows = append(p.People[pr.Person].Rows, len(p.Rows))
		p.Rows = append(p.Rows, pr)
	}
	n := (len(p.People) + MaxBatch - 1) / MaxBatch
	next := 0
	for b := range n {
		size := len(p.People) / n
		if b < len(p.People)%n {
			size++
		}
		batch := Batch{Number: b + 1}
		for i := next; i < next+size; i++ {
			batch.People = append(batch.People, i)
			p.People[i].Batch = b
		}
		next += size
		p.Batches = append(p.Batches, batch)
	}
	return p
}

// Duplicates is the number of valid rows that repeat an earlier row's person.
func (p *Plan) Duplicates() int { return len(p.Rows) - len(p.People) }

// Cost is what the plan costs at most: Price for every person. Fiber charges it up front for
// the people it queues, and refunds those it finds nothing for.
func (p *Plan) Cost() float64 { return float64(len(p.People)) * p.Types.Price() }

// person returns the index in People of the person a URL names, if the plan has it.
func (p *Plan) person(linkedinURL string) (int, bool) {
	prof, err := ParseProfile(linkedinURL)
	if err != nil {
		return 0, false
	}
	i, ok := p.keys[prof.Key]
	return i, ok
}

// requestIDSpace is the UUID namespace of request ids (a fixed random UUID).
var requestIDSpace = uuid.MustParse("3f1f6c2e-8a0b-4d5e-9c47-5b2a6e0d91f3")

// RequestID is batch b's request_id for its attempt-th start (1 for the first): a version 8
// UUID (RFC 9562) holding the first 122 bits of the SHA-256 of "fibergate-enrich/v1", the
// types, the batch number, the attempt (after the first) and the batch's URLs as sent, in
// order. The same batch of the same people always gets the same id, so its start is never
// sent, nor paid for, twice; a batch that differs in anything gets another.
func (p *Plan) RequestID(b, attempt int) string {
	var s strings.Builder
	s.WriteString("fibergate-enrich/v1\ntypes=" + p.Types.code() + "\nbatch=" + strconv.Itoa(p.Batches[b].Number) + "\n")
	if attempt > 1 {
		s.WriteString("attempt=" + strconv.Itoa(attempt) + "\n")
	}
	for _, i := range p.Batches[b].People {
		s.WriteString(p.People[i].URL + "\n")
	}
	return uuid.NewHash(sha256.New(), requestIDSpace, []byte(s.String()), 8).String()
}

// Fingerprint identifies what a run does: the input's bytes, how it was read and the
// types. A state file is only used by a run with the same fingerprint.
func (p *Plan) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "fibergate-enrich/v1\nformat=%s\ncolumn=%d\ntypes=%s\n", p.Input.Format, p.Input.Column, p.Types.code())
	h.Write(p.Input.Digest[:])
	return hex.EncodeToString(h.Sum(nil))
}

// request is batch b's StartBatch request.
func (p *Plan) request(b int, requestID string) *cdv1.StartBatchRequest {
	req := &cdv1.StartBatchRequest{EnrichmentTypes: p.Types.proto(), RequestId: requestID}
	for _, i := range p.Batches[b].People {
		req.PersonDetails = append(req.PersonDetails, &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: p.People[i].URL}})
	}
	return req
}
