// Package tasks is fibergate's task engine: it follows every Fiber task started or adopted
// through fibergate until Fiber says done and every result page is drained, stores results in
// arrival order, and serves any number of watchers from the store.
//
// # Ownership of goroutines
//
// Engine.Run owns every poller goroutine: one per unfinished task, started when the task is
// tracked, adopted, or found unfinished in the store at start-up. Cancelling Run's context
// stops them all, and Run returns only after they have. Watch runs on its caller's goroutine.
//
// # One poller per task, many watchers
//
// The store is the source of truth. A poller appends results and moves the task's cursor in one
// atomic store write, then wakes the task's watchers. Each watcher reads from the store from its
// own position, so a slow watcher never blocks the poller or other watchers and never loses
// data, and N watchers cost the same upstream calls as one.
//
// # Poll policy
//
// Every poll asks for take=100 (Fiber's maximum). After each answer the poller decides when to
// poll next:
//
//   - A full page (100 results) that came with a new cursor is followed at once: more results
//     are waiting.
//   - Otherwise the poller estimates Fiber's pace from the change in overallStats between polls
//     and waits until a full page should be waiting, or until the task should be done if that
//     is sooner. The wait is clamped to [MinInterval, MaxInterval], and MaxInterval is shorter
//     while somebody watches the task (WatchedMaxInterval).
//   - While nothing changes the wait doubles from MinInterval up to the cap.
//   - A task that gains its first watcher is polled at once.
//   - After Fiber says done, remaining pages are drained back to back, and the poller stops once a
//     page comes back less than full.
//
// Fiber's cursor may behave in either of two ways when the poller has caught up: it may answer
// with a null nextCursor (the next poll then repeats the last cursor and gets the same results
// again, plus any new ones), or it may repeat the last cursor. The poller keeps the last cursor
// it was given and how many results after it are already stored (storage.Progress), and stores
// only results it has not stored before, so both behaviours yield every result exactly once.
//
// Errors: rate limits, 5xx and network errors are retried with capped exponential backoff;
// Fiber answering 401, 403 or 404 for a task ends it FAILED.
package tasks
