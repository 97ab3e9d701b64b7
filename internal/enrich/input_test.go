package enrich

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func read(t *testing.T, name, data string, opts ReadOptions) *Input {
	t.Helper()
	opts.Name = name
	in, err := ReadInput(strings.NewReader(data), opts)
	if err != nil {
		t.Fatalf("ReadInput(%s): %v", name, err)
	}
	return in
}

func values(in *Input) []string {
	var v []string
	for _, r := range in.Rows {
		v = append(v, r.Value)
	}
	return v
}

func lines(in *Input) []int {
	var l []int
	for _, r := range in.Rows {
		l = append(l, r.Line)
	}
	return l
}

func TestReadCSVFindsTheColumn(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		opts       ReadOptions
		column     int
		byContent  bool
	}{
		{"by name", "name,LinkedIn URL,company\nJake,https://linkedin.com/in/jake,Acme\n", ReadOptions{}, 1, false},
		{"camel case", "linkedinUrl,x\nhttps://linkedin.com/in/jake,1\n", ReadOptions{}, 0, false},
		{"best name wins", "url,profile_url,linkedin\nhttps://a.com,https://linkedin.com/in/x,https://linkedin.com/in/jake\n", ReadOptions{}, 2, false},
		{"by content", "name,where\nJake,https://www.linkedin.com/in/jake\nAnn,https://www.linkedin.com/in/ann\n", ReadOptions{}, 1, true},
		{"named", "a,b\nhttps://linkedin.com/in/x,https://linkedin.com/in/y\n", ReadOptions{Column: "B"}, 1, false},
		{"semicolons and a BOM", "\uFEFFname;linkedin\nJake;https://linkedin.com/in/jake\n", ReadOptions{}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := read(t, "x.csv", tc.data, tc.opts)
			if in.Format != FormatCSV || in.Column != tc.column || in.ColumnByContent != tc.byContent {
				t.Errorf("format %v column %d (by content %v), want csv %d (%v)", in.Format, in.Column, in.ColumnByContent, tc.column, tc.byContent)
			}
		})
	}
}

func TestReadCSVKeepsRowsAndLines(t *testing.T) {
	data := "name,linkedin_url,note\n" +
		"Jake,https://linkedin.com/in/jake,\"two\nlines\"\n" +
		"\n" +
		"Ann,https://linkedin.com/in/ann\n" // short row: padded
	in := read(t, "people.csv", data, ReadOptions{})
	want := []Row{
		{Line: 2, Fields: []string{"Jake", "https://linkedin.com/in/jake", "two\nlines"}, Value: "https://linkedin.com/in/jake"},
		{Line: 5, Fields: []string{"Ann", "https://linkedin.com/in/ann", ""}, Value: "https://linkedin.com/in/ann"},
	}
	if diff := cmp.Diff(want, in.Rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestReadCSVErrors(t *testing.T) {
	for _, tc := range []struct{ data, column, want string }{
		{"", "", "is empty"},
		{"name,company\nJake,Acme\n", "", "no LinkedIn column"},
		{"a,b\nx,y\n", "c", `no column "c"`},
		{"a,b\n\"x,y\n", "", "x.csv"},
	} {
		_, err := ReadInput(strings.NewReader(tc.data), ReadOptions{Name: "x.csv", Column: tc.column})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadInput(%q): %v, want an InputError with %q", tc.data, err, tc.want)
		}
	}
}

func TestReadJSONLAndText(t *testing.T) {
	jsonl := `{"linkedinUrl":"https://linkedin.com/in/a","n":1}

{"linkedin_url":{"value":"https://linkedin.com/in/b"}}
not json
{"name":"c"}
`
	in := read(t, "-", jsonl, ReadOptions{}) // detected by content
	if in.Format != FormatJSONL {
		t.Fatalf("format %v, want jsonl", in.Format)
	}
	wantRows := []Row{
		{Line: 1, Value: "https://linkedin.com/in/a"},
		{Line: 3, Value: "https://linkedin.com/in/b"},
		{Line: 4, Problem: "not a JSON object"},
		{Line: 5, Problem: `no "linkedinUrl" or "linkedin_url" field`},
	}
	if diff := cmp.Diff(wantRows, in.Rows); diff != "" {
		t.Errorf("jsonl rows (-want +got):\n%s", diff)
	}

	text := "LinkedIn URL\nhttps://linkedin.com/in/a\n\n  https://linkedin.com/in/b  \r\n"
	in = read(t, "urls", text, ReadOptions{})
	if in.Format != FormatText {
		t.Fatalf("format %v, want text", in.Format)
	}
	if diff := cmp.Diff([]string{"https://linkedin.com/in/a", "https://linkedin.com/in/b"}, values(in)); diff != "" {
		t.Errorf("text values (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2, 4}, lines(in)); diff != "" {
		t.Errorf("text lines (-want +got):\n%s", diff)
	}
}
