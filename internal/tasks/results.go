package tasks

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/storage"
)

// decodeResults turns stored results back into contract messages.
func decodeResults(rs []storage.Result) ([]*cdv1.PersonResult, error) {
	out := make([]*cdv1.PersonResult, len(rs))
	for i, r := range rs {
		pr := &cdv1.PersonResult{}
		if err := proto.Unmarshal(r.Data, pr); err != nil {
			return nil, fmt.Errorf("decode result %d: %w", r.Seq, err)
		}
		pr.Sequence = int32(r.Seq)
		out[i] = pr
	}
	return out, nil
}

// statsFromFiber is the stored record of Fiber's overallStats.
func statsFromFiber(s fiber.OverallStats) storage.Stats {
	return storage.Stats{
		TotalPeopleToFetch: s.TotalPeopleToFetch, NumCompleted: s.NumCompleted, NumFailed: s.NumFailed,
		NumRemaining: s.NumRemaining, NumRejected: s.NumRejected, NumDuplicates: s.NumDuplicates,
	}
}
