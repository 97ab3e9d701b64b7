// Package budget spends Fiber's rate limits, per API key and per endpoint, without ever
// overrunning them: every request to Fiber first asks the Limiter for a slot (Wait), and a 429
// that comes back anyway pauses the whole bucket (Penalize).
//
// # The model: a sliding-window log of departures
//
// Fiber allows N requests per window Per for each key and endpoint (30/1m for start, 240/1m for
// poll, 60/1m assumed for cancel) and, as far as can be told, counts arrivals in a sliding
// window: a request is refused when N others arrived in the Per before it (refused ones
// included, so hammering keeps a key refused). The Limiter keeps the same model on its side: a
// log of the last N departures of each bucket. The next request may leave once the N-th most
// recent departure is at least Per + margin old; put the other way, the (N+1)-th departure
// after departure d leaves no earlier than d + Per + margin.
//
// golang.org/x/time/rate (a token bucket) does not fit this limit. With burst N it refills
// continuously at N/Per, so a fresh process can send N at once and then N more over the
// following Per, up to about 2N arrivals in one of Fiber's windows: a guaranteed 429. With burst
// 1 it never overruns, but it spaces requests Per/N apart, so the first window is spent
// trickling when Fiber would have taken N at once; a burst of 90 starts under 30/6s then takes
// about 18 s instead of 12 s. The log is exact for a sliding window: it grants N at once when the
// window is empty and then exactly N per Per, which is all Fiber allows.
//
// # Counting from the answer, and the margin
//
// Fiber counts arrivals, the Limiter counts departures. The gap between them varies: goroutine
// scheduling, a new connection and its TLS handshake, the network, a busy server. If request d
// took longer to arrive than request d+N, the two arrivals are closer than their departures,
// and the second can be refused. So each logged departure also says what is known of its
// arrival, from what the caller reports (fiber.Retrier reports both, from httptrace hooks):
//
//   - Sent: the request was written. Until its answer comes it is in flight, and it may reach
//     Fiber at any moment, so it counts as the most recent departure: no slot that depends on it
//     is granted before its answer.
//   - Done: the first byte of the answer came, or the attempt ended. Fiber counted the request
//     before answering it, so the answer time is an upper bound of the arrival, and the
//     departure counts from then. The (N+1)-th request after d then leaves at least Per after d
//     arrived, whatever the delays: the spacing is safe by construction, and costs only the
//     time from arrival to answer.
//   - Nothing reported: the departure counts from its grant, a lower bound of its arrival.
//
// Every window is also stretched by a margin, by default clamp(Per/100, 20ms, 1s) and never
// more than Per/20 (600ms for 1m, 60ms for 6s, 20ms for 2s), so that the rate stays at or above
// N/(Per+margin), 95.2% of Fiber's, 99% for windows of 2s and more. For a departure counted
// from its grant it absorbs the delay to Fiber; for one counted from its answer, what the
// answer cannot bound: Fiber's clock running a little fast, or timestamps it rounds.
// Config.Margin overrides it.
//
// # Lanes and the order of a saturated bucket
//
// A bucket is saturated when more Waits come than its limit allows: they queue, and the
// order in which slots are granted matters. Waits queue in one of three lanes:
//
//   - urgent: Waits marked WithUrgent, requests somebody waits on (the polls of watched tasks),
//     and Waits marked WithUrgentOn once told, while queued, that they became urgent;
//   - normal: unmarked Waits, callers' own requests, which have deadlines of their own;
//   - background: Waits marked WithBackground only, internal work nobody waits on right now
//     (the polls of unwatched tasks), each with a since: how long it has been due.
//
// Slots go to the urgent lane first, then the normal lane, then the background lane, with one
// exception: while the background lane has waiters, the other two get at most priorityRun (3)
// slots in a row, and the next goes to the background lane. Within the urgent and normal lanes,
// a Wait joins the queue of its caller (named by WithCaller in the context; callers without a
// name share the queue ""), and slots are granted round-robin across the callers of the lane,
// each queue in FIFO order. A caller that joins is served at the end of the current round, so
// a noisy caller with a thousand waiters delays another caller's first request by at most one
// round, not a thousand slots. The background lane is ordered by since, the oldest first
// (arrival order among equals), whatever the caller: for task polls, the task polled longest
// ago goes first, so every task gets its turn once per round of the tasks waiting, and an
// owner's share of these polls is in proportion to its unfinished tasks. A waiter whose
// context ends leaves the queue and consumes nothing.
//
// The bound of a background Wait. Say a bucket's background Waits are the polls of N_u tasks,
// each with at most one Wait queued at a time and since the time of the task's last poll. A
// task's Wait with since t0 is served after those of since earlier than t0 (and equal ones that
// came before it); a task served meanwhile polls after t0, so it comes back behind the Wait:
// each other task goes first at most once, and the Wait is granted within N_u background
// grants. The background lane gets at least one slot in priorityRun+1 while it waits, so the
// Wait is granted within (priorityRun+1)·N_u = 4·N_u slots of the bucket, and within N_u when
// the urgent and normal lanes want fewer. A bucket of limit N per Per grants at most N slots
// per window and, saturated, about that many: the Wait ends within ⌈4·N_u/N⌉ windows (each Per
// plus the margin plus the time Fiber takes to answer, which the window counts from), plus any
// 429 pause. With Fiber's 240 polls a minute and 1,000 unwatched tasks on a key, a task waits at
// most ⌈4000/240⌉ = 17 windows, about 17 minutes, when watched polls take their whole share,
// and ⌈1000/240⌉ = 5, about 5 minutes, when they take none (its pacer's wait between polls
// comes on top). The urgent lane gets at least three slots in four, so a watched task's poll
// waits for the other urgent polls ahead of it, a third more, and not for unwatched ones.
//
// Wait fails fast: from the queue ahead of it, the departure log and any 429 pause it computes
// when its slot would come. When that is later than the context's deadline less
// Config.SendReserve, or than Config.MaxWait, it returns a *WaitError at once with the expected
// delay, and nothing is sent. The estimate is made on arrival; callers joining later may take
// their fair turn ahead of a waiter, which then ends with its context's error if its deadline
// comes first, or with a *WaitError if its slot leaves less than SendReserve. Config.MaxWait does
// not bound a background Wait, urgent or not: internal work waits its turn without failing, and
// only its context (give it no deadline) ends the wait.
//
// # 429s
//
// The key may be shared with other software, so Fiber can refuse a request anyway. Penalize
// pauses the bucket, for every waiter, for Fiber's Retry-After when it sent one, else for an
// exponential backoff with jitter that grows with consecutive 429s and is capped.
//
// # One budget for several replicas
//
// Replicas of one service that call Fiber with the same key must share its budget, or each
// spends all of it. With Config.Ledger, the window of each bucket (its departure log, its 429
// pause) lives in the ledger, one record per key and endpoint that every Limiter on the ledger
// reads and writes; internal/storage/postgres keeps it in PostgreSQL. What stays local is the
// queue: the Waits of each replica queue there, in the lanes and order above, and when the turn
// of one has come the replica books its slot in the ledger. The urgent lane also
// spans the replicas, through a claim in the record (below).
//
// A booking is one transaction: it reads the record at the ledger's clock (the replicas'
// clocks differ; only the ledger's places slots), applies the rules above to it, takes the
// slot if one is free at that time, and writes the record back. Sent, Done, Penalize and slots
// given back are applied in the bucket's next transaction, at its time: later than they
// happened, which only makes departures count as more recent than they were. A 429 so pauses
// the bucket for every replica.
//
// Slots are booked when they are due, never ahead: a slot booked ahead could not move when a
// request before it is answered late, which is what counting from the answer needs. Each
// transaction leaves the replica a view of the record, which places the next slot no earlier
// than the ledger will (other replicas' grants and reports only push slots later), so the
// replica sleeps until then and books again; if another replica took that slot meanwhile, it
// learns the next one. A slot held back by a request in flight on another replica is looked
// at again one window later, the earliest it can come.
//
// Across replicas, slots go by arrival at the ledger: each replica books one slot per
// transaction, and the record's lock serves them in turn. Each replica with waiters thus gets
// about an equal share of the slots that free up, whatever the number of its waiters, and a
// caller's share is fair within its replica's. A caller whose requests are spread over the
// replicas gets its turn on each.
//
// The urgent lane holds across replicas. A replica with urgent Waits queued records a claim in
// the record, in the same transactions: its identity, and a time by the ledger's clock, that
// of the next slot plus a hold of one slot interval (Per/N, within 100ms and 2s). It renews the
// claim in each transaction while urgent Waits remain queued and clears it when none do. While
// another replica's claim is live, a replica does not book a free slot for a Wait that is not
// urgent: it looks again when the claim ends, and the slot goes to the claimer. Urgent Waits
// book free slots whatever the claim, so the urgent Waits of several replicas share the slots
// among themselves as ordinary Waits do, and go before every ordinary Wait of the cluster. The
// record holds one claim, the latest; a replica whose claim was replaced records it again in
// its next transaction. A claim ends on its own: a replica that dies with urgent Waits queued
// holds the others back by at most the hold after the slot it was waiting for. The window is
// written in format 2 only while it carries a claim; older fibergates read format 1 only.
//
// Claims do not starve the other replicas. A replica whose bookings other replicas' claims
// have held back for (priorityRun+1) slot intervals (4·window/N) books the next free slot
// whatever the claims say, and its turn starts again. While the urgent Waits of other replicas
// want every slot, a replica with waiters so gets a slot about every four slot intervals and
// the time the claims take to look at again, about one slot in six or seven; a claimer's own
// background lane has its share of the claimer's slots as above.
//
// What holds across replicas is therefore approximate, and this is what is guaranteed: every
// Wait of a replica is ordered by the rules above among that replica's Waits (tasks are
// spread over the replicas by their leases, so each task's polls queue on one replica);
// background Waits are never bounded by MaxWait on any replica; urgent Waits go before other
// Waits of the cluster except for the slots that held-back replicas take; and a background
// Wait's bound is the one above computed with its own replica's background Waits and the
// share of the slots that replica gets: an equal share among the replicas with waiters, and
// about one slot in six or seven while other replicas' urgent Waits want every slot.
//
// The view does not see the other replicas' queues, so the estimate a Wait makes on arrival is
// a lower bound: a fast failure is certain, but a Wait may queue and then find its slot too
// late. It then fails with a *WaitError when the time it was allowed to queue runs out, rather
// than at its deadline. When a transaction that was to book a slot fails, every Wait queued in
// the bucket fails with the ledger's error: nothing is sent that the ledger did not book.
// Reports that fail are kept and tried again, and a request left in flight by a replica that
// died counts as answered Config.MaxInFlight after it was sent. Flush waits until the reports
// made so far are in the ledger.
//
// # Visibility
//
// Stats returns queue depths by lane, the oldest wait of each lane, how long each bucket has
// been backlogged (Waits queued without a break: saturated, when it lasts a window or more),
// waits, grants, fast failures and 429s per bucket, ready to be exported as metrics;
// Config.OnGrant sees every grant's lane and wait. With Config.Logger, waits and fast failures
// are logged at debug level and 429 pauses at warn level: nothing is logged per Wait above
// debug level however long the queue, so a saturated budget is a normal state, summed up by
// whoever reads Stats (fibergate's server logs one line a minute). Buckets are named by
// fiber.KeyID, never by the key.
package budget
