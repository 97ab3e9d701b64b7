package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// tasksSampleTask is a cancelled task with every field a table shows set.
func tasksSampleTask() *cdv1.Task {
	at := func(s string) *timestamppb.Timestamp {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return timestamppb.New(ts)
	}
	return &cdv1.Task{
		TaskId: "task-1",
		State:  cdv1.TaskState_TASK_STATE_CANCELED,
		OverallStats: &cdv1.OverallStats{TotalPeopleToFetch: 10, NumCompleted: 4, NumFailed: 1, NumRemaining: 0,
			NumRejected: 2, NumDuplicates: 1},
		EnrichmentTypes: &cdv1.EnrichmentTypesUsed{GetWorkEmails: true, GetPhoneNumbers: true},
		ChargeInfo: &cdv1.ChargeInfo{FiberMethod: "charged-now", Method: &cdv1.ChargeInfo_ChargedNow{ChargedNow: &cdv1.ChargedNow{
			CreditsCharged: 50, LowCreditAlert: &cdv1.LowCreditAlert{AvailableCredits: 12.5, Message: "top up"}}}},
		NumResults:   5,
		CreateTime:   at("2026-12-03T19:25:11Z"),
		UpdateTime:   at("2026-12-03T19:26:00Z"),
		FinishTime:   at("2026-12-03T19:26:00Z"),
		Cancellation: &cdv1.Cancellation{CancelledCount: 5, CreditsRefunded: 25, Message: "cancelled 5 profiles"},
	}
}

func TestTasksWriteTask(t *testing.T) {
	var b bytes.Buffer
	if err := writeTask(&b, tasksSampleTask()); err != nil {
		t.Fatal(err)
	}
	want := `Task:        task-1
State:       CANCELED
People:      10 to fetch: 4 completed, 1 failed, 0 remaining, 2 rejected, 1 duplicates
Results:     5
Enrichment:  work emails, phone numbers
Charge:      charged-now, 50 credits charged, low credits: 12.5 left
Created:     2026-12-03T19:25:11Z
Updated:     2026-12-03T19:26:00Z
Finished:    2026-12-03T19:26:00Z
Cancelled:   5 people cancelled, 25 credits refunded: cancelled 5 profiles
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("writeTask (-want +got):\n%s", diff)
	}

	// A running task adopted by id: no charge, no finish, no cancellation.
	b.Reset()
	if err := writeTask(&b, &cdv1.Task{TaskId: "t2", State: cdv1.TaskState_TASK_STATE_RUNNING}); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"State:       RUNNING\n", "Charge:      -\n", "Finished:    -\n", "Enrichment:  -\n"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("writeTask of a bare task lacks %q:\n%s", line, b.String())
		}
	}
	if strings.Contains(b.String(), "Cancelled") {
		t.Errorf("writeTask of a task never cancelled shows a cancellation:\n%s", b.String())
	}
}

func TestTasksChargeText(t *testing.T) {
	for _, tc := range []struct {
		c    *cdv1.ChargeInfo
		want string
	}{
		{nil, "-"},
		{&cdv1.ChargeInfo{FiberMethod: "free", Method: &cdv1.ChargeInfo_Free{Free: &cdv1.Free{}}}, "free"},
		{&cdv1.ChargeInfo{FiberMethod: "charging-later", Method: &cdv1.ChargeInfo_ChargingLater{ChargingLater: &cdv1.ChargingLater{Message: "after the run"}}}, "charging-later, after the run"},
		{&cdv1.ChargeInfo{FiberMethod: "charged-for-async-process", Method: &cdv1.ChargeInfo_ChargedForAsyncProcess{ChargedForAsyncProcess: &cdv1.ChargedForAsyncProcess{CreditsCharged: 1}}}, "charged-for-async-process, 1 credit charged"},
		{&cdv1.ChargeInfo{FiberMethod: "credits-refunded", Method: &cdv1.ChargeInfo_CreditsRefunded{CreditsRefunded: &cdv1.CreditsRefunded{CreditsRefunded: 2.5}}}, "credits-refunded, 2.5 credits refunded"},
		{&cdv1.ChargeInfo{FiberMethod: "charged-by-the-minute"}, "charged-by-the-minute"}, // a method this version does not know
	} {
		if got := chargeText(tc.c); got != tc.want {
			t.Errorf("chargeText(%v) = %q, want %q", tc.c, got, tc.want)
		}
	}
}

func TestTasksTaskTable(t *testing.T) {
	var b bytes.Buffer
	tt := newTaskTable(&b)
	tt.add(tasksSampleTask())
	tt.add(&cdv1.Task{TaskId: "a-much-longer-task-id", State: cdv1.TaskState_TASK_STATE_RUNNING,
		OverallStats: &cdv1.OverallStats{TotalPeopleToFetch: 2000, NumCompleted: 150}, NumResults: 120})
	if err := tt.flush(); err != nil {
		t.Fatal(err)
	}
	want := `TASK ID                STATE     PEOPLE  COMPLETED  FAILED  REJECTED  RESULTS  CREATED
task-1                 CANCELED  10      4          1       2         5        2026-12-03T19:25:11Z
a-much-longer-task-id  RUNNING   2000    150        0       0         120      -
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("task table (-want +got):\n%s", diff)
	}
}

func TestTasksResultTable(t *testing.T) {
	var b bytes.Buffer
	rt := newResultTable(&b)
	rt.add(&cdv1.PersonResult{Sequence: 1, LinkedinUrl: "https://www.linkedin.com/in/jake",
		Emails: []*cdv1.Email{
			{Email: "jake@acme.com", Type: cdv1.EmailType_EMAIL_TYPE_WORK, Status: cdv1.EmailStatus_EMAIL_STATUS_VALID},
			{Email: "jake@home.net", Type: cdv1.EmailType_EMAIL_TYPE_PERSONAL},
			{Email: "j@x.io", FiberType: "alias", FiberStatus: "catch-all"}, // kinds this version does not know
		},
		PhoneNumbers: []*cdv1.PhoneNumber{{Number: "+1 555 0100", Type: cdv1.PhoneType_PHONE_TYPE_MOBILE}}})
	rt.add(&cdv1.PersonResult{Sequence: 2, LinkedinUrl: "https://www.linkedin.com/in/nobody", NoDataFound: true})
	// Upstream data is shown, never obeyed: a line break or an escape sequence stays visible.
	rt.add(&cdv1.PersonResult{Sequence: 3, LinkedinUrl: "https://www.linkedin.com/in/odd",
		Emails: []*cdv1.Email{{Email: "a\tb@c.d\n\x1b[31m"}}, PhoneNumbers: []*cdv1.PhoneNumber{{Number: "1\u202e2"}}})
	if err := rt.flush(); err != nil {
		t.Fatal(err)
	}
	want := `#  LINKEDIN URL                        STATUS   EMAILS                                                                            PHONES
1  https://www.linkedin.com/in/jake    found    jake@acme.com (work, valid), jake@home.net (personal), j@x.io (alias, catch-all)  +1 555 0100 (mobile)
2  https://www.linkedin.com/in/nobody  no data  -                                                                                 -
3  https://www.linkedin.com/in/odd     found    "a\tb@c.d\n\x1b[31m"                                                              "1\u202e2"
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("result table (-want +got):\n%s", diff)
	}
}

func TestTasksWriteJSON(t *testing.T) {
	var b bytes.Buffer
	for range 2 { // the same bytes every time, one line each
		if err := writeJSON(&b, &cdv1.PersonResult{Sequence: 7, LinkedinUrl: "https://www.linkedin.com/in/jake",
			Emails: []*cdv1.Email{{Email: "jake@acme.com", Type: cdv1.EmailType_EMAIL_TYPE_WORK}}}); err != nil {
			t.Fatal(err)
		}
	}
	line := `{"linkedinUrl":"https://www.linkedin.com/in/jake","noDataFound":false,` +
		`"emails":[{"email":"jake@acme.com","type":"EMAIL_TYPE_WORK","fiberType":"","status":"EMAIL_STATUS_UNSPECIFIED","fiberStatus":""}],` +
		`"phoneNumbers":[],"sequence":7}` + "\n"
	if diff := cmp.Diff(line+line, b.String()); diff != "" {
		t.Errorf("writeJSON (-want +got):\n%s", diff)
	}

	// Unset messages are null, as the REST API gives them.
	b.Reset()
	if err := writeJSON(&b, &cdv1.Task{TaskId: "t"}); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"chargeInfo":null`, `"finishTime":null`, `"cancellation":null`, `"state":"TASK_STATE_UNSPECIFIED"`} {
		if !strings.Contains(b.String(), field) {
			t.Errorf("writeJSON(Task) lacks %s: %s", field, b.String())
		}
	}
}
