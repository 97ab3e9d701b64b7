// Calling fibergate's REST API from TypeScript with a client generated from the OpenAPI
// description the server serves:
//
//   npx openapi-typescript "$FIBERGATE_URL/openapi.json" -o fibergate-api.ts
//
// then openapi-fetch (pinned with openapi-typescript in the repository's package.json) makes
// the calls, typed end to end: paths, parameters, bodies and answers all come from the
// description. scripts/clients.sh generates the types from the running server, type-checks
// this file strictly (tsconfig.json) and runs it against the server's Fiber simulator.
//
//   FIBERGATE_URL    the REST address, e.g. http://127.0.0.1:8080
//   FIBERGATE_TOKEN  your bearer token
import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { components, paths } from "./fibergate-api.js";

type WatchLine = paths["/v1/contact-details/batch/{taskId}:watch"]["get"]["responses"][200]["content"]["application/x-ndjson"];
type Status = components["schemas"]["rpcStatus"];

const client = createClient<paths>({
  baseUrl: process.env.FIBERGATE_URL ?? "http://localhost:8080",
  headers: { Authorization: `Bearer ${process.env.FIBERGATE_TOKEN}` },
});

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`FAIL ${what}`);
  console.log(`ok   ${what}`);
}

/** The reason of the error's google.rpc.ErrorInfo, e.g. "TASK_NOT_FOUND". */
function reason(status: Status | undefined): string | undefined {
  const info = status?.details?.find((d) => d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo");
  return typeof info?.reason === "string" ? info.reason : undefined;
}

/** Starts a batch of n people, safe to retry with the same Idempotency-Key. */
async function start(n: number, prefix: string): Promise<string> {
  const { data, error } = await client.POST("/v1/contact-details/batch/start", {
    params: { header: { "Idempotency-Key": randomUUID() } },
    body: {
      personDetails: Array.from({ length: n }, (_, i) => ({ linkedinUrl: { value: `https://www.linkedin.com/in/${prefix}-${i}` } })),
      enrichmentTypes: { getWorkEmails: true, getPersonalEmails: true, getPhoneNumbers: false },
    },
  });
  if (!data) throw new Error(`start: ${JSON.stringify(error)}`);
  check(data.output?.numPeopleEnqueued === n && data.chargeInfo?.fiberMethod === "charged-now", `start: ${n} people enqueued, charged now`);
  return data.output?.taskId ?? "";
}

/** Reads the task's watch to its end: newline-delimited JSON, one {"result"} or {"error"} per line. */
async function watch(taskId: string): Promise<WatchLine[]> {
  const { data, error, response } = await client.GET("/v1/contact-details/batch/{taskId}:watch", {
    params: { path: { taskId } },
    parseAs: "stream",
    signal: AbortSignal.timeout(60_000),
  });
  if (!data) throw new Error(`watch: ${response.status} ${JSON.stringify(error)}`);
  check(response.headers.get("content-type") === "application/x-ndjson", "watch: served as application/x-ndjson");
  const lines: WatchLine[] = [];
  let buffered = "";
  for await (const chunk of data.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, end).trim();
      buffered = buffered.slice(end + 1);
      if (line) lines.push(JSON.parse(line) as WatchLine);
    }
  }
  return lines;
}

async function main(): Promise<void> {
  // Start, watch to the end, read, list and page.
  const people = 30;
  const taskId = await start(people, "typescript-example");
  const lines = await watch(taskId);
  const results = lines.flatMap((l) => l.result?.results ?? []);
  check(lines.every((l) => l.error === undefined) && lines.at(-1)?.result?.state === "TASK_STATE_SUCCEEDED",
    `watch: ${lines.length} lines, the last SUCCEEDED`);
  check(new Set(results.map((r) => r.linkedinUrl)).size === people && results.length === people, "watch: every person exactly once");

  const got = await client.GET("/v1/contact-details/batch/{taskId}", { params: { path: { taskId } } });
  const task = got.data?.task;
  check(task?.state === "TASK_STATE_SUCCEEDED" && task.numResults === people && typeof task.finishTime === "string" && task.cancellation === null,
    "get: SUCCEEDED, finishTime set, cancellation null");

  const listed = await client.GET("/v1/contact-details/batch", { params: { query: { pageSize: 10 } } });
  check(listed.data?.tasks?.some((t) => t.taskId === taskId) === true, "list: the task is there");

  const paged: number[] = [];
  let pageToken = "";
  for (let i = 0; i < 20; i++) { // bounded: 30 results in pages of 7
    const page = await client.GET("/v1/contact-details/batch/{taskId}/results", {
      params: { path: { taskId }, query: { pageSize: 7, pageToken } },
    });
    if (!page.data) throw new Error(`page: ${JSON.stringify(page.error)}`);
    paged.push(...(page.data.results ?? []).map((r) => r.sequence));
    pageToken = page.data.nextPageToken ?? "";
    if (!pageToken) break;
  }
  check(paged.join() === results.map((r) => r.sequence).join(), `page: ${paged.length} results in pages of 7, none repeated`);

  // Cancel a batch while it runs; its watch ends CANCELED with the refund.
  const big = await start(400, "typescript-cancel");
  const cancelled = await client.POST("/v1/contact-details/batch/{taskId}:cancel", { params: { path: { taskId: big } }, body: {} });
  check((cancelled.data?.cancelledCount ?? 0) > 0, `cancel: ${cancelled.data?.cancelledCount} people cancelled`);
  const last = (await watch(big)).at(-1)?.result;
  check(last?.state === "TASK_STATE_CANCELED" && (last.cancellation?.cancelledCount ?? 0) > 0, "watch of the cancelled task: CANCELED, with the cancellation");

  // Errors come typed too: {code, message, details} with the ErrorInfo's reason.
  const missing = await client.GET("/v1/contact-details/batch/{taskId}", { params: { path: { taskId: "no-such-task" } } });
  check(missing.response.status === 404 && reason(missing.error) === "TASK_NOT_FOUND", "get an unknown task: 404 TASK_NOT_FOUND");
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
