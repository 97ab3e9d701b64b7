package enrich

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode"
)

// Format is the kind of an input file.
type Format int

// The input formats.
const (
	// FormatAuto detects the format: by the file name's extension (.csv, .tsv, .jsonl,
	// .ndjson, .txt), else by the first line that is not blank.
	FormatAuto Format = iota
	// FormatCSV is a CSV file with a header row; a ".tsv" name or a header with tabs and no
	// commas means tab-separated, a header with semicolons and no commas semicolon-separated.
	FormatCSV
	// FormatJSONL is one JSON object a line with a "linkedinUrl" or "linkedin_url" field,
	// a string or Fiber's {"value": string}.
	FormatJSONL
	// FormatText is one URL a line; blank lines are skipped, and a first line that names a
	// LinkedIn column (such as "linkedin_url") is taken for a header.
	FormatText
)

// String names the format as ParseFormat accepts it.
func (f Format) String() string {
	switch f {
	case FormatCSV:
		return "csv"
	case FormatJSONL:
		return "jsonl"
	case FormatText:
		return "text"
	}
	return "auto"
}

// ParseFormat reads a format's name: auto, csv, jsonl or text.
func ParseFormat(s string) (Format, error) {
	for _, f := range []Format{FormatAuto, FormatCSV, FormatJSONL, FormatText} {
		if strings.EqualFold(s, f.String()) {
			return f, nil
		}
	}
	return FormatAuto, fmt.Errorf("unknown input format %q: want auto, csv, jsonl or text", s)
}

// Row is one input row that names a person (blank lines of JSONL and text are not rows).
type Row struct {
	// Line is the 1-based line of the input where the row starts.
	Line int
	// Fields are a CSV row's cells, padded to the header's width; nil for JSONL and text.
	Fields []string
	// Value is the row's LinkedIn URL as read: the LinkedIn column's cell, the JSON field or
	// the line. Problem, when set, says why the row has none.
	Value   string
	Problem string
}

// Input is a read input file.
type Input struct {
	Name   string // as given, for messages
	Format Format
	// Header is a CSV file's header row, padded to the widest row; nil for JSONL and text.
	Header []string
	// Column is the index in Header of the LinkedIn column; -1 for JSONL and text.
	Column int
	// ColumnByContent: the column was chosen by its cells, not by its name.
	ColumnByContent bool
	Rows            []Row
	// Digest is the SHA-256 of the input's bytes.
	Digest [sha256.Size]byte
}

// InputError is a problem with the input file itself (not with one of its rows): it cannot
// be read as its format, or has no LinkedIn column.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{fmt.Sprintf(format, args...)}
}

// ReadOptions say how to read an input.
type ReadOptions struct {
	// Name is the file's name (or "-" for stdin), for detection by extension and messages.
	Name   string
	Format Format
	// Column names the CSV column holding the LinkedIn URLs (any case); empty: found by its
	// name (linkedin_url, linkedinUrl, linkedin, profile_url, url, ...) or by its content.
	Column string
}

// columnNames are the header names taken for the LinkedIn column, best first, compared
// after lower-casing and dropping everything but letters and digits.
var columnNames = []string{"linkedinurl", "linkedinprofileurl", "linkedinprofile", "linkedin", "profileurl", "url"}

// contentSample is how many rows column detection by content looks at.
const contentSample = 500

// ReadInput reads a whole input. Problems with single rows are left in Row.Problem; the
// error is an *InputError when the input is unusable, or the reader's error.
func ReadInput(r io.Reader, opts ReadOptions) (*Input, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", opts.Name, err)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF")) // a UTF-8 byte order mark, as Excel writes
	in := &Input{Name: opts.Name, Format: opts.Format, Column: -1, Digest: sha256.Sum256(data)}
	if in.Format == FormatAuto {
		in.Format = detect(opts.Name, data)
	}
	if opts.Column != "" && in.Format != FormatCSV {
		return nil, inputErrorf("-column is for CSV input; %s is read as %s", opts.Name, in.Format)
	}
	switch in.Format {
	case FormatCSV:
		err = in.readCSV(data, opts)
	case FormatJSONL:
		err = in.readJSONL(data)
	default:
		in.readText(data)
	}
	if err != nil {
		return nil, err
	}
	return in, nil
}

// detect tells the format by the name's extension, else by the first line that is not blank.
func detect(name string, data []byte) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv", ".tsv":
		return FormatCSV
	case ".jsonl", ".ndjson":
		return FormatJSONL
	case ".txt":
		return FormatText
	}
	first := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if first = strings.TrimSpace(sc.Text()); first != "" {
			break
		}
	}
	switch {
	case strings.HasPrefix(first, "{"):
		return FormatJSONL
	case strings.ContainsAny(first, ",;\t"):
		return FormatCSV
	}
	return FormatText
}

// comma picks the CSV separator from the name and the header line.
func comma(name string, data []byte) rune {
	if strings.EqualFold(filepath.Ext(name), ".tsv") {
		return '\t'
	}
	header, _, _ := bytes.Cut(data, []byte("\n"))
	if bytes.IndexByte(header, ',') < 0 {
		switch {
		case bytes.IndexByte(header, '\t') >= 0:
			return '\t'
		case bytes.IndexByte(header, ';') >= 0:
			return ';'
		}
	}
	return ','
}

func (in *Input) readCSV(data []byte, opts ReadOptions) error {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = comma(opts.Name, data)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return inputErrorf("%s is empty: want a header row, then one row a person", opts.Name)
	}
	if err != nil {
		return inputErrorf("read %s: %v", opts.Name, err)
	}
	width := len(header)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return inputErrorf("read %s: %v", opts.Name, err)
		}
		if len(rec) == 1 && rec[0] == "" {
			continue // a blank line
		}
		line, _ := cr.FieldPos(0)
		in.Rows = append(in.Rows, Row{Line: line, Fields: rec})
		width = max(width, len(rec))
	}
	in.Header = pad(header, width)
	for i := range in.Rows {
		in.Rows[i].Fields = pad(in.Rows[i].Fields, width)
	}
	col, byContent, err := findColumn(in.Header, in.Rows, opts.Column)
	if err != nil {
		return inputErrorf("%s: %v", opts.Name, err)
	}
	in.Column, in.ColumnByContent = col, byContent
	for i := range in.Rows {
		in.Rows[i].Value = in.Rows[i].Fields[col]
	}
	return nil
}

func pad(fields []string, width int) []string {
	for len(fields) < width {
		fields = append(fields, "")
	}
	return fields
}

// normalizeName lower-cases a column name and drops all but its letters and digits.
func normalizeName(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// findColumn finds the LinkedIn column: the one named (exactly, in any case), else the best
// known name, else the column with the most profile URLs among the first rows.
func findColumn(header []string, rows []Row, named string) (col int, byContent bool, err error) {
	if named != "" {
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), strings.TrimSpace(named)) {
				return i, false, nil
			}
		}
		return -1, false, fmt.Errorf("no column %q in the header (%s)", named, strings.Join(header, ", "))
	}
	for _, want := range columnNames {
		for i, h := range header {
			if normalizeName(h) == want {
				return i, false, nil
			}
		}
	}
	best, bestCount := -1, 0
	for i := range header {
		n := 0
		for _, r := range rows[:min(len(rows), contentSample)] {
			if _, err := ParseProfile(r.Fields[i]); err == nil {
				n++
			}
		}
		if n > bestCount {
			best, bestCount = i, n
		}
	}
	if best < 0 {
		return -1, false, fmt.Errorf("no LinkedIn column: none is named like linkedin_url, and none holds LinkedIn profile URLs; name it with -column")
	}
	return best, true, nil
}

func (in *Input) readJSONL(data []byte) error {
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		row := Row{Line: i + 1}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil {
			row.Problem = "not a JSON object"
			in.Rows = append(in.Rows, row)
			continue
		}
		raw, ok := obj["linkedinUrl"]
		if !ok {
			raw, ok = obj["linkedin_url"]
		}
		if !ok {
			row.Problem = `no "linkedinUrl" or "linkedin_url" field`
			in.Rows = append(in.Rows, row)
			continue
		}
		var s string
		var wrapped struct {
			Value *string `json:"value"`
		}
		switch {
		case json.Unmarshal(raw, &s) == nil:
			row.Value = s
		case json.Unmarshal(raw, &wrapped) == nil && wrapped.Value != nil:
			row.Value = *wrapped.Value
		default:
			row.Problem = "the LinkedIn URL field is neither a string nor {\"value\": string}"
		}
		in.Rows = append(in.Rows, row)
	}
	return nil
}

func (in *Input) readText(data []byte) {
	first := true
	for i, line := range strings.Split(string(data), "\n") {
		v := strings.TrimSpace(line)
		if v == "" {
			continue
		}
		if first {
			first = false
			if isColumnName(v) {
				continue // a header line
			}
		}
		in.Rows = append(in.Rows, Row{Line: i + 1, Value: v})
	}
}

func isColumnName(s string) bool {
	n := normalizeName(s)
	for _, c := range columnNames {
		if n == c {
			return true
		}
	}
	return false
}
