package service

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/auth"
	"github.com/fibergate/fibergate/internal/fiberpb"
	"github.com/fibergate/fibergate/internal/storage"
)

// anonymous owns every task when caller authentication is off.
const anonymous = "anonymous"

// principal names the caller that owns what it starts: the authenticated principal, or
// anonymous when authentication is off.
func principal(ctx context.Context) string {
	if p, ok := auth.PrincipalFrom(ctx); ok {
		return p
	}
	return anonymous
}

// taskToProto maps a stored task onto the contract.
func taskToProto(t storage.Task) *cdv1.Task {
	out := &cdv1.Task{
		TaskId:       t.ID,
		State:        cdv1.TaskState(t.State),
		OverallStats: statsToProto(t.Stats),
		EnrichmentTypes: &cdv1.EnrichmentTypesUsed{
			GetWorkEmails: t.Enrichment.WorkEmails, GetPersonalEmails: t.Enrichment.PersonalEmails, GetPhoneNumbers: t.Enrichment.PhoneNumbers,
		},
		NumResults: fiberpb.Count(t.NumResults),
		CreateTime: timestamp(t.CreateTime),
		UpdateTime: timestamp(t.UpdateTime),
		FinishTime: timestamp(t.FinishTime),
	}
	if len(t.StartResponse) > 0 {
		start := &cdv1.StartBatchResponse{}
		if proto.Unmarshal(t.StartResponse, start) == nil {
			out.ChargeInfo = start.GetChargeInfo()
		}
	}
	out.Cancellation = cancellationFrom(t.Cancellation)
	return out
}

// cancellationFrom decodes a stored Cancellation; nil when there is none (or it does not
// decode: the task is still worth answering about).
func cancellationFrom(raw []byte) *cdv1.Cancellation {
	if len(raw) == 0 {
		return nil
	}
	c := &cdv1.Cancellation{}
	if proto.Unmarshal(raw, c) != nil {
		return nil
	}
	return c
}

func statsToProto(s storage.Stats) *cdv1.OverallStats {
	return &cdv1.OverallStats{
		TotalPeopleToFetch: fiberpb.Count(s.TotalPeopleToFetch), NumCompleted: fiberpb.Count(s.NumCompleted),
		NumFailed: fiberpb.Count(s.NumFailed), NumRemaining: fiberpb.Count(s.NumRemaining),
		NumRejected: fiberpb.Count(s.NumRejected), NumDuplicates: fiberpb.Count(s.NumDuplicates),
	}
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
