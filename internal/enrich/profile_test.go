package enrich

import (
	"errors"
	"strings"
	"testing"
)

func TestParseProfile(t *testing.T) {
	for _, tc := range []struct {
		in       string
		key, url string
		err      error
	}{
		{in: "https://www.linkedin.com/in/jake", key: "in/jake", url: "https://www.linkedin.com/in/jake"},
		{in: "  linkedin.com/in/Jake/  ", key: "in/jake", url: "https://www.linkedin.com/in/Jake"},
		{in: "HTTP://WWW.LINKEDIN.COM/IN/jake?trk=abc", key: "in/jake", url: "https://www.linkedin.com/in/jake"},
		{in: "https://uk.linkedin.com/in/jane-doe/details/experience/", key: "in/jane-doe", url: "https://www.linkedin.com/in/jane-doe"},
		{in: "https://linkedin.de/in/x", key: "in/x", url: "https://linkedin.de/in/x"},
		{in: "https://www.linkedin.com/in/j%C3%A9r%C3%B4me", key: "in/jérôme", url: "https://www.linkedin.com/in/j%C3%A9r%C3%B4me"},
		{in: "https://www.linkedin.com/sales/lead/ACwAAB,NAME_SEARCH,x", key: "sales/lead/acwaab", url: "https://www.linkedin.com/sales/lead/ACwAAB"},
		{in: "https://www.linkedin.com/talent/profile/AEMAA#x", key: "talent/profile/aemaa", url: "https://www.linkedin.com/talent/profile/AEMAA"},
		{in: "", err: ErrEmpty},
		{in: "   ", err: ErrEmpty},
		{in: "https://www.linkedin.com/in/jake smith", err: ErrWhitespace},
		{in: "https://www.linkedin.com/company/acme", err: ErrNotPerson},
		{in: "https://example.com/in/jake", err: ErrNotProfile},
		{in: "jake@example.com", err: ErrNotProfile},
		{in: "not a url", err: ErrNotProfile},
		{in: "https://www.linkedin.com/in/", err: ErrNotProfile},
		{in: "https://www.linkedin.com/in/" + strings.Repeat("a", 2100), err: ErrTooLong},
	} {
		p, err := ParseProfile(tc.in)
		if !errors.Is(err, tc.err) {
			t.Errorf("ParseProfile(%q) error %v, want %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && (p.Key != tc.key || p.URL != tc.url) {
			t.Errorf("ParseProfile(%q) = %+v, want key %q url %q", tc.in, p, tc.key, tc.url)
		}
	}
}
