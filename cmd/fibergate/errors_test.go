package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestDescribeIsOneLineWithReasonFieldsAndDelay(t *testing.T) {
	st, err := status.New(codes.InvalidArgument, "request is invalid").WithDetails(
		&errdetails.ErrorInfo{Reason: "VALIDATION_FAILED", Domain: "fibergate"},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "person_details[0].linkedin_url.value", Description: "must be a LinkedIn URL"},
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	limited, err := status.New(codes.ResourceExhausted, "no start slot\nwithin the deadline").WithDetails(
		&errdetails.ErrorInfo{Reason: "RATE_LIMITED"},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		err  error
		want string
		code int
	}{
		{st.Err(), "InvalidArgument VALIDATION_FAILED: request is invalid; person_details[0].linkedin_url.value: must be a LinkedIn URL", exitError},
		{fmt.Errorf("start batch 2: %w", limited.Err()), "start batch 2: ResourceExhausted RATE_LIMITED: no start slot within the deadline (retry in 1.5s)", exitError},
		{status.Error(codes.Unavailable, "connection refused"), "Unavailable: cannot reach the server: connection refused", exitError},
		{usagef("-addr %q: want host:port", "x"), `-addr "x": want host:port`, exitUsage},
		{fmt.Errorf("watch: %w", context.Canceled), "interrupted", exitInterrupted},
		{errors.New("read input.csv: line 3:\nbad quote"), "read input.csv: line 3: bad quote", exitError},
	} {
		var w bytes.Buffer
		code := report(&w, tc.err)
		got := w.String()
		if got != "fibergate: "+tc.want+"\n" {
			t.Errorf("report(%v) = %q, want %q", tc.err, got, "fibergate: "+tc.want+"\n")
		}
		if strings.Count(got, "\n") != 1 {
			t.Errorf("report(%v) is not one line: %q", tc.err, got)
		}
		if code != tc.code {
			t.Errorf("report(%v) exit %d, want %d", tc.err, code, tc.code)
		}
	}
}

func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "Usage: fibergate COMMAND"},
		{[]string{"-h"}, exitOK, "Exit codes:"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}, tc.args)
		if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("run(%q) = %d, stderr %q; want %d and %q", tc.args, code, errOut.String(), tc.code, tc.want)
		}
	}
}
