package fiberfake

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Cursors are opaque to callers. Inside, a cursor names its task and an
// offset into the task's results in completion order (which is the input
// order of its unique accepted people): "fc1." + base64url(taskId + "|" +
// offset). The same cursor always starts a page at the same result, so
// cursors can be replayed; a cursor of another task is refused.

// cursorPrefix marks version 1 cursors.
const cursorPrefix = "fc1."

// encodeCursor returns the cursor of offset in task taskID.
func encodeCursor(taskID string, offset int) string {
	return cursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(taskID+"|"+strconv.Itoa(offset)))
}

// decodeCursor returns the offset a cursor of task taskID stands for.
func decodeCursor(cursor, taskID string) (int, error) {
	rest, ok := strings.CutPrefix(cursor, cursorPrefix)
	if !ok {
		return 0, fmt.Errorf("not a cursor returned by this API")
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return 0, fmt.Errorf("not a cursor returned by this API")
	}
	id, off, ok := strings.Cut(string(raw), "|")
	n, err := strconv.Atoi(off)
	if !ok || err != nil || n < 0 {
		return 0, fmt.Errorf("not a cursor returned by this API")
	}
	if id != taskID {
		return 0, fmt.Errorf("cursor belongs to another task")
	}
	return n, nil
}

// ParseCursorMode reads "null" (CursorNullWhenCaughtUp) or "repeat"
// (CursorRepeatWhenCaughtUp).
func ParseCursorMode(s string) (CursorMode, error) {
	switch s {
	case "null":
		return CursorNullWhenCaughtUp, nil
	case "repeat":
		return CursorRepeatWhenCaughtUp, nil
	}
	return 0, fmt.Errorf("parse cursor mode %q: want null or repeat", s)
}

// nextCursor is poll's nextCursor for a page that ended at offset end when
// completed results exist so far. A page that stops short of them always gets
// a cursor; one that reaches them gets one only in CursorRepeatWhenCaughtUp.
func (s *Sim) nextCursor(taskID string, end, completed int) *string {
	if end >= completed && s.cfg.CursorMode != CursorRepeatWhenCaughtUp {
		return nil
	}
	c := encodeCursor(taskID, end)
	return &c
}
