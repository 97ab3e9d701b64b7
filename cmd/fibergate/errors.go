package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// report writes err to w as one line a person can act on, and returns its exit code.
// A status from the server shows its code, its ErrorInfo reason, the message, the fields at
// fault and the retry delay; never a Go stack or a raw status dump.
func report(w io.Writer, err error) int {
	fmt.Fprintln(w, "fibergate: "+describe(err))
	return exitCode(err)
}

// exitCode is err's exit code.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitError
}

// describe renders err on one line.
func describe(err error) string {
	var ue *usageError
	if errors.As(err, &ue) {
		return oneLine(ue.msg)
	}
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) || se.GRPCStatus().Code() == codes.OK {
		return oneLine(err.Error())
	}
	st := se.GRPCStatus() // its own message, without the context err was wrapped in
	// The context an error was wrapped with, before the status: "start batch 2: ".
	prefix := ""
	if s := err.Error(); !strings.HasPrefix(s, "rpc error:") {
		if i := strings.Index(s, "rpc error:"); i > 0 {
			prefix = s[:i]
		}
	}
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(st.Code().String())
	r := reason(err)
	if r != "" {
		b.WriteString(" " + r)
	}
	if st.Code() == codes.Unavailable && r == "" {
		b.WriteString(": cannot reach the server: " + st.Message())
	} else {
		b.WriteString(": " + st.Message())
	}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				fmt.Fprintf(&b, "; %s: %s", v.GetField(), v.GetDescription())
			}
		case *errdetails.RetryInfo:
			if d.GetRetryDelay() != nil {
				fmt.Fprintf(&b, " (retry in %v)", d.GetRetryDelay().AsDuration())
			}
		}
	}
	return oneLine(b.String())
}

// oneLine folds line breaks, so that every error is one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// reason returns the ErrorInfo reason of a status error, or "".
func reason(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}
