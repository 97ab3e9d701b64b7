// Package enrich turns a file of LinkedIn profile URLs into contact details through a
// fibergate server, as the command `fibergate enrich` does: it reads the input (CSV, JSONL or
// plain text) and finds its LinkedIn column, checks every URL, sends each person once, plans
// batches of at most 2000 people with request ids derived from their content, starts and
// watches them over the public gRPC API, and writes one output row per input row as results
// arrive (CSV or JSONL).
//
// # Safe to re-run
//
// A batch's request_id is a name-based UUID of the batch's own people (as sent, in order),
// its number and the enrichment types (see Plan), so the same input always gives the same
// ids, and a retried or repeated start is answered by the server from its idempotency record
// instead of starting (and paying for) a second batch, for as long as the server keeps the
// record (its -idempotency-ttl, 24 hours by default).
//
// Beyond that window the state file beside the output (see State) does it: it records each
// batch's task id as soon as the start is answered, and a batch with a task id is never
// started again. It also records, with each checkpoint, how many bytes of the output are
// complete and, per batch, the resume token of the last watch message whose rows those bytes
// hold. A run that stops anywhere (Ctrl-C, a crash, a lost connection) is resumed by running
// it again: the output is cut back to the recorded length and every watch goes on from its
// recorded token, so every person is in the output exactly once.
//
// Output to stdout keeps no state: a repeated run writes everything again (without paying
// again within the server's idempotency window).
package enrich
