package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// logLines returns the server's log so far, a line per record.
func (s *stack) logLines() []string {
	return strings.Split(strings.TrimSuffix(s.server.Logs(), "\n"), "\n")
}

// logTally counts log lines (JSON records of the server's -log-format json) by what they say.
type logTally struct {
	total int
	// notPoll counts the lines that are certainly not about polling: the budget's summaries
	// of another endpoint than poll (records with an endpoint field of another value).
	notPoll int
	byKind  map[string]int // "LEVEL msg", with " (endpoint)" when the record names one
}

// tallyLogs counts lines. A line that is not a JSON record counts as kind "unparsed".
func tallyLogs(lines []string) logTally {
	t := logTally{byKind: map[string]int{}}
	for _, line := range lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		t.total++
		var rec struct {
			Level    string `json:"level"`
			Msg      string `json:"msg"`
			Endpoint string `json:"endpoint"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.byKind["unparsed"]++
			continue
		}
		kind := rec.Level + " " + rec.Msg
		if rec.Endpoint != "" {
			kind += " (" + rec.Endpoint + ")"
			if rec.Endpoint != "poll" {
				t.notPoll++
			}
		}
		t.byKind[kind]++
	}
	return t
}

// String lists the kinds, most frequent first, such as `"WARN poll failed; retrying" ×12`.
func (t logTally) String() string {
	if t.total == 0 {
		return "none"
	}
	kinds := slices.SortedFunc(maps.Keys(t.byKind), func(a, b string) int {
		if d := t.byKind[b] - t.byKind[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("`%s` ×%d", k, t.byKind[k])
	}
	return strings.Join(parts, ", ")
}
