package main

import (
	"testing"

	"google.golang.org/grpc/codes"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

func TestDeleteTaskForgetsResults(t *testing.T) {
	_, url := newPacedUpstream(t, 100)
	p := startOn(t, url)
	client := p.dial(t)

	running := newBatch(1000, 0, 0).start(t, client) // 10s of work
	small := newBatch(5, 0, 0)
	finished := small.start(t, client)
	msgs, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: finished})
	if err != nil {
		t.Fatal(err)
	}
	checkEndsWith(t, "watch", msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)

	_, err = client.DeleteTask(testContext(t), &cdv1.DeleteTaskRequest{TaskId: running})
	wantStatus(t, "delete a running task", err, codes.FailedPrecondition, "TASK_RUNNING")
	if _, err := client.GetTask(testContext(t), &cdv1.GetTaskRequest{TaskId: running}); err != nil {
		t.Errorf("the running task is gone after a refused delete: %v", err)
	}

	if _, err := client.DeleteTask(testContext(t), &cdv1.DeleteTaskRequest{TaskId: finished}); err != nil {
		t.Fatalf("delete a finished task: %v", err)
	}
	_, err = client.GetTask(testContext(t), &cdv1.GetTaskRequest{TaskId: finished})
	wantStatus(t, "GetTask after delete", err, codes.NotFound, "TASK_NOT_FOUND")
	_, err = client.ListTaskResults(testContext(t), &cdv1.ListTaskResultsRequest{TaskId: finished})
	wantStatus(t, "ListTaskResults after delete", err, codes.NotFound, "TASK_NOT_FOUND")
	_, err = watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: finished})
	wantStatus(t, "WatchTask after delete", err, codes.NotFound, "TASK_NOT_FOUND")
	_, err = client.DeleteTask(testContext(t), &cdv1.DeleteTaskRequest{TaskId: finished})
	wantStatus(t, "second delete", err, codes.NotFound, "TASK_NOT_FOUND")
	list, err := client.ListTasks(testContext(t), &cdv1.ListTasksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetTasks()) != 1 || list.GetTasks()[0].GetTaskId() != running {
		t.Errorf("ListTasks after delete lists %v, want only the running task", list.GetTasks())
	}
}
