package main

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberpb"
)

// TestAdoptsAFiberTaskStartedElsewhere: a task started at Fiber directly is unknown to
// fibergate (NOT_FOUND), until a watch brings the key it belongs to: then it is adopted,
// followed to the end like any other, and kept (readable afterwards without the key, listed,
// no start charge info since fibergate did not start it).
func TestAdoptsAFiberTaskStartedElsewhere(t *testing.T) {
	_, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: 200, NoDataRate: -1})
	p := startOn(t, url, "-allow-request-api-key")
	client := p.dial(t)

	fc, err := fiber.New(url)
	if err != nil {
		t.Fatal(err)
	}
	defer fc.CloseIdleConnections()
	b := newBatch(150, 0, 0)
	started, err := fc.Start(testContext(t), requestKey, fiberpb.StartRequestToFiber(b.req))
	if err != nil {
		t.Fatal(err)
	}
	id := started.TaskID

	if _, err := client.GetTask(testContext(t), &cdv1.GetTaskRequest{TaskId: id}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetTask of a task fibergate never saw, without its key: %v, want NOT_FOUND", err)
	}
	msgs, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: id, ApiKey: requestKey})
	if err != nil {
		t.Fatalf("watch with the task's key: %v", err)
	}
	checkEndsWith(t, "adopted watch", msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
	checkSequence(t, "adopted watch", results(msgs), 0, b.want)
	if n := len(results(msgs)); n != len(b.want) {
		t.Errorf("%d results, want %d", n, len(b.want))
	}

	got, err := client.GetTask(testContext(t), &cdv1.GetTaskRequest{TaskId: id})
	if err != nil {
		t.Fatalf("GetTask after the adoption: %v", err)
	}
	if task := got.GetTask(); task.GetState() != cdv1.TaskState_TASK_STATE_SUCCEEDED || int(task.GetNumResults()) != len(b.want) || task.GetChargeInfo() != nil {
		t.Errorf("adopted task: %v", task)
	}
	list, err := client.ListTasks(testContext(t), &cdv1.ListTasksRequest{})
	if err != nil || len(list.GetTasks()) != 1 || list.GetTasks()[0].GetTaskId() != id {
		t.Errorf("ListTasks after the adoption: %v, %v", list, err)
	}
	if strings.Contains(p.logs.String(), requestKey) {
		t.Error("the request's key reached the logs")
	}
}
