package enrich

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// OutputFormat is the kind of the output file.
type OutputFormat int

// The output formats.
const (
	// OutputCSV is one row per valid input row: the row's own columns (for JSONL and text
	// input, its URL as linkedin_url), then input_line, status, duplicate_of, emails and
	// phone_numbers (each prefixed with "fibergate_" when the input has a column of that name).
	OutputCSV OutputFormat = iota + 1
	// OutputJSONL is one PersonResult a line in the contract's JSON (the REST gateway's:
	// lowerCamelCase, every field present), with inputLine, status and, for a duplicate,
	// duplicateOf added.
	OutputJSONL
)

// String names the format as ParseOutputFormat accepts it.
func (f OutputFormat) String() string {
	if f == OutputJSONL {
		return "jsonl"
	}
	return "csv"
}

// ParseOutputFormat reads a format's name: csv or jsonl.
func ParseOutputFormat(s string) (OutputFormat, error) {
	switch strings.ToLower(s) {
	case "csv":
		return OutputCSV, nil
	case "jsonl", "ndjson":
		return OutputJSONL, nil
	}
	return 0, fmt.Errorf("unknown output format %q: want csv or jsonl", s)
}

// OutputFormatFor tells the format by a path's extension (.csv, .jsonl, .ndjson); false
// when the extension says nothing.
func OutputFormatFor(path string) (OutputFormat, bool) {
	f, err := ParseOutputFormat(strings.TrimPrefix(filepath.Ext(path), "."))
	return f, err == nil
}

// Row statuses in the output.
const (
	StatusFound     = "found"
	StatusNoData    = "no data"
	StatusRejected  = "rejected"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
	StatusDuplicate = "duplicate"
)

// csvExtra are the columns added to the CSV output.
var csvExtra = []string{"input_line", "status", "duplicate_of", "emails", "phone_numbers"}

// output writes rows to the output file, or to a stream without state. Not safe for
// concurrent use: the run's writer goroutine owns it.
type output struct {
	plan   *Plan
	format OutputFormat
	file   *os.File // nil when writing to a stream
	count  *countingWriter
	csv    *csv.Writer
	buf    *bufio.Writer // for JSONL
}

// newOutput writes to w, which has already n bytes (those are kept). file, if not nil, is w
// and is synced at each checkpoint.
func newOutput(p *Plan, format OutputFormat, w io.Writer, file *os.File, n int64) *output {
	o := &output{plan: p, format: format, file: file, count: &countingWriter{w: w, n: n}}
	if format == OutputCSV {
		o.csv = csv.NewWriter(o.count)
	} else {
		o.buf = bufio.NewWriterSize(o.count, 64<<10)
	}
	return o
}

// writeHeader writes the CSV header row; nothing for JSONL.
func (o *output) writeHeader() error {
	if o.csv == nil {
		return nil
	}
	return o.csv.Write(append(o.baseHeader(), o.extraHeader()...))
}

func (o *output) baseHeader() []string {
	if o.plan.Input.Header != nil {
		return o.plan.Input.Header
	}
	return []string{"linkedin_url"}
}

func (o *output) extraHeader() []string {
	prefix := ""
	for _, h := range o.baseHeader() {
		for _, e := range csvExtra {
			if strings.EqualFold(strings.TrimSpace(h), e) {
				prefix = "fibergate_"
			}
		}
	}
	out := make([]string, len(csvExtra))
	for i, e := range csvExtra {
		out[i] = prefix + e
	}
	return out
}

// writeRow writes planned row r with its status and its person's result (nil for none).
func (o *output) writeRow(r *PlannedRow, status string, res *cdv1.PersonResult) error {
	if o.csv != nil {
		base := r.Fields
		if base == nil {
			base = []string{r.Value}
		}
		dup := ""
		if r.DuplicateOf > 0 {
			dup = strconv.Itoa(r.DuplicateOf)
		}
		rec := append(append(make([]string, 0, len(base)+len(csvExtra)), base...),
			strconv.Itoa(r.Line), status, dup, formatEmails(res.GetEmails()), formatPhones(res.GetPhoneNumbers()))
		return o.csv.Write(rec)
	}
	if res == nil {
		res = &cdv1.PersonResult{LinkedinUrl: o.plan.People[r.Person].URL}
	}
	body, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	head := map[string]any{"inputLine": r.Line, "status": status}
	if r.DuplicateOf > 0 {
		head["duplicateOf"] = r.DuplicateOf
	}
	hb, err := json.Marshal(head)
	if err != nil {
		return err
	}
	// {"duplicateOf":..,"inputLine":..,"status":..,} + the result's fields.
	o.buf.Write(hb[:len(hb)-1])
	o.buf.WriteByte(',')
	o.buf.Write(compact.Bytes()[1:])
	return o.buf.WriteByte('\n')
}

// checkpoint makes everything written so far durable and returns the output's length.
func (o *output) checkpoint() (int64, error) {
	if o.csv != nil {
		o.csv.Flush()
		if err := o.csv.Error(); err != nil {
			return 0, fmt.Errorf("write output: %w", err)
		}
	} else if err := o.buf.Flush(); err != nil {
		return 0, fmt.Errorf("write output: %w", err)
	}
	if o.file != nil {
		if err := o.file.Sync(); err != nil {
			return 0, fmt.Errorf("sync output: %w", err)
		}
	}
	return o.count.n, nil
}

// countingWriter counts the bytes written through it, after n already there.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// formatEmails renders emails as "a@x.com (work, valid); b@y.com (personal)".
func formatEmails(emails []*cdv1.Email) string {
	parts := make([]string, 0, len(emails))
	for _, e := range emails {
		kind := enumWord(e.GetType().String(), "EMAIL_TYPE_", e.GetFiberType())
		attrs := []string{}
		if kind != "" {
			attrs = append(attrs, kind)
		}
		if st := enumWord(e.GetStatus().String(), "EMAIL_STATUS_", e.GetFiberStatus()); st != "" {
			attrs = append(attrs, st)
		}
		parts = append(parts, withAttrs(e.GetEmail(), attrs))
	}
	return strings.Join(parts, "; ")
}

// formatPhones renders phone numbers as "+1 555 0100 (mobile); ...".
func formatPhones(phones []*cdv1.PhoneNumber) string {
	parts := make([]string, 0, len(phones))
	for _, p := range phones {
		var attrs []string
		if kind := enumWord(p.GetType().String(), "PHONE_TYPE_", p.GetFiberType()); kind != "" {
			attrs = append(attrs, kind)
		}
		parts = append(parts, withAttrs(p.GetNumber(), attrs))
	}
	return strings.Join(parts, "; ")
}

func withAttrs(s string, attrs []string) string {
	if len(attrs) == 0 {
		return s
	}
	return s + " (" + strings.Join(attrs, ", ") + ")"
}

// enumWord turns "EMAIL_TYPE_WORK" into "work"; an unspecified value into Fiber's own word.
func enumWord(name, prefix, fiber string) string {
	w := strings.ToLower(strings.TrimPrefix(name, prefix))
	if w == "unspecified" {
		return strings.ToLower(fiber)
	}
	return w
}
