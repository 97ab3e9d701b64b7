package fiberpb_test

import (
	"math"
	"testing"

	"github.com/fibergate/fibergate/internal/fiberpb"
)

// TestCount: counts fit the contract's int32; a negative one is 0.
func TestCount(t *testing.T) {
	for _, tt := range []struct {
		in   int
		want int32
	}{{0, 0}, {7, 7}, {math.MaxInt32, math.MaxInt32}, {math.MaxInt32 + 1, math.MaxInt32}, {math.MaxInt, math.MaxInt32}, {-1, 0}, {math.MinInt, 0}} {
		if got := fiberpb.Count(tt.in); got != tt.want {
			t.Errorf("Count(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
