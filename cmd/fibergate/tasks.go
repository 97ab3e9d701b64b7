package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// defaultCallTimeout bounds each call of a task command but watch, unless -timeout says otherwise.
const defaultCallTimeout = 30 * time.Second

// taskCommands are the commands on tasks: get, watch, cancel, delete, list and results.
func taskCommands() []command {
	return []command{
		{name: "get", args: "TASK_ID", summary: "a task's state, progress and charge", run: runGet},
		{name: "watch", args: "TASK_ID", summary: "follow a task to its end: NDJSON, a line per step", run: runWatch},
		{name: "results", args: "TASK_ID", summary: "a task's stored results, all pages", run: runResults},
		{name: "list", args: "", summary: "your tasks, newest first", run: runList},
		{name: "cancel", args: "TASK_ID", summary: "cancel a task's people not yet processed (refunded)", run: runCancel},
		{name: "delete", args: "TASK_ID", summary: "forget a finished task and its results", run: runDelete},
	}
}

// taskIDPattern is the proto's pattern for a task id; the length is checked apart.
var taskIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

const maxTaskIDLen = 128

// checkTaskID refuses, as a usage error, what the server would refuse as a task id.
func checkTaskID(id string) error {
	if id == "" || len(id) > maxTaskIDLen || !taskIDPattern.MatchString(id) {
		return usagef("task id %q: want 1 to %d letters, digits, '_', '.' or '-'", id, maxTaskIDLen)
	}
	return nil
}

// taskFlags are the flags and arguments every task command shares: the connection flags,
// -json and, but for watch, -timeout.
type taskFlags struct {
	name, args string
	about      string // the paragraph usage shows
	fs         *flag.FlagSet
	conn       connFlags
	json       bool
	timeout    time.Duration
}

// newTaskFlags makes the flag set of command name, taking args (as usage shows them) and
// described by about, a paragraph.
func newTaskFlags(e env, name, args, about string) *taskFlags {
	f := &taskFlags{name: name, args: args, about: about, fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.fs.SetOutput(io.Discard) // errors are reported on one line, usage on -h only
	f.conn.register(f.fs, e.getenv)
	return f
}

// usage writes the command's usage to w.
func (f *taskFlags) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: fibergate %s [flags]%s\n\n%s\n\nFlags:\n", f.name, strings.TrimRight(" "+f.args, " "), f.about)
	f.fs.SetOutput(w)
	f.fs.PrintDefaults()
	f.fs.SetOutput(io.Discard)
	fmt.Fprint(w, "\nThe bearer token is read from FIBERGATE_TOKEN. Exit codes: fibergate -h.\n")
}

// withJSON adds -json, described by what.
func (f *taskFlags) withJSON(what string) *taskFlags {
	f.fs.BoolVar(&f.json, "json", false, what)
	return f
}

// withTimeout adds -timeout, the bound of each call.
func (f *taskFlags) withTimeout() *taskFlags {
	f.fs.DurationVar(&f.timeout, "timeout", defaultCallTimeout, "give up on a call to the server after this long")
	return f
}

// parse parses args, flags before or after the arguments, and returns the arguments. It
// wants exactly n of them, each a task id when the command takes TASK_ID.
func (f *taskFlags) parse(args []string, n int) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%s: %v (fibergate %s -h shows the flags)", f.name, err, f.name)
		}
		if f.fs.NArg() == 0 {
			break
		}
		pos = append(pos, f.fs.Arg(0))
		args = f.fs.Args()[1:]
	}
	if len(pos) != n {
		if n == 0 {
			return nil, usagef("%s takes no arguments, got %q", f.name, pos)
		}
		return nil, usagef("%s wants %s, got %d arguments (fibergate %s -h shows the flags)", f.name, f.args, len(pos), f.name)
	}
	if f.args == "TASK_ID" {
		if err := checkTaskID(pos[0]); err != nil {
			return nil, err
		}
	}
	if f.fs.Lookup("timeout") != nil && f.timeout <= 0 {
		return nil, usagef("-timeout must be positive")
	}
	return pos, nil
}

// call returns a context for one call, bounded by -timeout.
func (f *taskFlags) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.timeout)
}

// partialError ends a command that did its work but whose outcome is incomplete: a task that
// ended without every person done, or results of a task still running. Exit code 3.
type partialError struct{ msg string }

func (e *partialError) Error() string { return e.msg }

// runTask parses args (n arguments), dials the server and runs do with the arguments. It
// reports do's error on stderr and returns the exit code.
func runTask(ctx context.Context, e env, f *taskFlags, args []string, n int,
	do func(ctx context.Context, client cdv1.ContactDetailsServiceClient, args []string) error) int {
	pos, err := f.parse(args, n)
	if errors.Is(err, flag.ErrHelp) {
		f.usage(e.stderr)
		return exitOK
	}
	if err != nil {
		return report(e.stderr, err)
	}
	conn, client, err := f.conn.dial()
	if err != nil {
		return report(e.stderr, err)
	}
	defer conn.Close()
	err = do(ctx, client, pos)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err() // interrupted: whatever the call made of it
	}
	var pe *partialError
	if errors.As(err, &pe) {
		fmt.Fprintln(e.stderr, "fibergate: "+oneLine(pe.msg))
		return exitPartial
	}
	if err != nil {
		return report(e.stderr, err)
	}
	return exitOK
}
