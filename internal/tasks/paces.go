package tasks

import (
	"sync"
	"time"
)

// paces remembers, per Fiber key, Fiber's pace as last measured on any of the key's tasks:
// a task that has not measured its own yet is paced by it (see pacer.first). Safe for
// concurrent use.
type paces struct {
	mu    sync.Mutex          // guards byKey
	byKey map[string]*keyPace // by key id
}

// keyPace is the pace of one key's tasks, in people finished per second; 0 until measured.
// Safe for concurrent use.
type keyPace struct {
	mu      sync.Mutex // guards rate and probeAt
	rate    float64
	probeAt time.Time // while rate is 0: when a task's first poll is to measure it
}

// of returns the pace of the key keyID, the same one on every call.
func (ps *paces) of(keyID string) *keyPace {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.byKey == nil {
		ps.byKey = map[string]*keyPace{}
	}
	kp, ok := ps.byKey[keyID]
	if !ok {
		kp = &keyPace{}
		ps.byKey[keyID] = kp
	}
	return kp
}

func (kp *keyPace) get() float64 {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	return kp.rate
}

func (kp *keyPace) set(rate float64) {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	kp.rate = rate
}

// probe claims the measure of the pace for a first poll due at at, and reports whether it
// did: not if the pace is known, nor while another task's first poll is due after now to
// measure it.
func (kp *keyPace) probe(now, at time.Time) bool {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	if kp.rate > 0 || kp.probeAt.After(now) {
		return false
	}
	kp.probeAt = at
	return true
}
