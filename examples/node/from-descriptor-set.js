// Loads the contract from gen/fibergate.binpb alone, with no generated code, using
// @grpc/grpc-js and @grpc/proto-loader, and lists the caller's tasks: what a tool that
// discovers the API at run time does. FIBERGATE_ADDR and FIBERGATE_TOKEN as for example.js,
// whose tasks it lists.
//
// proto-loader's objects differ from the generated code's. Loaded from a descriptor set, fields
// keep their proto names (page_size, charge_info: keepCase applies to .proto files only, which
// are camelCased by default), and unknown ones are dropped without a word, so {pageSize: 10}
// silently asks for the default page. With oneofs: true a oneof's case is a string key
// (charge_info.method === "charged_now"), and every proto3 `optional` field adds a synthetic
// one ("_exhaustive": "exhaustive" when set); enums: String gives names ("TASK_STATE_RUNNING"),
// longs: String int64 as strings.
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const set = readFileSync(new URL("../../gen/fibergate.binpb", import.meta.url));
const definition = protoLoader.loadFileDescriptorSetFromBuffer(set, {
  longs: String, enums: String, defaults: true, oneofs: true,
});
const { ContactDetailsService } = grpc.loadPackageDefinition(definition).fibergate.contactdetails.v1;

// Plaintext, so the token goes in each call's metadata; over TLS, combine
// grpc.credentials.createSsl() with grpc.credentials.createFromMetadataGenerator instead.
const client = new ContactDetailsService(process.env.FIBERGATE_ADDR, grpc.credentials.createInsecure());
const metadata = new grpc.Metadata();
metadata.set("authorization", `Bearer ${process.env.FIBERGATE_TOKEN}`);
const call = (method, request) => new Promise((resolve, reject) => {
  client[method](request, metadata, { deadline: Date.now() + 30_000 }, (err, res) => (err ? reject(err) : resolve(res)));
});

try {
  const { tasks } = await call("listTasks", { page_size: 1 });
  const [task] = tasks;
  if (tasks.length !== 1 || task.charge_info?.method !== "charged_now") {
    throw new Error(`FAIL descriptor set: ListTasks, a page of 1: ${JSON.stringify(tasks)}`);
  }
  console.log(`ok   descriptor set alone: ListTasks, a page of 1, ${task.state}, charged ${task.charge_info.charged_now.credits_charged} credits`);
  try {
    await call("getTask", { task_id: "no-such-task" });
    throw new Error("FAIL descriptor set: GetTask of an unknown task succeeded");
  } catch (err) {
    if (err.code !== grpc.status.NOT_FOUND) throw err;
    console.log("ok   descriptor set alone: an unknown task is NOT_FOUND");
  }
} catch (err) {
  console.error(err.message);
  process.exitCode = 1;
} finally {
  client.close();
}
