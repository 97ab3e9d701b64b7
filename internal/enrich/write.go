package enrich

import (
	"context"
	"fmt"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// checkpointEvery bounds the time between checkpoints while messages keep coming; otherwise
// the writer checkpoints whenever it has caught up.
const checkpointEvery = time.Second

// write is the writer goroutine: it applies the events to the output and the state, and
// checkpoints, until every batch is done or stopped, or ctx ends (then after a last
// checkpoint of what it has written, with ctx's error). Events still queued then are
// dropped: their results come again from the recorded tokens.
func (r *run) write(ctx context.Context) error {
	for i, b := range r.st.Batches {
		if b.Done || b.Unknown != nil {
			r.finished++
		}
		if b.Unknown != nil {
			r.explainUnknown(i)
		}
	}
	r.report()
	last := time.Now()
	for r.finished < len(r.st.Batches) {
		var ev event
		select {
		case ev = <-r.events:
		case <-ctx.Done():
			if err := r.checkpoint(); err != nil {
				return err
			}
			return ctx.Err()
		}
		urgent, err := r.handle(ev)
		if err != nil {
			return err
		}
		if urgent || len(r.events) == 0 || time.Since(last) >= checkpointEvery {
			if err := r.checkpoint(); err != nil {
				return err
			}
			last = time.Now()
		}
		r.report()
	}
	return r.checkpoint()
}

// handle applies one event. urgent: checkpoint at once (a task id, or a batch's end).
func (r *run) handle(ev event) (urgent bool, err error) {
	bs := &r.st.Batches[ev.batch]
	switch ev.kind {
	case evStarted:
		bs.TaskID = ev.resp.GetOutput().GetTaskId()
		bs.CreditsCharged = charged(ev.resp.GetChargeInfo())
		return true, nil
	case evUnknown:
		bs.Unknown = &UnknownStart{Time: time.Now().UTC(), Message: r.describe(ev.err)}
		r.finished++
		r.explainUnknown(ev.batch)
		return true, nil
	case evStopped:
		r.stopped = append(r.stopped, ev.err)
		r.finished++
		r.note("batch %d stopped: %s", bs.Number, r.describe(ev.err))
		return true, nil
	}
	if bs.Done { // a message after the end: a watch resumed twice; nothing new
		return false, nil
	}
	first := r.plan.Batches[ev.batch].People[0]
	for _, res := range ev.msg.GetResults() {
		pi, ok := r.plan.person(res.GetLinkedinUrl())
		if !ok || r.plan.People[pi].Batch != ev.batch {
			r.unmatched++
			if r.unmatched == 1 {
				r.note("batch %d: a result for %q, a person the batch does not hold: ignored", bs.Number, res.GetLinkedinUrl())
			}
			continue
		}
		if bs.Received.has(pi - first) {
			continue
		}
		status := StatusFound
		if res.GetNoDataFound() {
			status = StatusNoData
		}
		if err := r.writePerson(bs, pi, first, status, res); err != nil {
			return false, err
		}
	}
	bs.ResumeToken = ev.msg.GetResumeToken()
	if !terminal(ev.msg.GetState()) {
		return false, nil
	}
	// The people without a result: Fiber rejected them (they never appear in pages), or the
	// task failed or was canceled before them.
	status := StatusRejected
	switch ev.msg.GetState() {
	case cdv1.TaskState_TASK_STATE_FAILED:
		status = StatusFailed
	case cdv1.TaskState_TASK_STATE_CANCELED:
		status = StatusCanceled
	}
	for _, pi := range r.plan.Batches[ev.batch].People {
		if !bs.Received.has(pi - first) {
			if err := r.writePerson(bs, pi, first, status, nil); err != nil {
				return false, err
			}
		}
	}
	bs.Done, bs.FinalState = true, ev.msg.GetState().String()
	bs.CreditsRefunded += ev.msg.GetCancellation().GetCreditsRefunded()
	r.finished++
	return true, nil
}

// writePerson writes the rows of person pi of batch bs (whose first person is first): the
// first with status, its duplicates as such, all with res (nil: none).
func (r *run) writePerson(bs *BatchState, pi, first int, status string, res *cdv1.PersonResult) error {
	for k, ri := range r.plan.People[pi].Rows {
		s := status
		if k > 0 {
			s = StatusDuplicate
		}
		if err := r.out.writeRow(&r.plan.Rows[ri], s, res); err != nil {
			return err
		}
	}
	bs.Received.set(pi - first)
	switch status {
	case StatusFound:
		bs.Counts.Found++
	case StatusNoData:
		bs.Counts.NoData++
	case StatusRejected:
		bs.Counts.Rejected++
	case StatusFailed:
		bs.Counts.Failed++
	case StatusCanceled:
		bs.Counts.Canceled++
	}
	return nil
}

// charged is the credits a start's answer says were charged.
func charged(ci *cdv1.ChargeInfo) float64 {
	switch {
	case ci.GetChargedNow() != nil:
		return ci.GetChargedNow().GetCreditsCharged()
	case ci.GetChargedForAsyncProcess() != nil:
		return ci.GetChargedForAsyncProcess().GetCreditsCharged()
	}
	return 0
}

// progress computes the progress from the state.
func (r *run) progress() Progress {
	p := Progress{People: len(r.plan.People), Batches: len(r.st.Batches), Finished: r.finished}
	price := r.plan.Types.Price()
	for _, b := range r.st.Batches {
		p.Done += b.Counts.total()
		if b.TaskID != "" {
			p.Started++
		}
		p.CreditsCharged += b.CreditsCharged
		p.CreditsRefunded += float64(b.Counts.NoData+b.Counts.Failed)*price + b.CreditsRefunded
	}
	return p
}

func (r *run) report() {
	if r.cfg.Progress != nil {
		r.cfg.Progress(r.progress())
	}
}

// summary is called once the goroutines have stopped.
func (r *run) summary() Summary {
	s := Summary{
		Progress:      r.progress(),
		DuplicateRows: r.plan.Duplicates(),
		Invalid:       len(r.plan.Invalid),
		Resumed:       r.resumed,
		Unmatched:     r.unmatched,
	}
	for i, b := range r.st.Batches {
		s.Counts.add(b.Counts)
		if b.Done {
			s.BatchesDone++
		}
		if b.Unknown != nil {
			s.Unknown = append(s.Unknown, b.Number)
		}
		first := r.plan.Batches[i].People[0]
		for _, pi := range r.plan.Batches[i].People {
			if b.Received.has(pi - first) {
				s.Rows += len(r.plan.People[pi].Rows)
			}
		}
	}
	return s
}

// explainUnknown tells the person what to check about batch b, whose start's outcome is
// unknown, before running the command again.
func (r *run) explainUnknown(b int) {
	bs := &r.st.Batches[b]
	batch := r.plan.Batches[b]
	firstLine := r.plan.Rows[r.plan.People[batch.People[0]].Rows[0]].Line
	lastLine := r.plan.Rows[r.plan.People[batch.People[len(batch.People)-1]].Rows[0]].Line
	r.note(`batch %d (%d people, input lines %d to %d) may or may not have been started and charged: %s.
  fibergate cannot tell, and this batch is not started again on its own. Before running the command again, check:
  - "fibergate list": a task created at about %s with %d people. If there is one, run again with -adopt %d=TASK_ID to take its results;
  - else ask the server's operator: "go run ./cmd/reconcile -since 72h" lists this start by its request_id %s. If it did not start, run again with -restart-unknown (a new request_id: if it had started, it is paid twice).`,
		bs.Number, len(batch.People), firstLine, lastLine, bs.Unknown.Message,
		bs.Unknown.Time.Local().Format("2006-01-02 15:04:05 MST"), len(batch.People), bs.Number, bs.RequestID)
}

// describe renders an error for a note.
func (r *run) describe(err error) string {
	if r.cfg.Describe != nil {
		return r.cfg.Describe(err)
	}
	return fmt.Sprint(err)
}
