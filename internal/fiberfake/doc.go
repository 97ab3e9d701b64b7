// Package fiberfake simulates Fiber AI's batch contact-details API (start, poll
// and cancel under /v1/contact-details/batch/) for the server's fake mode and
// for tests. It follows the documented contract: lowerCamelCase JSON, the
// documented status codes and bodies, per-key credits and rate limits.
//
// Everything is deterministic given Config.Seed, the requests and when they
// arrive: which people are rejected, found, missing or failed, and their
// contact details. Task ids are too once Config.TaskIDSalt is set; by default
// New draws a random salt, so each simulator hands out ids no other one has
// handed out, and a restarted server never meets an id its store already
// holds. Tasks progress person by person, computed at each call from the
// time, so the simulator runs no goroutine of its own. Faults (error
// statuses, latency, broken bodies, dropped connections) can be injected at
// run time with InjectFault or over HTTP on the admin handler.
//
// # Time
//
// The simulator tells time with package time: task progress, refunds,
// rate-limit windows and injected delays all follow the wall clock. Served
// and called from inside a testing/synctest bubble (for example over the
// in-memory connections of fiberfaketest.NewPipeServer), it follows the
// bubble's clock instead: time stands still until the test sleeps, and
// time.Sleep(d) moves every task, refund and rate-limit window forward by
// exactly d.
//
// # Choices where Fiber's documentation is silent
//
// Checks run in this order on every endpoint: the body is a JSON object
// (400), apiKey is present and known (401), the key's rate limit for the
// endpoint (429), the fields (400, the message starting with the field path),
// then the endpoint's own checks: for start, "no person could be queued"
// (400) and credits (402); for poll and cancel, the task exists and belongs
// to the key (404); for poll, the cursor belongs to the task (400); for
// cancel, the task is not done yet (422).
//
// A start whose enrichmentTypes sets getWorkEmails, getPersonalEmails and
// getPhoneNumbers all to false asks for nothing: it is a 400 on the field
// "enrichmentTypes", checked with the fields, before credits. A missing
// enrichmentTypes, or a flag missing from it, counts as true.
//
// Unknown request fields never fail a call: each becomes a warning whose
// field is the dotted path with array indexes as segments, for example
// "personDetails.3.linkedinUrl.extra". Without any, "warnings" is null.
//
// Two LinkedIn URLs are the same person when their profile kind (in,
// sales/lead, talent/profile) and their slug, percent-decoded and
// lower-cased, are equal. Later copies are skipped as duplicates and not
// charged. Of the unique people, those rejected (RejectRate, or a slug
// starting with "reject-") are not queued and not charged either.
//
// Price per queued person: 2 credits per email type plus 3 for phones,
// capped at 5. That gives Fiber's documented prices (all 5, work only 2,
// personal only 2, phone only 3) and work+personal 4, emails+phones 5.
// Credits are charged up front at start. People completed without data
// (no data or failed) are refunded as they complete; cancel refunds the
// people not completed yet. Poll is free and says so with a "free"
// chargeInfo; cancel answers a "credits-refunded" chargeInfo.
//
// A person whose slug starts with "fail-" (or drawn by FailRate) fails:
// counted in numFailed, still returned in pageResults with "outputs": null
// like a person without data (slug "nodata-" or NoDataRate), and refunded. A
// task is "failed" when it is done, not canceled, and every one of its
// people failed. numCompleted + numFailed + numRemaining always equals
// totalPeopleToFetch; after a cancel the cancelled people stay in
// numRemaining while done and canceled are true. So by default, once a task
// is done and not cancelled, its pages hold numCompleted + numFailed results
// in all. Config.FailedUnpaged leaves failed people out of the pages (still
// counted in numFailed), for clients that must cope with counts their pages
// never add up to.
//
// Results come in completion order, which is the input order of the queued
// people, paged by opaque cursors that can be replayed; see CursorMode for
// what nextCursor is once the caller has caught up.
package fiberfake
