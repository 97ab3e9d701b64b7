package fiberfake

import "fmt"

// PageCounts sorts one task's answered polls by the results each brought that no earlier
// poll of the task had: Full when a whole page, Part when fewer, Empty when none. It is how
// the benchmark and the pacing tests judge a poller from the simulator's poll log.
type PageCounts struct{ Full, Part, Empty int }

// Add returns the sum of c and o.
func (c PageCounts) Add(o PageCounts) PageCounts {
	return PageCounts{c.Full + o.Full, c.Part + o.Part, c.Empty + o.Empty}
}

// Polls is how many polls c counts.
func (c PageCounts) Polls() int { return c.Full + c.Part + c.Empty }

// String says it for a report: "18 full, 2 part, 0 empty".
func (c PageCounts) String() string {
	return fmt.Sprintf("%d full, %d part, %d empty", c.Full, c.Part, c.Empty)
}

// CountPages counts one task's polls, in the order answered, by the new results each brought,
// a whole page being pageSize. A poll's page starts at its cursor's offset, known from the
// answer that handed the cursor out; a poll with a cursor the log never handed out counts as
// empty.
func CountPages(polls []PollRecord, pageSize int) PageCounts {
	offsets := map[string]int{"": 0}
	var c PageCounts
	reached := 0
	for _, p := range polls {
		off, ok := offsets[p.Cursor]
		if !ok {
			c.Empty++
			continue
		}
		end := off + p.Results
		if p.NextCursor != nil {
			offsets[*p.NextCursor] = end
		}
		switch n := end - reached; {
		case n >= pageSize:
			c.Full++
		case n > 0:
			c.Part++
		default:
			c.Empty++
		}
		reached = max(reached, end)
	}
	return c
}
