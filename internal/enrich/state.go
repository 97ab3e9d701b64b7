package enrich

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// StateSuffix is added to the output's path to name its state file.
const StateSuffix = ".fibergate-state"

// stateVersion is the state file's format version.
const stateVersion = 1

// State is what a run keeps beside its output so that running it again goes on where it
// was. It is a JSON file, replaced atomically (written beside, synced, renamed) after the
// output is synced, so the two always agree: OutputBytes of the output hold exactly the rows
// of the results up to each batch's ResumeToken.
type State struct {
	Version     int    `json:"version"`
	Fingerprint string `json:"fingerprint"` // Plan.Fingerprint of the run
	// OutputBytes is the length of the output's complete part.
	OutputBytes int64        `json:"outputBytes"`
	Batches     []BatchState `json:"batches"`
	UpdateTime  time.Time    `json:"updateTime"`
}

// BatchState is one batch's part of the State.
type BatchState struct {
	Number    int    `json:"number"`
	People    int    `json:"people"`
	RequestID string `json:"requestId"`
	// Attempt counts the batch's starts with a fresh request id: 1, and one more for each
	// restart after an unknown outcome (-restart-unknown).
	Attempt int `json:"attempt"`
	// TaskID is set as soon as a start is answered: a batch with a task id is never started
	// again.
	TaskID string `json:"taskId,omitempty"`
	// ResumeToken is the token of the last watch message whose rows the output holds.
	ResumeToken string `json:"resumeToken,omitempty"`
	// Done: every row of the batch is in the output; FinalState is the task's end.
	Done       bool   `json:"done,omitempty"`
	FinalState string `json:"finalState,omitempty"`
	// Unknown is set when the start's outcome is unknown: the batch is not started again
	// until the user says so.
	Unknown *UnknownStart `json:"outcomeUnknown,omitempty"`
	// CreditsCharged is the start's charge, as Fiber answered it; CreditsRefunded what a
	// cancel refunded.
	CreditsCharged  float64 `json:"creditsCharged,omitempty"`
	CreditsRefunded float64 `json:"creditsRefunded,omitempty"`
	// Received marks, one bit per person of the batch (in the batch's order), those whose
	// rows are in the output.
	Received bitset `json:"received,omitempty"`
	// Counts of the batch's people by status, as written.
	Counts Counts `json:"counts"`
}

// UnknownStart records a start whose outcome fibergate could not tell.
type UnknownStart struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

// Counts are people (not rows) by status.
type Counts struct {
	Found    int `json:"found,omitempty"`
	NoData   int `json:"noData,omitempty"`
	Rejected int `json:"rejected,omitempty"`
	Failed   int `json:"failed,omitempty"`
	Canceled int `json:"canceled,omitempty"`
}

func (c Counts) total() int { return c.Found + c.NoData + c.Rejected + c.Failed + c.Canceled }

func (c *Counts) add(o Counts) {
	c.Found += o.Found
	c.NoData += o.NoData
	c.Rejected += o.Rejected
	c.Failed += o.Failed
	c.Canceled += o.Canceled
}

// newState is the state of a run that has done nothing yet.
func newState(p *Plan) *State {
	s := &State{Version: stateVersion, Fingerprint: p.Fingerprint()}
	for b, batch := range p.Batches {
		s.Batches = append(s.Batches, BatchState{
			Number: batch.Number, People: len(batch.People), RequestID: p.RequestID(b, 1), Attempt: 1,
			Received: newBitset(len(batch.People)),
		})
	}
	return s
}

// restartOutput forgets what the output held: every batch is watched again from its first
// result. Task ids, charges and unknown starts are kept.
func (s *State) restartOutput() {
	s.OutputBytes = 0
	for i := range s.Batches {
		b := &s.Batches[i]
		b.ResumeToken, b.Done, b.FinalState, b.Counts = "", false, "", Counts{}
		b.Received = newBitset(b.People)
	}
}

// loadState reads a state file; it returns nil and no error when there is none.
func loadState(path string) (*State, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("state file %s is damaged (%v): remove it (and its output) to start over", path, err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("state file %s has version %d, this fibergate knows %d", path, s.Version, stateVersion)
	}
	return &s, nil
}

// save replaces the state file at path atomically and durably.
func (s *State) save(path string) error {
	s.UpdateTime = time.Now().UTC()
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// bitset is a set of small integers; in JSON, its bytes in base64.
type bitset []byte

func newBitset(n int) bitset { return make(bitset, (n+7)/8) }

func (b bitset) has(i int) bool { return i/8 < len(b) && b[i/8]&(1<<(i%8)) != 0 }
func (b bitset) set(i int)      { b[i/8] |= 1 << (i % 8) }

func (b bitset) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

func (b *bitset) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := base64.StdEncoding.DecodeString(s)
	*b = v
	return err
}

// Pending returns the batches (indexes in p.Batches) that a run of p writing to output would
// start, going on from output's state file; ok is false when there is none (a run would
// start them all).
func Pending(p *Plan, output string) (pending []int, ok bool, err error) {
	st, err := loadState(output + StateSuffix)
	if err != nil || st == nil {
		return nil, false, err
	}
	if st.Fingerprint != p.Fingerprint() {
		return nil, false, fmt.Errorf("%w: %s%s belongs to another run", ErrStateMismatch, output, StateSuffix)
	}
	for i, b := range st.Batches {
		if b.TaskID == "" && b.Unknown == nil {
			pending = append(pending, i)
		}
	}
	return pending, true, nil
}
