package service

import (
	"context"

	"google.golang.org/grpc"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/apierr"
	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/tasks"
)

// Page sizes when a request leaves page_size at 0. The contract caps them.
const (
	defaultTasksPageSize   = 50
	defaultResultsPageSize = 100
)

// GetTask returns a task's state, counts, times and start charge.
func (s *Service) GetTask(ctx context.Context, req *cdv1.GetTaskRequest) (*cdv1.GetTaskResponse, error) {
	key, err := s.requestKey(req.GetApiKey())
	if err != nil {
		return nil, err
	}
	t, err := s.tasks.Get(ctx, principal(ctx), req.GetTaskId(), key)
	if err != nil {
		return nil, apierr.ForTask(req.GetTaskId(), err)
	}
	return &cdv1.GetTaskResponse{Task: taskToProto(t)}, nil
}

// ListTasks lists the caller's tasks, newest first.
func (s *Service) ListTasks(ctx context.Context, req *cdv1.ListTasksRequest) (*cdv1.ListTasksResponse, error) {
	owner := principal(ctx)
	after, err := parseListToken(req.GetPageToken(), owner)
	if err != nil {
		return nil, apierr.InField("pageToken", err)
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = defaultTasksPageSize
	}
	ts, next, err := s.tasks.List(ctx, storage.ListFilter{Owner: owner, State: storage.State(req.GetState()), PageSize: size, After: after})
	if err != nil {
		return nil, err
	}
	out := &cdv1.ListTasksResponse{Tasks: make([]*cdv1.Task, len(ts))}
	for i, t := range ts {
		out.Tasks[i] = taskToProto(t)
	}
	if next != nil {
		out.NextPageToken = listToken(owner, *next)
	}
	return out, nil
}

// ListTaskResults pages through a task's stored results.
func (s *Service) ListTaskResults(ctx context.Context, req *cdv1.ListTaskResultsRequest) (*cdv1.ListTaskResultsResponse, error) {
	after, err := parseSeqToken(req.GetPageToken(), kindResults, req.GetTaskId())
	if err != nil {
		return nil, apierr.InField("pageToken", err)
	}
	key, err := s.requestKey(req.GetApiKey())
	if err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = defaultResultsPageSize
	}
	t, rs, err := s.tasks.Results(ctx, principal(ctx), req.GetTaskId(), key, after, size)
	if err != nil {
		return nil, apierr.ForTask(req.GetTaskId(), err)
	}
	out := &cdv1.ListTaskResultsResponse{Results: rs, State: cdv1.TaskState(t.State)}
	// More are stored (a full page), or may come (the task runs): say where to go on from.
	if len(rs) == size || !t.State.Terminal() {
		out.NextPageToken = seqToken(kindResults, req.GetTaskId(), after+len(rs))
	}
	return out, nil
}

// WatchTask streams progress and results until the task ends.
func (s *Service) WatchTask(req *cdv1.WatchTaskRequest, stream grpc.ServerStreamingServer[cdv1.WatchTaskResponse]) error {
	ctx := stream.Context()
	after, err := parseSeqToken(req.GetResumeToken(), kindResume, req.GetTaskId())
	if err != nil {
		return apierr.InField("resumeToken", err)
	}
	key, err := s.requestKey(req.GetApiKey())
	if err != nil {
		return err
	}
	release, err := s.streams.acquire(principal(ctx))
	if err != nil {
		return err
	}
	defer release()
	err = s.tasks.Watch(ctx, principal(ctx), req.GetTaskId(), key, after, req.GetProgressOnly(), func(u tasks.Update) error {
		msg := &cdv1.WatchTaskResponse{
			TaskId:       req.GetTaskId(),
			State:        cdv1.TaskState(u.Task.State),
			OverallStats: statsToProto(u.Task.Stats),
			Results:      u.Results,
			ResumeToken:  seqToken(kindResume, req.GetTaskId(), u.Position),
		}
		if u.Final() {
			msg.Cancellation = cancellationFrom(u.Task.Cancellation)
		}
		return stream.Send(msg)
	})
	return apierr.ForTask(req.GetTaskId(), err)
}

// CancelTask cancels the task's unclaimed people upstream.
func (s *Service) CancelTask(ctx context.Context, req *cdv1.CancelTaskRequest) (*cdv1.CancelTaskResponse, error) {
	key, err := s.requestKey(req.GetApiKey())
	if err != nil {
		return nil, err
	}
	c, err := s.tasks.Cancel(ctx, principal(ctx), req.GetTaskId(), key)
	if err != nil {
		return nil, apierr.ForTask(req.GetTaskId(), err)
	}
	return &cdv1.CancelTaskResponse{CancelledCount: c.GetCancelledCount(), CreditsRefunded: c.GetCreditsRefunded(), Message: c.GetMessage()}, nil
}

// DeleteTask forgets a finished task and its results.
func (s *Service) DeleteTask(ctx context.Context, req *cdv1.DeleteTaskRequest) (*cdv1.DeleteTaskResponse, error) {
	if err := s.tasks.Delete(ctx, principal(ctx), req.GetTaskId()); err != nil {
		return nil, apierr.ForTask(req.GetTaskId(), err)
	}
	return &cdv1.DeleteTaskResponse{}, nil
}
