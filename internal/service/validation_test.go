package service_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"buf.build/go/protovalidate"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// fiberURLPattern is the pattern of Fiber's published schema, verbatim (JSON unescaped).
var fiberURLPattern = regexp.MustCompile(`^(?:https?:\/\/)?(?:[a-z]+\.)?linkedin\.[a-z]{2,}\/(?:in|sales\/lead|talent\/profile)\/(?<slug>[^/\\?,#]+)\/?(?:[\?,#].*)?`)

func newValidator(tb testing.TB) protovalidate.Validator {
	tb.Helper()
	v, err := protovalidate.New()
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// contractAccepts says whether the contract's rules accept u as a LinkedIn URL value.
func contractAccepts(v protovalidate.Validator, u string) bool {
	return v.Validate(&cdv1.LinkedInUrl{Value: u}) == nil
}

// noControl is the contract's own addition to Fiber's pattern.
var noControl = regexp.MustCompile(`[\x00-\x20\x7f\x{85}\x{a0}\x{2028}\x{2029}]`)

// fiberAccepts is what Fiber's schema accepts, within the contract's length cap (2048 bytes
// of UTF-8) and without whitespace or control characters.
func fiberAccepts(u string) bool {
	return u != "" && len(u) <= 2048 && fiberURLPattern.MatchString(u) && !noControl.MatchString(u)
}

func TestLinkedInURLRuleMatchesFibersPattern(t *testing.T) {
	v := newValidator(t)
	for _, tt := range []struct {
		url  string
		want bool
	}{
		{"https://www.linkedin.com/in/jake", true},
		{"http://linkedin.com/in/jake/", true},
		{"linkedin.com/in/jake", true},
		{"www.linkedin.co.uk/in/jake", false}, // "co.uk" is not [a-z]{2,}\/ right after linkedin.
		{"https://uk.linkedin.com/in/jake?trk=x", true},
		{"https://www.linkedin.com/sales/lead/ACwAA,NAME", true},
		{"https://www.linkedin.com/talent/profile/AEMAA", true},
		{"https://www.linkedin.com/in/jake#about", true},
		{"https://www.linkedin.com/in/", false},
		{"https://www.linkedin.com/company/fiber", false},
		{"https://www.example.com/in/jake", false},
		{"HTTPS://WWW.LINKEDIN.COM/IN/JAKE", false},
		{"https://www.linkedin.com/in/ja\\ke", true}, // the slug stops at the backslash; the pattern is not anchored at the end
		{"https://www.linkedin.com/in/\\jake", false},
		{"https://www.linkedin.com/in/ja\x00ke", false},
		{"https://www.linkedin.com/in/jake\r\nX-Injected: 1", false},
		{"https://www.linkedin.com/in/ja ke", false},
		{"ftp://www.linkedin.com/in/jake", false},
		{"", false},
		{"https://www.linkedin.com/in/" + strings.Repeat("a", 2100), false},
		{"https://www.linkedin.com/in/" + strings.Repeat("é", 1010), true},        // 2048 bytes
		{"https://www.linkedin.com/in/" + strings.Repeat("é", 1010) + "a", false}, // 2049 bytes, 1039 characters
	} {
		if got := contractAccepts(v, tt.url); got != tt.want {
			t.Errorf("contract accepts %q = %v, want %v", tt.url, got, tt.want)
		}
		if got := fiberAccepts(tt.url); got != tt.want {
			t.Errorf("Fiber's pattern accepts %q = %v, want %v (the table is wrong)", tt.url, got, tt.want)
		}
	}
}

// FuzzLinkedInURLValidation checks that the contract's rule accepts exactly what Fiber's
// published pattern accepts (within the contract's length cap), so nothing Fiber would take is
// refused and nothing Fiber would refuse is sent.
func FuzzLinkedInURLValidation(f *testing.F) {
	for _, s := range []string{
		"https://www.linkedin.com/in/jake", "linkedin.de/sales/lead/x", "https://linkedin.com/talent/profile/y?z",
		"https://www.linkedin.com/in/", "https://www.linkedin.com/in/a/b", "http://a.linkedin.io/in/%20", "linkedin.c/in/x",
		"https://www.linkedin.com/in/\x00", "https://www.linkedin.com/in/\xff", "in/jake",
	} {
		f.Add(s)
	}
	v := newValidator(f)
	f.Fuzz(func(t *testing.T, u string) {
		if !utf8.ValidString(u) {
			return // protobuf strings are UTF-8; the transports refuse anything else earlier
		}
		if got, want := contractAccepts(v, u), fiberAccepts(u); got != want {
			t.Errorf("contract accepts %q = %v, Fiber's pattern = %v", u, got, want)
		}
	})
}
