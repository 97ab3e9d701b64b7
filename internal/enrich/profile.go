package enrich

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// maxURLBytes is the longest URL the contract accepts (LinkedInUrl.value).
const maxURLBytes = 2048

// Profile is one person's LinkedIn profile, as fibergate sends it and as Fiber tells people
// apart.
type Profile struct {
	// Key identifies the person: the profile kind (in, sales/lead, talent/profile) and the
	// slug, percent-decoded and lower-cased. Two URLs with one key are the same person, as
	// Fiber counts duplicates.
	Key string
	// URL is what is sent: https://, the host lower-cased (www.linkedin.com for any host of
	// linkedin.com), the kind and the slug as given, without a query, a fragment or a
	// trailing path.
	URL string
}

// profilePattern is Fiber's URL pattern (the contract's LinkedInUrl rule) without its
// lower-case requirement: anchored at the start only, so that anything after the slug (a
// query, "/details/...") is allowed and dropped.
var profilePattern = regexp.MustCompile(`(?i)^(?:https?://)?((?:[a-z]+\.)?linkedin\.[a-z]{2,})/(in|sales/lead|talent/profile)/([^/\\?,#]+)/?(?:[?,#].*)?`)

// otherLinkedIn matches LinkedIn pages that are not a person's profile.
var otherLinkedIn = regexp.MustCompile(`(?i)^(?:https?://)?(?:[a-z]+\.)?linkedin\.[a-z]{2,}/(company|school|showcase|jobs|posts|feed|pulse|groups)(?:/|$)`)

// Reasons a value is not a profile URL; ParseProfile's errors.
var (
	ErrEmpty      = errors.New("no LinkedIn URL")
	ErrWhitespace = errors.New("the URL contains whitespace or control characters")
	ErrTooLong    = errors.New("the URL is longer than 2048 bytes")
	ErrNotPerson  = errors.New("a LinkedIn page that is not a person's profile")
	ErrNotProfile = errors.New("not a LinkedIn profile URL (want one like https://www.linkedin.com/in/NAME)")
)

// ParseProfile checks a LinkedIn profile URL, with or without its scheme, in any case, with
// surrounding whitespace, and returns the person's Profile, or one of the Err* reasons.
func ParseProfile(value string) (Profile, error) {
	v := strings.TrimSpace(value)
	switch {
	case v == "":
		return Profile{}, ErrEmpty
	case !strings.Contains(strings.ToLower(v), "linkedin."):
		return Profile{}, ErrNotProfile
	case strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return Profile{}, ErrWhitespace
	}
	m := profilePattern.FindStringSubmatch(v)
	if m == nil {
		if otherLinkedIn.MatchString(v) {
			return Profile{}, ErrNotPerson
		}
		return Profile{}, ErrNotProfile
	}
	host, kind, slug := strings.ToLower(m[1]), strings.ToLower(m[2]), m[3]
	if host == "linkedin.com" || strings.HasSuffix(host, ".linkedin.com") {
		host = "www.linkedin.com" // one site: a country's or the mobile host shows the same profiles
	}
	id := slug
	if dec, err := url.PathUnescape(slug); err == nil {
		id = dec
	}
	p := Profile{
		Key: kind + "/" + strings.ToLower(id),
		URL: "https://" + host + "/" + kind + "/" + slug,
	}
	if len(p.URL) > maxURLBytes {
		return Profile{}, ErrTooLong
	}
	return p, nil
}
