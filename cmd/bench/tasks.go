package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// benchURLs returns n distinct profile URLs for task i of scenario tag.
func benchURLs(tag string, i, n int) []string {
	urls := make([]string, n)
	for j := range urls {
		urls[j] = fmt.Sprintf("https://www.linkedin.com/in/bench-%s-%d-%d", tag, i, j)
	}
	return urls
}

// startTask starts a batch of urls through fibergate and returns its task id.
func (s *stack) startTask(ctx context.Context, urls []string) (string, error) {
	req := &cdv1.StartBatchRequest{PersonDetails: make([]*cdv1.PersonDetails, len(urls))}
	for i, u := range urls {
		req.PersonDetails[i] = &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: u}}
	}
	resp, err := s.client.StartBatch(ctx, req)
	if err != nil {
		return "", fmt.Errorf("start batch: %w", err)
	}
	return resp.GetOutput().GetTaskId(), nil
}

// watchTask watches taskID through fibergate until the task ends, and returns when the
// stream had delivered want results. It fails when the stream ends otherwise, or the task
// ends with fewer results.
func (s *stack) watchTask(ctx context.Context, taskID string, want int) (time.Time, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := s.client.WatchTask(ctx, &cdv1.WatchTaskRequest{TaskId: taskID})
	if err != nil {
		return time.Time{}, fmt.Errorf("watch %s: %w", taskID, err)
	}
	var all time.Time
	got := 0
	for { // ends with the stream: the server closes it after the terminal state, or ctx ends
		m, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("stream ended before the task did")
			}
			return all, fmt.Errorf("watch %s: %w", taskID, err)
		}
		got += len(m.GetResults())
		if got >= want && all.IsZero() {
			all = time.Now()
		}
		if terminal(m.GetState()) {
			if all.IsZero() {
				return all, fmt.Errorf("watch %s: task ended %v with %d of %d results", taskID, m.GetState(), got, want)
			}
			return all, nil
		}
	}
}

func terminal(s cdv1.TaskState) bool {
	return s != cdv1.TaskState_TASK_STATE_UNSPECIFIED && s != cdv1.TaskState_TASK_STATE_RUNNING
}

// storedTimes samples ListTasks every 100ms until every task of want (id → people) is finished
// and returns when each was first seen holding all its results. ctx bounds it.
func (s *stack) storedTimes(ctx context.Context, want map[string]int) (map[string]time.Time, error) {
	stored := make(map[string]time.Time, len(want))
	finished := make(map[string]bool, len(want))
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for len(finished) < len(want) { // bounded by ctx
		list, err := s.listTasks(ctx)
		if err != nil {
			return stored, err
		}
		now := time.Now()
		for _, t := range list {
			people, ok := want[t.GetTaskId()]
			if !ok {
				continue
			}
			if int(t.GetNumResults()) >= people && stored[t.GetTaskId()].IsZero() {
				stored[t.GetTaskId()] = now
			}
			if terminal(t.GetState()) {
				if stored[t.GetTaskId()].IsZero() {
					return stored, fmt.Errorf("task %s ended %v with %d of %d results", t.GetTaskId(), t.GetState(), t.GetNumResults(), people)
				}
				finished[t.GetTaskId()] = true
			}
		}
		select {
		case <-ctx.Done():
			return stored, fmt.Errorf("%d of %d tasks finished: %w", len(finished), len(want), ctx.Err())
		case <-tick.C:
		}
	}
	return stored, nil
}

// listTasks lists every task of the stack.
func (s *stack) listTasks(ctx context.Context) ([]*cdv1.Task, error) {
	var all []*cdv1.Task
	token := ""
	for range 1000 { // 100,000 tasks: more than any scenario starts
		resp, err := s.client.ListTasks(ctx, &cdv1.ListTasksRequest{PageSize: 100, PageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		all = append(all, resp.GetTasks()...)
		if token = resp.GetNextPageToken(); token == "" {
			return all, nil
		}
	}
	return nil, errors.New("list tasks: too many pages")
}

// pollLog reads every task's poll log from the simulator.
func (s *stack) pollLog(ctx context.Context) ([]fiberfake.TaskPolls, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.fiberURL()+"/_sim/polls", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("simulator poll log: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("simulator poll log: %s", resp.Status)
	}
	var log struct {
		Tasks []fiberfake.TaskPolls `json:"tasks"`
	}
	return log.Tasks, json.NewDecoder(resp.Body).Decode(&log)
}

// fakeKeys gives the simulator's demo key (public, not a secret) credits enough for any
// scenario.
var fakeKeys = []string{"-keys", fiberfake.DemoAPIKey + "=1000000000"}
