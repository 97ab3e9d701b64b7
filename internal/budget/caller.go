package budget

import "context"

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
