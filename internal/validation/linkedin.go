package validation

import (
	"strings"
	"unicode/utf8"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// urlRules are the rules of LinkedInUrl.value that linkedInURLValid renders, as the contract
// states them, less the ids and messages of its CEL rules (they do not change what passes).
// The CEL expressions are in CEL's own escaping: the regular expressions are
// [\x00-\x20\x7f\x{85}\x{a0}\x{2028}\x{2029}] and
// ^(?:https?:\/\/)?(?:[a-z]+\.)?linkedin\.[a-z]{2,}\/(?:in|sales\/lead|talent\/profile)\/(?<slug>[^/\\?,#]+)\/?(?:[\?,#].*)?
const urlRules = `
string: {min_len: 1, max_bytes: 2048}
cel: {expression: "!this.matches('[\\\\x00-\\\\x20\\\\x7f\\\\x{85}\\\\x{a0}\\\\x{2028}\\\\x{2029}]')"}
cel: {expression: "this.matches('^(?:https?:\\\\/\\\\/)?(?:[a-z]+\\\\.)?linkedin\\\\.[a-z]{2,}\\\\/(?:in|sales\\\\/lead|talent\\\\/profile)\\\\/(?<slug>[^/\\\\\\\\?,#]+)\\\\/?(?:[\\\\?,#].*)?')"}
`

// urlRulesMatch says whether the contract's rules of LinkedInUrl.value are urlRules, those
// linkedInURLValid renders.
func urlRulesMatch() bool {
	var want validatepb.FieldRules
	if err := prototext.Unmarshal([]byte(urlRules), &want); err != nil {
		panic("validation: urlRules: " + err.Error()) // a constant
	}
	got, ok := proto.GetExtension(urlValueField().Options(), validatepb.E_Field).(*validatepb.FieldRules)
	if !ok || got == nil {
		return false
	}
	got = proto.CloneOf(got)
	for _, r := range got.GetCel() {
		r.ClearId()
		r.ClearMessage()
	}
	return proto.Equal(got, &want)
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
