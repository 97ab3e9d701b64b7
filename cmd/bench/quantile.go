package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// quantile returns the q-quantile of d (0 < q ≤ 1) by the nearest-rank method: the smallest
// value that at least a share q of the values do not exceed. It is 0 for no values. d is not
// changed.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	k := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(k, 0), len(s)-1)]
}

// millis formats d in milliseconds with two decimals, such as "1.25 ms" or "-0.10 ms".
func millis(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
