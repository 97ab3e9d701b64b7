package fiberfake

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// linkedinPattern is Fiber's URL pattern for personDetails[].linkedinUrl.value,
// in RE2 syntax. Like Fiber's it is anchored at the start only and is
// case-sensitive; the profile kind is captured too.
var linkedinPattern = regexp.MustCompile(`^(?:https?://)?(?:[a-z]+\.)?linkedin\.[a-z]{2,}/(in|sales/lead|talent/profile)/(?P<slug>[^/\\?,#]+)/?(?:[?,#].*)?`)

// outcome is what happens to an accepted person.
type outcome int

const (
	outcomeFound  outcome = iota // contact details found
	outcomeNoData                // nothing found: outputs null, refunded
	outcomeFailed                // the fetch failed: outputs null, counted in numFailed, refunded
)

// person is one unique accepted person of a task.
type person struct {
	url     string // the value as the caller sent it
	id      string // normalized identity: kind + "/" + lower-case unescaped slug
	slug    string // lower-case unescaped slug
	outcome outcome
}

// parseProfile checks value against Fiber's pattern and returns the person's
// identity and slug. Two URLs are the same person when their profile kind and
// their slug, percent-decoded and lower-cased, are equal.
func parseProfile(value string) (id, slug string, ok bool) {
	m := linkedinPattern.FindStringSubmatch(value)
	if m == nil {
		return "", "", false
	}
	slug = m[2]
	if dec, err := url.PathUnescape(slug); err == nil {
		slug = dec
	}
	slug = strings.ToLower(slug)
	return m[1] + "/" + slug, slug, true
}

// dice draws deterministic numbers from the seed.
type dice struct {
	seed int64
}

// u64 hashes the seed, a purpose and a subject into 64 bits.
func (d dice) u64(purpose, subject string) uint64 {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(d.seed))
	h.Write(b[:])
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(subject))
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// float returns a number in [0, 1) for purpose and subject.
func (d dice) float(purpose, subject string) float64 {
	return float64(d.u64(purpose, subject)>>11) / (1 << 53)
}

// rejected reports whether a person is rejected before queueing.
func (s *Sim) rejected(id, slug string) bool {
	return strings.HasPrefix(slug, "reject-") || s.dice.float("reject", id) < s.cfg.RejectRate
}

// outcomeOf decides a queued person's fate: "fail-" and "nodata-" slugs
// first, then FailRate, then NoDataRate.
func (s *Sim) outcomeOf(id, slug string) outcome {
	switch {
	case strings.HasPrefix(slug, "fail-"):
		return outcomeFailed
	case strings.HasPrefix(slug, "nodata-"):
		return outcomeNoData
	case s.dice.float("fail", id) < s.cfg.FailRate:
		return outcomeFailed
	case s.dice.float("nodata", id) < s.cfg.NoDataRate:
		return outcomeNoData
	}
	return outcomeFound
}

// details returns the contact details found for a person, of the requested
// types only. Work email is found for 95% of people, personal email for 60%,
// a phone number for 50%; someone for whom the draw finds nothing requested
// gets the first requested type anyway, so a found person always has data.
func (s *Sim) details(p person, types enrichment) *contactDetails {
	d := s.dice
	local := emailLocal(p.slug)
	out := &contactDetails{Emails: []email{}, PhoneNumbers: []phone{}, Exhaustive: d.float("exhaustive", p.id) < 0.8}
	work := types.work && d.float("has-work", p.id) < 0.95
	personal := types.personal && d.float("has-personal", p.id) < 0.6
	mobile := types.phone && d.float("has-phone", p.id) < 0.5
	if !work && !personal && !mobile {
		work, personal, mobile = types.work, !types.work && types.personal, !types.work && !types.personal
	}
	if work {
		companies := [...]string{"acme", "globex", "initech", "umbrella", "hooli", "vandelay"}
		company := companies[d.u64("company", p.id)%uint64(len(companies))]
		status := "valid"
		switch r := d.float("work-status", p.id); {
		case r < 0.15:
			status = "risky"
		case r < 0.25:
			status = "unknown"
		}
		out.Emails = append(out.Emails, email{Email: local + "@" + company + ".example.com", Type: "work", Status: status})
	}
	if personal {
		out.Emails = append(out.Emails, email{Email: local + "@mail.example.org", Type: "personal", Status: "valid"})
	}
	if mobile {
		kind := "mobile"
		if d.float("phone-type", p.id) < 0.2 {
			kind = "other"
		}
		out.PhoneNumbers = append(out.PhoneNumbers, phone{
			Number: fmt.Sprintf("+1555%07d", d.u64("phone", p.id)%10_000_000),
			Type:   kind,
		})
	}
	return out
}

// emailLocal turns a slug into an email local part of [a-z0-9.].
func emailLocal(slug string) string {
	var b strings.Builder
	for _, r := range slug {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "."):
			b.WriteByte('.')
		}
	}
	local := strings.TrimSuffix(b.String(), ".")
	if local == "" {
		return "person"
	}
	return local
}
