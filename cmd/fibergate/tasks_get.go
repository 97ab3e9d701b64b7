package main

import (
	"context"
	"fmt"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// runGet prints one task.
func runGet(ctx context.Context, e env, args []string) int {
	f := newTaskFlags(e, "get", "TASK_ID", "Get prints a task: its state, Fiber's progress counts, the results stored so far,\nthe charge of its start and, once cancelled, the refund.").
		withJSON("print the Task as one line of JSON, as the REST API gives it").withTimeout()
	return runTask(ctx, e, f, args, 1, func(ctx context.Context, client cdv1.ContactDetailsServiceClient, args []string) error {
		cctx, cancel := f.call(ctx)
		defer cancel()
		resp, err := client.GetTask(cctx, &cdv1.GetTaskRequest{TaskId: args[0]})
		if err != nil {
			return fmt.Errorf("get task %s: %w", args[0], err)
		}
		if f.json {
			return writeJSON(e.stdout, resp.GetTask())
		}
		return writeTask(e.stdout, resp.GetTask())
	})
}

// runCancel cancels a task.
func runCancel(ctx context.Context, e env, args []string) int {
	f := newTaskFlags(e, "cancel", "TASK_ID", "Cancel cancels the people of a task Fiber has not claimed yet; they are refunded.\nPeople already processed stay charged. The task then ends CANCELED.").
		withJSON("print the CancelTaskResponse as one line of JSON, as the REST API gives it").withTimeout()
	return runTask(ctx, e, f, args, 1, func(ctx context.Context, client cdv1.ContactDetailsServiceClient, args []string) error {
		cctx, cancel := f.call(ctx)
		defer cancel()
		resp, err := client.CancelTask(cctx, &cdv1.CancelTaskRequest{TaskId: args[0]})
		if err != nil {
			return fmt.Errorf("cancel task %s: %w", args[0], err)
		}
		if f.json {
			return writeJSON(e.stdout, resp)
		}
		_, err = fmt.Fprintf(e.stdout, "Task %s: %s.\n", args[0], cancellationText(resp.GetCancelledCount(), resp.GetCreditsRefunded(), resp.GetMessage()))
		return err
	})
}

// runDelete deletes a finished task and its results.
func runDelete(ctx context.Context, e env, args []string) int {
	f := newTaskFlags(e, "delete", "TASK_ID", "Delete forgets a finished task and its stored results, which hold personal data.\nA running task is refused (FAILED_PRECONDITION TASK_RUNNING): cancel it first.").
		withJSON("print the (empty) DeleteTaskResponse as JSON").withTimeout()
	return runTask(ctx, e, f, args, 1, func(ctx context.Context, client cdv1.ContactDetailsServiceClient, args []string) error {
		cctx, cancel := f.call(ctx)
		defer cancel()
		resp, err := client.DeleteTask(cctx, &cdv1.DeleteTaskRequest{TaskId: args[0]})
		if err != nil {
			return fmt.Errorf("delete task %s: %w", args[0], err)
		}
		if f.json {
			return writeJSON(e.stdout, resp)
		}
		_, err = fmt.Fprintf(e.stdout, "Task %s deleted with its results.\n", args[0])
		return err
	})
}
