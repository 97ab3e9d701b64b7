// Calling fibergate from Node: start a batch, watch it (resuming after a dropped stream), page
// its stored results, and read errors. Uses the generated code in gen/node (protoc-gen-es, with
// @bufbuild/protobuf) and Connect's gRPC transport; the npm packages are pinned in the
// repository's package.json.
//
// Configuration comes from the environment, so that no token shows up in a process list:
//   FIBERGATE_ADDR         gRPC address, e.g. 127.0.0.1:9090
//   FIBERGATE_TOKEN        your bearer token
//   FIBERGATE_OTHER_TOKEN  another caller's token (shows that their tasks are invisible to
//                          you); optional
//
// scripts/clients.sh runs it against the server's Fiber simulator (-fake-fiber) with
// -start-rate 2/1m, so that a third start within a minute is refused with a retry delay.
// Against the real Fiber every start is paid: leave that part out.
import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ContactDetailsService } from "../../gen/node/fibergate/contactdetails/v1/contact_details_pb.js";
import { TaskState } from "../../gen/node/fibergate/contactdetails/v1/task_pb.js";
import { apiError } from "./errors.js";

const PEOPLE = Array.from({ length: 60 }, (_, i) => `https://www.linkedin.com/in/node-example-${i}`);

function check(ok, what) {
  if (!ok) throw new Error(`FAIL ${what}`);
  console.log(`ok   ${what}`);
}

/** A client whose every call carries the bearer token (use https:// for TLS), and a function
 * that closes its connection. */
function connect(addr, token) {
  const baseUrl = `http://${addr}`;
  const sessionManager = new Http2SessionManager(baseUrl);
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager,
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      },
    ],
  });
  return [createClient(ContactDetailsService, transport), () => sessionManager.abort()];
}

/** Reads WatchTask from resumeToken; with stopAfter, drops the stream after that many messages,
 * as a lost connection would. */
async function watch(client, taskId, resumeToken = "", stopAfter = Infinity) {
  const drop = new AbortController();
  // AbortSignal.timeout bounds the watch without keeping the process alive afterwards.
  const signal = AbortSignal.any([drop.signal, AbortSignal.timeout(60_000)]);
  const messages = [];
  for await (const msg of client.watchTask({ taskId, resumeToken }, { signal })) {
    messages.push(msg);
    if (messages.length === stopAfter) {
      drop.abort();
      break;
    }
  }
  return messages;
}

async function main() {
  const addr = process.env.FIBERGATE_ADDR;
  const [client, close] = connect(addr, process.env.FIBERGATE_TOKEN);
  const opts = { timeoutMs: 30_000 };

  // StartBatch with a requestId: retrying with the same id (and the same people) never starts,
  // or pays for, a second batch.
  const start = {
    requestId: randomUUID(),
    personDetails: PEOPLE.map((value) => ({ linkedinUrl: { value } })),
    enrichmentTypes: { getWorkEmails: true, getPersonalEmails: false, getPhoneNumbers: true },
  };
  const started = await client.startBatch(start, opts);
  const taskId = started.output?.taskId ?? "";
  // chargeInfo's oneof: method.case names the case (lowerCamelCase in JavaScript).
  check(started.output?.numPeopleEnqueued === PEOPLE.length && started.chargeInfo?.method.case === "chargedNow",
    `start: ${PEOPLE.length} people enqueued, charged now`);
  const again = await client.startBatch(start, opts);
  check(again.output?.taskId === taskId, "start again with the same requestId: the same task, no second charge");

  // Watch, drop the stream after its first message, resume with the last resumeToken.
  const first = await watch(client, taskId, "", 1);
  const rest = await watch(client, taskId, first.at(-1).resumeToken);
  const messages = [...first, ...rest];
  const results = messages.flatMap((m) => m.results);
  check(messages.at(-1).state === TaskState.SUCCEEDED, "watch: the last message is SUCCEEDED");
  check(results.map((r) => r.sequence).join() === PEOPLE.map((_, i) => i + 1).join(),
    `watch resumed after ${first.length} message(s): sequences 1..${PEOPLE.length}, no gap, no duplicate`);
  check(results.map((r) => r.linkedinUrl).sort().join() === [...PEOPLE].sort().join(), "watch: every person exactly once");

  // Page the stored results.
  const paged = [];
  let pageToken = "";
  for (let i = 0; i < 100; i++) { // bounded: 60 results in pages of 7
    const page = await client.listTaskResults({ taskId, pageSize: 7, pageToken }, opts);
    paged.push(...page.results);
    pageToken = page.nextPageToken;
    if (!pageToken) break;
  }
  check(paged.map((r) => r.sequence).join() === results.map((r) => r.sequence).join(),
    "ListTaskResults pages: every result once, in order");

  // INVALID_ARGUMENT: the field violations name the JSON path of each bad field.
  try {
    await client.startBatch({ personDetails: [{ linkedinUrl: { value: "https://example.com/jake" } }] }, opts);
    check(false, "a bad URL is refused");
  } catch (err) {
    const e = apiError(err);
    check(e.code === "InvalidArgument" && e.reason === "VALIDATION_FAILED" && "personDetails[0].linkedinUrl.value" in e.fieldViolations,
      `a bad URL: INVALID_ARGUMENT, field violation on ${Object.keys(e.fieldViolations)}`);
  }

  // RESOURCE_EXHAUSTED: Fiber's start rate is used up; RetryInfo says when to come back.
  let limited;
  for (let i = 0; i < 5 && !limited; i++) { // the server under test allows 2 starts a minute
    try {
      await client.startBatch({
        requestId: randomUUID(),
        personDetails: [{ linkedinUrl: { value: `https://www.linkedin.com/in/node-extra-${i}` } }],
      }, { timeoutMs: 5_000 });
    } catch (err) {
      limited = apiError(err);
    }
  }
  check(limited?.code === "ResourceExhausted" && limited.reason === "RATE_LIMITED" && limited.retryDelaySeconds > 0,
    `starts over the rate limit: RESOURCE_EXHAUSTED, retry in ${limited?.retryDelaySeconds?.toFixed(0)}s`);

  // Another caller cannot see the task: NOT_FOUND, as for a task that does not exist.
  if (process.env.FIBERGATE_OTHER_TOKEN) {
    const [other, closeOther] = connect(addr, process.env.FIBERGATE_OTHER_TOKEN);
    try {
      await other.getTask({ taskId }, opts);
      check(false, "another caller's GetTask is refused");
    } catch (err) {
      const e = apiError(err);
      check(e.code === "NotFound" && e.reason === "TASK_NOT_FOUND", "another caller's task: NOT_FOUND");
    } finally {
      closeOther();
    }
  }
  close();
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
