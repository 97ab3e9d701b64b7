package validation

import (
	"strings"
	"unicode/utf8"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The rules the shortcut renders, as the contract states them: PersonDetails.linkedin_url
// is required; the LinkedInUrl in it has no rules but those of its only field, value:
// urlRules, less the ids and messages of its CEL rules (they do not change what passes). The
// CEL expressions are in CEL's own escaping: the regular expressions are
// [\x00-\x20\x7f\x{85}\x{a0}\x{2028}\x{2029}] and
// ^(?:https?:\/\/)?(?:[a-z]+\.)?linkedin\.[a-z]{2,}\/(?:in|sales\/lead|talent\/profile)\/(?<slug>[^/\\?,#]+)\/?(?:[\?,#].*)?
const (
	personURLRules = `required: true`
	urlRules       = `
string: {min_len: 1, max_bytes: 2048}
cel: {expression: "!this.matches('[\\\\x00-\\\\x20\\\\x7f\\\\x{85}\\\\x{a0}\\\\x{2028}\\\\x{2029}]')"}
cel: {expression: "this.matches('^(?:https?:\\\\/\\\\/)?(?:[a-z]+\\\\.)?linkedin\\\\.[a-z]{2,}\\\\/(?:in|sales\\\\/lead|talent\\\\/profile)\\\\/(?<slug>[^/\\\\\\\\?,#]+)\\\\/?(?:[\\\\?,#].*)?')"}
`
)

// urlRulesMatch says whether the contract's rules of PersonDetails.linkedin_url and of
// LinkedInUrl are those urlsValid renders.
func urlRulesMatch() bool {
	person := personURLField()
	url := person.Message()
	if url == nil || url.Fields().Len() != 1 || url.Oneofs().Len() != 0 ||
		proto.HasExtension(url.Options(), validatepb.E_Message) {
		return false
	}
	value := url.Fields().ByName("value")
	return value != nil && rulesAre(person, personURLRules) && rulesAre(value, urlRules)
}

// rulesAre says whether the buf.validate rules of fd are want, in text format, ignoring the
// ids and messages of CEL rules.
func rulesAre(fd protoreflect.FieldDescriptor, want string) bool {
	var w validatepb.FieldRules
	if err := prototext.Unmarshal([]byte(want), &w); err != nil {
		return false // a constant of this package: TestURLRulesMatch fails
	}
	got, ok := proto.GetExtension(fd.Options(), validatepb.E_Field).(*validatepb.FieldRules)
	if !ok || got == nil {
		return false
	}
	got = proto.CloneOf(got)
	for _, r := range got.GetCel() {
		r.ClearId()
		r.ClearMessage()
	}
	return proto.Equal(got, &w)
}

// linkedInURLValid says whether s passes the rules of LinkedInUrl.value (urlRules): at least
// one character, at most 2048 bytes, no whitespace or control character of the first regular
// expression, and a prefix matching the second. It is false for a string that is not valid
// UTF-8, which protovalidate is left to judge.
func linkedInURLValid(s string) bool {
	if len(s) > 2048 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r <= 0x20, r == 0x7f, r == 0x85, r == 0xa0, r == 0x2028, r == 0x2029:
			return false
		}
	}
	return profilePrefix(s) // implies min_len
}

// profilePrefix says whether s has a prefix matching
//
//	(?:https?://)?(?:[a-z]+\.)?linkedin\.[a-z]{2,}/(?:in|sales/lead|talent/profile)/[^/\\?,#]
//
// which is whether the second regular expression of urlRules matches s: it is anchored at
// the start only, and the part after the slug's first character can match nothing. s holds
// no byte below 0x21.
func profilePrefix(s string) bool {
	// A scheme, if s starts with one, is the optional group's: without it, s would have to
	// start with [a-z]+\. or linkedin\., and "http" is followed by ':'.
	if r, ok := strings.CutPrefix(s, "https://"); ok {
		s = r
	} else if r, ok := strings.CutPrefix(s, "http://"); ok {
		s = r
	}
	// Without the optional subdomain, or with it: [a-z]+ takes the whole run of letters, as it
	// must be followed by a dot.
	if afterHost(s) {
		return true
	}
	n := lowerRun(s)
	return n > 0 && n < len(s) && s[n] == '.' && afterHost(s[n+1:])
}

// afterHost says whether s starts with linkedin\.[a-z]{2,}/ followed by a profile path.
func afterHost(s string) bool {
	s, ok := strings.CutPrefix(s, "linkedin.")
	if !ok {
		return false
	}
	n := lowerRun(s)
	if n < 2 || n == len(s) || s[n] != '/' {
		return false
	}
	s = s[n+1:]
	for _, kind := range []string{"in/", "sales/lead/", "talent/profile/"} {
		if slug, ok := strings.CutPrefix(s, kind); ok {
			// The slug's first character: any but these (the first byte of a multi-byte
			// character is none of them).
			return slug != "" && !strings.ContainsRune(`/\?,#`, rune(slug[0]))
		}
	}
	return false
}

// lowerRun is the length of the run of ASCII lower-case letters s starts with.
func lowerRun(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return i
		}
	}
	return len(s)
}
