package fiberfake

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// taskID returns the n-th task id of a simulator whose ids are salted with
// salt: a lower-case, UUID-shaped (version 4) string of [0-9a-f-]. Ids with
// different salts are unrelated, whatever the seed.
func (d dice) taskID(salt string, n int) string {
	subject := strconv.Itoa(n) + "/" + salt // n has no "/": no two (n, salt) pairs meet
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], d.u64("task-hi", subject))
	binary.BigEndian.PutUint64(b[8:], d.u64("task-lo", subject))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
