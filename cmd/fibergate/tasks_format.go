package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// jsonOptions give the REST API's JSON: lowerCamelCase names, enums by name, every field
// present (unset messages as null).
var jsonOptions = protojson.MarshalOptions{EmitUnpopulated: true}

// writeJSON writes m to w as one line of JSON, in one Write, so that a reader of a stream
// sees whole lines only.
func writeJSON(w io.Writer, m proto.Message) error {
	b, err := jsonOptions.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.ProtoReflect().Descriptor().Name(), err)
	}
	var line bytes.Buffer
	// protojson's spacing varies on purpose; compacted, the line is the same on every run.
	if err := json.Compact(&line, b); err != nil {
		return fmt.Errorf("encode %s: %w", m.ProtoReflect().Descriptor().Name(), err)
	}
	line.WriteByte('\n')
	if _, err := w.Write(line.Bytes()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// newTable returns a tabwriter for an aligned table; the caller flushes it.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// writeTask writes t for a person: a label and a value per line.
func writeTask(w io.Writer, t *cdv1.Task) error {
	tw := newTable(w)
	s := t.GetOverallStats()
	rows := [][2]string{
		{"Task", cell(t.GetTaskId())},
		{"State", stateName(t.GetState())},
		{"People", fmt.Sprintf("%d to fetch: %d completed, %d failed, %d remaining, %d rejected, %d duplicates",
			s.GetTotalPeopleToFetch(), s.GetNumCompleted(), s.GetNumFailed(), s.GetNumRemaining(), s.GetNumRejected(), s.GetNumDuplicates())},
		{"Results", strconv.Itoa(int(t.GetNumResults()))},
		{"Enrichment", enrichmentText(t.GetEnrichmentTypes())},
		{"Charge", chargeText(t.GetChargeInfo())},
		{"Created", timeText(t.GetCreateTime())},
		{"Updated", timeText(t.GetUpdateTime())},
		{"Finished", timeText(t.GetFinishTime())},
	}
	if c := t.GetCancellation(); c != nil {
		rows = append(rows, [2]string{"Cancelled", cancellationText(c.GetCancelledCount(), c.GetCreditsRefunded(), c.GetMessage())})
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return flush(tw)
}

// taskTable lists tasks, a row each.
type taskTable struct{ tw *tabwriter.Writer }

func newTaskTable(w io.Writer) *taskTable {
	t := &taskTable{newTable(w)}
	fmt.Fprintln(t.tw, "TASK ID\tSTATE\tPEOPLE\tCOMPLETED\tFAILED\tREJECTED\tRESULTS\tCREATED")
	return t
}

func (t *taskTable) add(task *cdv1.Task) {
	s := task.GetOverallStats()
	fmt.Fprintf(t.tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", cell(task.GetTaskId()), stateName(task.GetState()),
		s.GetTotalPeopleToFetch(), s.GetNumCompleted(), s.GetNumFailed(), s.GetNumRejected(), task.GetNumResults(),
		timeText(task.GetCreateTime()))
}

func (t *taskTable) flush() error { return flush(t.tw) }

// resultTable lists results, a row per person.
type resultTable struct{ tw *tabwriter.Writer }

func newResultTable(w io.Writer) *resultTable {
	t := &resultTable{newTable(w)}
	fmt.Fprintln(t.tw, "#\tLINKEDIN URL\tSTATUS\tEMAILS\tPHONES")
	return t
}

func (t *resultTable) add(r *cdv1.PersonResult) {
	status := "found"
	if r.GetNoDataFound() {
		status = "no data"
	}
	emails := make([]string, len(r.GetEmails()))
	for i, e := range r.GetEmails() {
		emails[i] = cell(e.GetEmail()) + annotation(
			enumText(e.GetType().String(), "EMAIL_TYPE_", e.GetFiberType()),
			enumText(e.GetStatus().String(), "EMAIL_STATUS_", e.GetFiberStatus()))
	}
	phones := make([]string, len(r.GetPhoneNumbers()))
	for i, p := range r.GetPhoneNumbers() {
		phones[i] = cell(p.GetNumber()) + annotation(enumText(p.GetType().String(), "PHONE_TYPE_", p.GetFiberType()))
	}
	fmt.Fprintf(t.tw, "%d\t%s\t%s\t%s\t%s\n", r.GetSequence(), cell(r.GetLinkedinUrl()), status,
		orDash(strings.Join(emails, ", ")), orDash(strings.Join(phones, ", ")))
}

func (t *resultTable) flush() error { return flush(t.tw) }

func flush(tw *tabwriter.Writer) error {
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// stateName is a task state without its prefix: RUNNING.
func stateName(s cdv1.TaskState) string {
	return strings.TrimPrefix(s.String(), "TASK_STATE_")
}

// enumText names an enum value in lower case without its prefix, or Fiber's own string for
// a value this version does not know; "" when neither says anything.
func enumText(name, prefix, fiber string) string {
	v, ok := strings.CutPrefix(name, prefix)
	if !ok || v == "UNSPECIFIED" {
		return cell(fiber)
	}
	return strings.ToLower(v)
}

// annotation is " (a, b)" of the non-empty parts, or "".
func annotation(parts ...string) string {
	kept := nonEmpty(parts)
	if len(kept) == 0 {
		return ""
	}
	return " (" + strings.Join(kept, ", ") + ")"
}

func enrichmentText(e *cdv1.EnrichmentTypesUsed) string {
	var kinds []string
	if e.GetGetWorkEmails() {
		kinds = append(kinds, "work emails")
	}
	if e.GetGetPersonalEmails() {
		kinds = append(kinds, "personal emails")
	}
	if e.GetGetPhoneNumbers() {
		kinds = append(kinds, "phone numbers")
	}
	return orDash(strings.Join(kinds, ", "))
}

// chargeText says how the start was charged: Fiber's method and the credits.
func chargeText(c *cdv1.ChargeInfo) string {
	if c == nil {
		return "-"
	}
	parts := []string{cell(c.GetFiberMethod())}
	var alert *cdv1.LowCreditAlert
	switch m := c.GetMethod().(type) {
	case *cdv1.ChargeInfo_ChargedNow:
		parts = append(parts, credits(m.ChargedNow.GetCreditsCharged())+" charged")
		alert = m.ChargedNow.GetLowCreditAlert()
	case *cdv1.ChargeInfo_ChargingLater:
		parts = append(parts, cell(m.ChargingLater.GetMessage()))
		alert = m.ChargingLater.GetLowCreditAlert()
	case *cdv1.ChargeInfo_ChargedForAsyncProcess:
		parts = append(parts, credits(m.ChargedForAsyncProcess.GetCreditsCharged())+" charged")
		alert = m.ChargedForAsyncProcess.GetLowCreditAlert()
	case *cdv1.ChargeInfo_Free:
		alert = m.Free.GetLowCreditAlert()
	case *cdv1.ChargeInfo_CreditsRefunded:
		parts = append(parts, credits(m.CreditsRefunded.GetCreditsRefunded())+" refunded")
		alert = m.CreditsRefunded.GetLowCreditAlert()
	}
	if alert != nil {
		parts = append(parts, fmt.Sprintf("low credits: %s left", strconv.FormatFloat(alert.GetAvailableCredits(), 'f', -1, 64)))
	}
	return strings.Join(nonEmpty(parts), ", ")
}

func cancellationText(people int32, refunded float64, msg string) string {
	s := fmt.Sprintf("%d people cancelled, %s refunded", people, credits(refunded))
	if msg != "" {
		s += ": " + cell(msg)
	}
	return s
}

func credits(f float64) string {
	if f == 1 {
		return "1 credit"
	}
	return strconv.FormatFloat(f, 'f', -1, 64) + " credits"
}

func timeText(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cell makes s safe in a table on a terminal: a string holding a character that is not
// graphic (a tab, a line break, an escape sequence or a direction override from upstream
// data) is shown quoted, with escapes, instead.
func cell(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) }) {
		return strconv.QuoteToGraphic(s)
	}
	return s
}
