package validation

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"buf.build/go/protovalidate"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// TestURLRulesMatch: the shortcut is on for the contract as it is. If this fails, the rules
// of LinkedInUrl.value changed: render them again in linkedInURLValid and urlRules, or the
// 2000-person start's validation is several times slower.
func TestURLRulesMatch(t *testing.T) {
	if !urlRulesMatch() {
		t.Fatal("the contract's rules of PersonDetails.linkedin_url or LinkedInUrl are not those the shortcut renders: it is off")
	}
	// Any other rules do not match.
	value := personURLField().Message().Fields().ByName("value")
	for _, other := range []string{
		strings.Replace(urlRules, "2048", "2049", 1),
		strings.Replace(urlRules, "sales", "sale", 1),
		strings.Replace(urlRules, "x{85}", "x{86}", 1),
		urlRules + `string: {max_len: 100}`,
		urlRules + `cel: {expression: "true"}`,
		urlRules + `required: true`,
		"",
	} {
		if rulesAre(value, other) {
			t.Errorf("rules of LinkedInUrl.value match %s", other)
		}
	}
	for _, other := range []string{"", "required: false", `required: true, cel: {expression: "true"}`} {
		if rulesAre(personURLField(), other) {
			t.Errorf("rules of PersonDetails.linkedin_url match %q", other)
		}
	}
}

// protovalidateAccepts says whether protovalidate accepts u as a LinkedInUrl value.
func protovalidateAccepts(tb testing.TB, pv protovalidate.Validator, u string) bool {
	tb.Helper()
	err := pv.Validate(&cdv1.LinkedInUrl{Value: u})
	if _, ok := err.(*protovalidate.ValidationError); err != nil && !ok {
		tb.Fatalf("validate %q: %v", u, err)
	}
	return err == nil
}

// checkSame fails tb unless linkedInURLValid agrees with protovalidate on s: the same answer
// for valid UTF-8, and false (protovalidate decides) otherwise.
func checkSame(tb testing.TB, pv protovalidate.Validator, s string) {
	tb.Helper()
	got := linkedInURLValid(s)
	if !utf8.ValidString(s) {
		if got {
			tb.Errorf("linkedInURLValid(%q) = true for invalid UTF-8", s)
		}
		return
	}
	if want := protovalidateAccepts(tb, pv, s); got != want {
		tb.Errorf("linkedInURLValid(%q) = %v, protovalidate says %v", s, got, want)
	}
}

// urlSeeds are hand-picked cases around each part of the rules.
var urlSeeds = []string{
	"https://www.linkedin.com/in/jake",
	"http://linkedin.com/in/jake/",
	"linkedin.com/in/jake",
	"www.linkedin.co.uk/in/jake",
	"https://uk.linkedin.com/in/jake?trk=x",
	"https://www.linkedin.com/sales/lead/ACwAA,NAME",
	"https://www.linkedin.com/talent/profile/AEMAA",
	"https://www.linkedin.com/in/jake#about",
	"https://www.linkedin.com/in/",
	"https://www.linkedin.com/in//jake",
	"https://www.linkedin.com/in/\\jake",
	"https://www.linkedin.com/in/ja\\ke",
	"https://www.linkedin.com/in/?jake",
	"https://www.linkedin.com/in/,jake",
	"https://www.linkedin.com/in/#jake",
	"https://www.linkedin.com/company/fiber",
	"https://www.example.com/in/jake",
	"HTTPS://WWW.LINKEDIN.COM/IN/JAKE",
	"https://www.linkedin.com/in/ja ke",
	"https://www.linkedin.com/in/jake\n",
	"https://www.linkedin.com/in/ja\x00ke",
	"https://www.linkedin.com/in/ja\x7fke",
	"https://www.linkedin.com/in/ja\u0085ke",
	"https://www.linkedin.com/in/ja\u00a0ke",
	"https://www.linkedin.com/in/ja\u2028ke",
	"https://www.linkedin.com/in/ja\u2029ke",
	"https://www.linkedin.com/in/ja\u2027ke",
	"https://www.linkedin.com/in/ja\u3000ke", // other Unicode space: allowed
	"https://www.linkedin.com/in/zoë",
	"https://www.linkedin.com/in/ë",
	"https://www.linkedin.com/in/\xff",
	"https://www.linkedin.com/in/jake\xff",
	"linkedin.linkedin.com/in/jake",
	"linkedin.linkedin.linkedin.com/in/jake",
	"a.linkedin.c/in/jake",
	"a.linkedin.cc/in/jake",
	".linkedin.com/in/jake",
	"https://linkedin.com/in/jake",
	"https:/linkedin.com/in/jake",
	"https//linkedin.com/in/jake",
	"http://https://linkedin.com/in/jake",
	"https.linkedin.com/in/jake",
	"http.linkedin.com/in/jake",
	"https://http.linkedin.com/in/jake",
	"ftp://linkedin.com/in/jake",
	"www.www.linkedin.com/in/jake",
	"xlinkedin.com/in/jake",
	"https://www.linkedin.com/sales/lead/",
	"https://www.linkedin.com/sales/leadx/jake",
	"https://www.linkedin.com/sales/jake",
	"https://www.linkedin.com/talent/profile/x",
	"https://www.linkedin.com/talent/jake",
	"https://www.linkedin.com/in",
	"https://www.linkedin.com/inx/jake",
	"https://www.linkedin.com//in/jake",
	" https://www.linkedin.com/in/jake",
	"",
	"a",
	"https://www.linkedin.com/in/" + strings.Repeat("a", 2048-28),
	"https://www.linkedin.com/in/" + strings.Repeat("a", 2049-28),
	"https://www.linkedin.com/in/" + strings.Repeat("é", 1010),
	"https://www.linkedin.com/in/" + strings.Repeat("é", 1011),
}

func TestLinkedInURLValidSeeds(t *testing.T) {
	pv, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range urlSeeds {
		checkSame(t, pv, s)
	}
}

// TestLinkedInURLValidRandom compares linkedInURLValid with protovalidate on strings built
// from the parts the rules look at, right and nearly right, then mutated at random.
func TestLinkedInURLValidRandom(t *testing.T) {
	pv, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(13, 2000))
	pick := func(parts ...string) string { return parts[rng.IntN(len(parts))] }
	// Runes of interest: the forbidden ones and their neighbours, the slug's stop characters,
	// letters around [a-z], multi-byte characters, an invalid byte.
	runes := []string{
		"\x00", "\x09", "\n", "\x1f", " ", "!", "\x7e", "\x7f", "\u0080", "\u0085", "\u0086",
		"\u009f", "\u00a0", "\u00a1", "\u2027", "\u2028", "\u2029", "\u202a", "\u3000", "\ufeff",
		"/", "\\", "?", ",", "#", ".", ":", "-", "_", "%", "@", "`", "{", "A", "Z", "a", "z",
		"0", "9", "é", "ß", "字", "😀", "\xff", "\xc3",
	}
	word := func() string {
		var b strings.Builder
		for range rng.IntN(6) {
			if rng.IntN(3) == 0 {
				b.WriteString(pick(runes...))
			} else {
				b.WriteByte(byte('a' + rng.IntN(26)))
			}
		}
		return b.String()
	}
	// part picks one of good (most of the time) or one of bad.
	part := func(good, bad []string) string {
		if rng.IntN(8) == 0 {
			return pick(bad...)
		}
		return pick(good...)
	}
	gen := func() string {
		s := part([]string{"", "http://", "https://"}, []string{"https:/", "http:", "HTTP://", "https//", "ftp://", word() + "://"}) +
			part([]string{"", "www.", "uk.", "linkedin.", "w."}, []string{"WWW.", "ww1.", word() + ".", "."}) +
			part([]string{"linkedin."}, []string{"linkedin", "linkedln.", "LinkedIn.", word() + "."}) +
			part([]string{"com", "uk", "de"}, []string{"c", "", "co.uk", "cOm", word()}) +
			part([]string{"/"}, []string{"", "//", "\\"}) +
			part([]string{"in/", "sales/lead/", "talent/profile/"}, []string{"in", "sales/", "talent/", "IN/", "pub/", word() + "/"}) +
			part([]string{"jake", "ACwAA", "zoë", "字"}, []string{"", word()}) + word() +
			part([]string{"", "/", "?x=1", ",y", "#z"}, []string{word()})
		for range max(0, rng.IntN(6)-3) { // mutate: replace, insert or delete a byte
			if s == "" {
				break
			}
			i := rng.IntN(len(s))
			switch rng.IntN(3) {
			case 0:
				s = s[:i] + pick(runes...) + s[i+1:]
			case 1:
				s = s[:i] + pick(runes...) + s[i:]
			default:
				s = s[:i] + s[i+1:]
			}
		}
		if rng.IntN(50) == 0 { // around the byte limit
			s += strings.Repeat(pick("a", "é", "字"), 2000/len(pick("a", "é", "字"))+rng.IntN(30))
		}
		return s
	}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	valid := 0
	for range n {
		s := gen()
		checkSame(t, pv, s)
		if linkedInURLValid(s) {
			valid++
		}
	}
	t.Logf("%d of %d generated URLs valid", valid, n)
	// Both answers must be common, or the comparison says little.
	if valid < n/20 || valid > n-n/20 {
		t.Errorf("%d of %d generated URLs valid: the generator is lopsided", valid, n)
	}
}

// FuzzLinkedInURLValid compares linkedInURLValid with protovalidate; `go test` runs the seeds,
// `go test -fuzz FuzzLinkedInURLValid ./internal/validation/` searches further.
func FuzzLinkedInURLValid(f *testing.F) {
	for _, s := range urlSeeds {
		f.Add(s)
	}
	pv, err := protovalidate.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) { checkSame(t, pv, s) })
}
