package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// Page sizes: the largest the contract allows, so that paging costs the fewest calls.
const (
	listPageSize    = 100
	resultsPageSize = 1000
)

// runList prints the caller's tasks, newest first, every page.
func runList(ctx context.Context, e env, args []string) int {
	f := newTaskFlags(e, "list", "", "List prints your tasks, newest first: all of them, every page, unless -limit says\nhow many.").
		withJSON("print each Task as a line of JSON (NDJSON), as the REST API gives it").withTimeout()
	var state stateFlag
	f.fs.Var(&state, "state", "only tasks in this state: running, succeeded, failed or canceled (default: all)")
	limit := f.fs.Int("limit", 0, "print at most this many tasks (0: all)")
	return runTask(ctx, e, f, args, 0, func(ctx context.Context, client cdv1.ContactDetailsServiceClient, _ []string) error {
		if *limit < 0 {
			return usagef("-limit must be 0 (all) or more")
		}
		var table *taskTable
		if !f.json {
			table = newTaskTable(e.stdout)
		}
		err := listTasks(ctx, f, client, cdv1.TaskState(state), *limit, func(t *cdv1.Task) error {
			if table != nil {
				table.add(t)
				return nil
			}
			return writeJSON(e.stdout, t)
		})
		if table != nil { // what was read before an error is shown too
			err = errors.Join(err, table.flush())
		}
		return err
	})
}

// listTasks calls each with the tasks in state (all when unspecified), page after page,
// until the last page or limit tasks (0: no limit).
func listTasks(ctx context.Context, f *taskFlags, client cdv1.ContactDetailsServiceClient, state cdv1.TaskState, limit int,
	each func(*cdv1.Task) error) error {
	n, token := 0, ""
	for {
		size := listPageSize
		if limit > 0 {
			size = min(size, limit-n)
		}
		cctx, cancel := f.call(ctx)
		resp, err := client.ListTasks(cctx, &cdv1.ListTasksRequest{PageSize: int32(size), PageToken: token, State: state})
		cancel()
		if err != nil {
			return fmt.Errorf("list tasks: %w", err)
		}
		for _, t := range resp.GetTasks() {
			if limit > 0 && n == limit {
				return nil
			}
			if err := each(t); err != nil {
				return err
			}
			n++
		}
		next := resp.GetNextPageToken()
		if next == "" || (limit > 0 && n == limit) {
			return nil
		}
		if next == token {
			return errors.New("list tasks: the server gave the same page token again")
		}
		token = next
	}
}

// runResults prints the stored results of a task, every page.
func runResults(ctx context.Context, e env, args []string) int {
	f := newTaskFlags(e, "results", "TASK_ID", "Results prints the results stored for a task, in arrival order, every page. Of a\ntask still running it prints the results stored so far, and exits 3 (watch follows\na task to its end).").
		withJSON("print each PersonResult as a line of JSON (NDJSON), as the REST API gives it").withTimeout()
	return runTask(ctx, e, f, args, 1, func(ctx context.Context, client cdv1.ContactDetailsServiceClient, args []string) error {
		var table *resultTable
		if !f.json {
			table = newResultTable(e.stdout)
		}
		err := listResults(ctx, f, client, args[0], func(r *cdv1.PersonResult) error {
			if table != nil {
				table.add(r)
				return nil
			}
			return writeJSON(e.stdout, r)
		})
		if table != nil {
			err = errors.Join(table.flush(), err) // the partial note comes after the table
		}
		return err
	})
}

// listResults calls each with every result stored for task id, page after page. When the
// task runs still, it stops once it has read every result stored so far, with a
// *partialError.
func listResults(ctx context.Context, f *taskFlags, client cdv1.ContactDetailsServiceClient, id string,
	each func(*cdv1.PersonResult) error) error {
	n, token := 0, ""
	for {
		cctx, cancel := f.call(ctx)
		resp, err := client.ListTaskResults(cctx, &cdv1.ListTaskResultsRequest{TaskId: id, PageSize: resultsPageSize, PageToken: token})
		cancel()
		if err != nil {
			return fmt.Errorf("results of task %s: %w", id, err)
		}
		for _, r := range resp.GetResults() {
			if err := each(r); err != nil {
				return err
			}
		}
		n += len(resp.GetResults())
		next := resp.GetNextPageToken()
		if next == "" { // the task has ended and every result was read
			return nil
		}
		if len(resp.GetResults()) < resultsPageSize && !terminal(resp.GetState()) {
			return &partialError{fmt.Sprintf("task %s is still %s: %d results so far (fibergate watch %s follows it to the end)",
				id, stateName(resp.GetState()), n, id)}
		}
		if next == token {
			return fmt.Errorf("results of task %s: the server gave the same page token again", id)
		}
		token = next
	}
}

// terminal reports whether a task in state s has ended.
func terminal(s cdv1.TaskState) bool {
	switch s {
	case cdv1.TaskState_TASK_STATE_SUCCEEDED, cdv1.TaskState_TASK_STATE_FAILED, cdv1.TaskState_TASK_STATE_CANCELED:
		return true
	}
	return false
}

// stateFlag is a task state given by its short name, in any case: running, succeeded,
// failed or canceled.
type stateFlag cdv1.TaskState

func (s *stateFlag) String() string {
	if s == nil || *s == 0 {
		return ""
	}
	return strings.ToLower(stateName(cdv1.TaskState(*s)))
}

func (s *stateFlag) Set(v string) error {
	name := strings.ToUpper(strings.TrimSpace(v))
	if name == "CANCELLED" {
		name = "CANCELED"
	}
	n, ok := cdv1.TaskState_value["TASK_STATE_"+strings.TrimPrefix(name, "TASK_STATE_")]
	if !ok || n == 0 {
		return errors.New("want running, succeeded, failed or canceled")
	}
	*s = stateFlag(n)
	return nil
}
