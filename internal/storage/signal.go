package storage

// Signal is a hint one replica sends the others sharing a store about a task: never a fact to
// act on without the store, which stays the source of truth, and never guaranteed to arrive.
type Signal struct {
	// Kind says what happened.
	Kind SignalKind
	// Replica names the replica that sent it.
	Replica string
	// Task is the task's id; empty for SignalResync.
	Task string
}

// SignalKind says what a Signal hints at.
type SignalKind string

// Kinds of Signal.
const (
	// SignalResults: the task's poller stored a change (results, state or stats); watchers
	// elsewhere read the store now.
	SignalResults SignalKind = "results"
	// SignalWatched: the sender has watchers of the task, and sends this again while it has;
	// the task's poller polls it as a watched task.
	SignalWatched SignalKind = "watched"
	// SignalPollNow: the task was cancelled on the sender; its poller polls it at once.
	SignalPollNow SignalKind = "poll-now"
	// SignalResync is not sent by replicas: a subscription delivers it when it starts
	// listening, since signals sent before then (while it was disconnected) were lost.
	SignalResync SignalKind = "resync"
)
