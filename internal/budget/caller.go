package budget

import (
	"context"
	"time"
)

// callerKey is the context key of the caller's name.
type callerKey struct{}

// WithCaller returns a copy of ctx naming the caller on whose behalf requests are made, such as
// the calling service or tenant. Limiter.Wait queues each caller separately and serves callers
// round-robin, so the name should identify one party that competes for the budget, and there
// should be few of them (one queue is kept per name while it has waiters).
func WithCaller(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, callerKey{}, name)
}

// Caller returns the name set by WithCaller, or "" when there is none. Callers without a name
// share one queue.
func Caller(ctx context.Context) string {
	name, _ := ctx.Value(callerKey{}).(string)
	return name
}

// urgentKey is the context key of the urgent mark.
type urgentKey struct{}

// WithUrgent returns a copy of ctx whose Waits go before every Wait without the mark, in the
// same bucket (round-robin across callers among themselves): for requests someone is waiting
// on, such as the polls of a task that has watchers. A request that would wait anyway for
// other urgent ones is no better off, so mark only what is urgent.
func WithUrgent(ctx context.Context) context.Context {
	return context.WithValue(ctx, urgentKey{}, true)
}

// Urgent reports whether ctx was marked by WithUrgent.
func Urgent(ctx context.Context) bool {
	u, _ := ctx.Value(urgentKey{}).(bool)
	return u
}

// backgroundKey is the context key of the background mark.
type backgroundKey struct{}

// WithBackground returns a copy of ctx whose Waits are background work that waits its turn
// rather than fail, such as the polls of a task: work nobody waits on right now, of which
// since says how long it has been due (for a task, the time of its last poll). Such a Wait is
// bounded by ctx alone, never by Config.MaxWait: give ctx no deadline, and end it when the
// work is no longer wanted. Unless it is also marked WithUrgent, it queues in the background
// lane of its bucket, after the Waits of the other lanes but with a share of the slots of its
// own, the oldest since first whatever the caller (see the package documentation). Marked
// WithUrgent too, it queues in the urgent lane as other urgent Waits do, and only the bound
// differs.
func WithBackground(ctx context.Context, since time.Time) context.Context {
	return context.WithValue(ctx, backgroundKey{}, since)
}

// BackgroundSince returns the time set by WithBackground, and whether ctx has the mark.
func BackgroundSince(ctx context.Context) (since time.Time, ok bool) {
	since, ok = ctx.Value(backgroundKey{}).(time.Time)
	return since, ok
}

// urgentOnKey is the context key of the channel set by WithUrgentOn.
type urgentOnKey struct{}

// WithUrgentOn returns a copy of ctx whose Waits move to the urgent lane when ch receives (or
// is closed) while they are queued in another: for requests that become urgent while they
// wait, such as the poll of a task that gains its first watcher. A Wait takes at most one
// value from ch, and only while it is queued. Marked WithUrgent too, the Waits are urgent from
// the start and ch is not read.
func WithUrgentOn(ctx context.Context, ch <-chan struct{}) context.Context {
	return context.WithValue(ctx, urgentOnKey{}, ch)
}

// urgentOn returns the channel set by WithUrgentOn, or nil.
func urgentOn(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(urgentOnKey{}).(<-chan struct{})
	return ch
}
