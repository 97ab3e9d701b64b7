// Package tasks is fibergate's task engine: it follows every Fiber task started or adopted
// through fibergate until Fiber says done and every result page is drained, stores results in
// arrival order, and serves any number of watchers from the store.
//
// # Ownership of goroutines
//
// Engine.Run owns every poller goroutine: one per unfinished task whose Fiber key is known,
// started under Run's context when the task is tracked or adopted, or found unfinished in the
// store when Run starts (with leases: when the replica claims it); a task tracked or adopted
// before Run waits for it. With leases, Run also owns a claim loop and a heartbeat (see
// Replicas). Cancelling Run's context stops them all, and Run returns only after they have.
// Watch runs on its caller's goroutine.
//
// # Replicas
//
// Several engines (replicas, each in its own process) may share one store that leases tasks
// (Config.Leases): then one replica at a time polls a task, the one holding its lease. A
// lease is claimed in the store and expires by the store's clock LeaseTTL after its claim
// or last renewal, unless released. Each replica:
//
//   - claims the task it tracks or adopts right after storing it, so that the replica that
//     started a task usually polls it; if another replica holds it, it does not poll it;
//   - claims free tasks (never leased, released, or expired) whose Fiber key it knows, at
//     most a few at a time so that replicas share them, every LeaseTTL/3 (at most 2s), and
//     follows them: a dead replica's tasks are taken over within LeaseTTL and one such
//     interval;
//   - renews the leases it holds every LeaseTTL/3, and stops the poller of a lease the store
//     says is lost, or that may have run out by its own clock (not renewed within four
//     fifths of LeaseTTL after the renewal was sent); a poller also checks its lease before
//     each poll, so a replica that lost a lease stops before its next poll of the task;
//   - fences its pollers' writes (storage.Update.Fence): the store refuses a write from a
//     replica that no longer holds the lease (storage.ErrLeaseLost), which stops the poller;
//   - releases a task's lease when its poller ends, and every lease it holds when Run stops,
//     so that the others take them over at once.
//
// Watchers are served by any replica from the store, and resume with their token on any.
// A poller's writes wake the watchers of its own replica directly; with Signals
// (Config.Signals), the replicas also send each other hints, which make them read the store
// sooner and never stand for it:
//
//   - after each write, the poller signals that the task changed: a watch of it on another
//     replica reads the store at once. A watch of a task this replica does not poll also
//     reads the store every RereadInterval, so a lost signal costs at most that long, and
//     every watcher reads the store when its replica's subscription starts again after a
//     gap (SignalResync);
//   - a replica with watchers of a task it does not poll signals that the task is watched
//     when the first comes and every watchBeat (2s) while it has any; the task's poller
//     then polls it as a watched task (WatchedMaxInterval, urgent), for a few beats after the
//     last such signal, and shortens its wait when the first comes, as for a first watcher
//     of its own;
//   - a cancel made on a replica that does not poll the task signals its poller to poll at
//     once.
//
// Without Signals, a watch of a task another replica polls reads the store every
// RereadInterval, the poller knows only its own replica's watchers, and a cancel made
// elsewhere shows at the poller's next poll.
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
//   - A task's first poll comes FirstPoll after its start (Fiber has had time to finish
//     people), or later for a task nobody watches when Fiber's pace is known from the key's
//     other tasks: when a full page with a new cursor should be waiting (or the whole task,
//     if smaller), at most MaxInterval after the start. While the key's pace is unknown, one
//     unwatched task at a time is first polled at FirstPoll to measure it, and the others
//     started meanwhile wait MinInterval longer and are then timed by that measure. A task
//     resumed after a restart or adopted is polled at once, and what Fiber finished before
//     that first answer is not taken for its pace.
//   - A page that came back full (100 results) with a nextCursor that moved the cursor is
//     followed at once when the stats say another full page with a new cursor is waiting
//     (more than 100 finished people not stored yet), or Fiber said done; following it with
//     fewer waiting would fetch a part page, or a full page that reaches the last finished
//     person and may carry a null cursor, and spend a poll of the budget on it. Any other
//     answer is followed by a wait of at least MinInterval.
//   - That wait is timed with the answer's overallStats so that a full page is waiting at the
//     next poll: the poller measures Fiber's pace and waits until enough people are finished
//     beyond the cursor for a full page with a new cursor, or until the task should be done if
//     that is sooner, and then until a few more are (a pace measured a little high must not
//     bring the poll a person too soon), watched or not. The pace is the people finished per
//     second over the task's answers of the last 5s (the last two, if further apart), once they
//     span MinInterval. A task just started also counts from its start, as if made 250ms
//     earlier, until its answers span a second: Fiber begins before fibergate has stored the
//     start, and a pace measured from the stored start comes out high, the next poll early.
//     People Fiber counts as finished but its pages never show (numFailed, say) are learned
//     whenever a page catches up, and left out, so such stats cannot make a hot loop.
//   - While nothing changes, each waited poll that finds nobody newly finished doubles the wait,
//     up to the cap; progress resets it.
//   - The wait is capped at MaxInterval, or at the shorter WatchedMaxInterval while somebody
//     watches the task, which bounds how stale a watcher's view gets. A watched task thus
//     fetches full pages when Fiber finishes one within WatchedMaxInterval (its watchers wait
//     only for the few people of margin), and part pages when Fiber is slower: fresh results
//     for watchers before results per poll. A task that gains its
//     first watcher has its wait shortened to WatchedMaxInterval after its last poll (before
//     its first poll: to FirstPoll after its start); a cancel makes its poller poll at once.
//   - After Fiber says done, the remaining pages are drained back to back (each comes back
//     full), and the poller stops at the first page that is not, or as soon as the counts
//     prove every result stored (see Finishing).
//
// # Finishing
//
// A task is finished (SUCCEEDED, FAILED or CANCELED, as Fiber says) by the answer that says
// done and whose page is the last: one that came back short of 100 results or without a new
// cursor. A page that came back full with a new cursor may have another behind it, and
// without more to go on the poller would ask for it, which costs a poll to learn that the
// next page is empty: one poll in six on a task of 500 people. Fiber's overallStats make that
// poll unneeded when they prove every result fetched: on the same answer that says done, the
// task was not cancelled, numRemaining is 0, and numCompleted + numFailed equals both
// totalPeopleToFetch and the results stored with this page (Fiber pages every finished person
// once, failed ones with null outputs; rejected people and duplicates are never queued). The
// task then ends on that answer. When the counts and the pages disagree (people counted that
// the pages never show, counts missing or null, or counts that once ran below the results
// stored), nothing is concluded from them, and the task ends at the first page that is not
// full, as without counts. Cancelled tasks always end that way: their cancelled people may
// stay counted in numRemaining.
//
// Fiber's cursor may behave in either of two ways when the poller has caught up: it may answer
// with a null nextCursor (the next poll then repeats the last cursor and gets the same results
// again, plus any new ones), or it may repeat the last cursor. The poller keeps the last cursor
// it was given and how many results after it are already stored (storage.Progress), and stores
// only results it has not stored before, so both behaviours yield every result exactly once.
//
// # Errors
//
// Rate limits, 5xx and network errors are retried with capped exponential backoff
// (longer if Fiber sent Retry-After); Fiber answering 400, 401, 403, 404 or 422 to a poll
// ends the task FAILED, since asking again cannot help. A store error (busy, disk full, a
// concurrent append) drops the answer: after the same backoff the poller reloads the task
// from the store and polls again, so a running poller only stops when its task is finished
// or deleted, or the engine stops.
//
// While the store cannot be reached (Config.Health says so), nothing is polled, since the
// answer could not be stored: pollers wait, and go on from their task's stored cursor once it
// answers again. Watches end with an error matching health.ErrStoreUnavailable, and so do
// calls whose store call fails then; a client resumes its watch from its last position later,
// with no gap and no duplicate.
//
// # Polls under one key's budget
//
// When many tasks run under one key, their polls, not Fiber, are the bottleneck: the key's
// poll budget saturates, and the rate limiter (internal/budget) orders the polls. A poller
// waits for its slot however long it takes, and never fails for waiting: its Wait is marked
// budget.WithBackground, with the time of the task's last poll (its start, before the first),
// so that no queue limit (the server's -max-queue-wait) applies; only the end of the poller
// (shutdown, a lost lease, the task deleted) ends the wait, and nothing is logged per poller
// about it. The order:
//
//   - Watched tasks' polls first (budget.WithUrgent), round-robin across the tasks' owners
//     (budget.WithCaller): they take up to three slots in four while unwatched polls wait. A
//     task that gains its first watcher while its poll waits moves to them at once
//     (budget.WithUrgentOn).
//   - Callers' own calls next (the poll that adopts a task), round-robin across owners.
//   - Unwatched tasks' polls last, the task polled longest ago first, whatever its owner,
//     with at least one slot in four while they wait.
//
// So with N_u unwatched tasks on a key of limit N polls per window, an unwatched task's poll
// waits at most 4·N_u slots, ⌈4·N_u/N⌉ windows (N_u slots, ⌈N_u/N⌉ windows, while watched polls
// and callers want fewer than three in four), and the longest time between two polls of an
// unwatched task is that plus its pacer's wait (at most MaxInterval). With Fiber's 240 polls a
// minute and 1,000 unwatched tasks, that is 17 windows of a minute at worst, 5 without watched
// traffic. Across replicas the order holds within each replica, and a replica held back by
// the others' watched polls still gets about one slot in six or seven; see internal/budget.
package tasks
