package budget

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// A bucket's window is its departure log, its 429 pause and the streak of 429s that sizes the
// next pause: the state the slots are placed by. A Limiter with a Ledger keeps it there, in the
// record of the bucket, encoded by marshalWindow, together with the urgent claim (see
// urgentClaim), and each transaction decodes it, applies the same rules as a Limiter of its own
// (at the ledger's clock), and encodes it again.

// The first byte of an encoded window is the version of the encoding. Format 1 has no urgent
// claim; format 2 adds one after the streak. A window without a claim is written in format 1,
// which a fibergate that knows only format 1 still reads.
const (
	windowFormat1 = 1
	windowFormat2 = 2
	windowFormat  = windowFormat2 // the newest format
)

// maxEncodedEntries bounds the entries a decoded window may claim, so that a corrupt record
// cannot make the decoder allocate without end.
const maxEncodedEntries = 1 << 20

// errCorruptWindow is returned for a record that is not an encoded window.
var errCorruptWindow = errors.New("corrupt budget window")

// fresh returns a bucket with b's key and limits and an empty window, for a transaction to
// decode the ledger's record into.
func (b *bucket) fresh() *bucket {
	return &bucket{key: b.key, limit: b.limit, window: b.window, base: b.base, cap: b.cap, log: departures{max: b.limit.N}}
}

// marshalWindow encodes b's window: the format byte; the end of the pause and the streak; in
// format 2, the end of the urgent claim (varint) and its claimer (uvarint); the number of
// entries, the time of the oldest; then each entry as its distance from the one before, in
// nanoseconds, shifted left 2 bits and ored with its state (uvarint). Times are Unix
// nanoseconds, 0 standing for the zero time. Format 2 is written only when there is a claim.
func (b *bucket) marshalWindow() []byte {
	n := b.log.len()
	buf := make([]byte, 0, 48+6*n)
	if b.claim.until.IsZero() {
		buf = append(buf, windowFormat1)
	} else {
		buf = append(buf, windowFormat2)
	}
	buf = binary.AppendVarint(buf, unixNano(b.pausedUntil))
	buf = binary.AppendUvarint(buf, uint64(b.streak))
	if !b.claim.until.IsZero() {
		buf = binary.AppendVarint(buf, unixNano(b.claim.until))
		buf = binary.AppendUvarint(buf, b.claim.by)
	}
	buf = binary.AppendUvarint(buf, uint64(n))
	if n == 0 {
		return buf
	}
	prev := unixNano(b.log.at(0))
	buf = binary.AppendVarint(buf, prev)
	for i := range n {
		e := b.log.ref(i)
		t := unixNano(e.at)
		buf = binary.AppendUvarint(buf, uint64(t-prev)<<2|uint64(e.state)) // the log is in time order
		prev = t
	}
	return buf
}

// unmarshalWindow decodes data, an encoded window or nothing (a bucket never used), into b,
// whose window must be empty. Of a longer log than b's limit allows (a replica with a larger
// N wrote it), it keeps what b's own log would.
func (b *bucket) unmarshalWindow(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	format := data[0]
	if format != windowFormat1 && format != windowFormat2 {
		return fmt.Errorf("budget window of format %d: a newer fibergate wrote it", format)
	}
	r := windowReader{data: data[1:]}
	paused := r.varint()
	streak := r.uvarint()
	var claim urgentClaim
	if format == windowFormat2 {
		claim.until = fromUnixNano(r.varint())
		claim.by = r.uvarint()
		if claim.until.IsZero() {
			return errCorruptWindow // format 2 is written for a claim only
		}
	}
	n := r.uvarint()
	if r.err != nil || n > maxEncodedEntries || streak > 1<<30 {
		return errCorruptWindow
	}
	b.pausedUntil, b.streak, b.claim = fromUnixNano(paused), int(streak), claim
	if n == 0 {
		return r.end()
	}
	t := r.varint()
	for range n {
		v := r.uvarint()
		s := depState(v & 3)
		if r.err != nil || s > answered || v>>2 > 1<<62 {
			return errCorruptWindow
		}
		t += int64(v >> 2)
		b.log.insert(departure{at: fromUnixNano(t), state: s})
	}
	return r.end()
}

// windowReader reads the varints of an encoded window, remembering the first error.
type windowReader struct {
	data []byte
	err  error
}

func (r *windowReader) varint() int64 {
	v, n := binary.Varint(r.data)
	if n <= 0 {
		r.err = errCorruptWindow
		return 0
	}
	r.data = r.data[n:]
	return v
}

func (r *windowReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.data)
	if n <= 0 {
		r.err = errCorruptWindow
		return 0
	}
	r.data = r.data[n:]
	return v
}

// end returns the first error, or an error when bytes are left over.
func (r *windowReader) end() error {
	if r.err == nil && len(r.data) > 0 {
		return errCorruptWindow
	}
	return r.err
}

// unixNano returns t in Unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano is the inverse of unixNano.
func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
