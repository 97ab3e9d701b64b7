package apierr

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/tasks"
)

// TestStartNotRecordedCarriesTheTaskAndTheAnswer: a start Fiber accepted that fibergate could
// not record is INTERNAL with its own reason, the task id (and the operator's record id, when
// there is one) in the ErrorInfo metadata, and the start's answer as a further detail, also
// when wrapped.
func TestStartNotRecordedCarriesTheTaskAndTheAnswer(t *testing.T) {
	answer := &cdv1.StartBatchResponse{Output: &cdv1.StartBatchOutput{TaskId: "task-9", NumPeopleEnqueued: 3}}
	busy := errors.New("database is locked")
	tests := []struct {
		name   string
		err    error
		reason string
		md     map[string]string
	}{
		{"not recorded", &StartNotRecordedError{Response: answer, RecordID: "amb-1", Err: fmt.Errorf("store task task-9: %w: %w", tasks.ErrNotRecorded, busy)},
			ReasonTaskNotRecorded, map[string]string{MetaTaskID: "task-9", MetaRecordID: "amb-1"}},
		{"not recorded, nor its record", fmt.Errorf("start: %w", &StartNotRecordedError{Response: answer, Err: tasks.ErrNotRecorded}),
			ReasonTaskNotRecorded, map[string]string{MetaTaskID: "task-9"}},
		{"id conflict", &StartNotRecordedError{Response: answer, RecordID: "amb-2", Err: fmt.Errorf("store task task-9: %w", tasks.ErrIDConflict)},
			ReasonTaskIDConflict, map[string]string{MetaTaskID: "task-9", MetaRecordID: "amb-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := status.Convert(ToStatus(tt.err))
			var infos []*errdetails.ErrorInfo
			var answers []*cdv1.StartBatchResponse
			for _, d := range st.Details() {
				switch d := d.(type) {
				case *errdetails.ErrorInfo:
					infos = append(infos, d)
				case *cdv1.StartBatchResponse:
					answers = append(answers, d)
				}
			}
			if st.Code() != codes.Internal || len(infos) != 1 || infos[0].GetReason() != tt.reason {
				t.Fatalf("%v %v, want INTERNAL with one ErrorInfo %s", st.Code(), infos, tt.reason)
			}
			if got := infos[0].GetMetadata(); len(got) != len(tt.md) || got[MetaTaskID] != tt.md[MetaTaskID] || got[MetaRecordID] != tt.md[MetaRecordID] {
				t.Errorf("metadata %v, want %v", got, tt.md)
			}
			if len(answers) != 1 || !proto.Equal(answers[0], answer) {
				t.Errorf("answers among the details %v, want %v", answers, answer)
			}
			if !strings.Contains(st.Message(), "task-9") || strings.Contains(st.Message(), busy.Error()) {
				t.Errorf("message %q, want the task id and not the store's error", st.Message())
			}
		})
	}
}
