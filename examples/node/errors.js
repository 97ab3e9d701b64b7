// Turns a failed fibergate call into what a program acts on.
//
// Every fibergate error carries a google.rpc.Status (the gRPC trailer grpc-status-details-bin):
// one google.rpc.ErrorInfo (domain "fibergate", an UPPER_SNAKE reason), a google.rpc.BadRequest
// for INVALID_ARGUMENT, a google.rpc.RetryInfo when waiting helps. Connect decodes the status;
// findDetails picks the details by type, so the others (buf.validate.Violations on every
// INVALID_ARGUMENT, QuotaFailure, ...) are skipped unless asked for.
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "../../gen/node/google/rpc/error_details_pb.js";

/**
 * @param {unknown} err what a call threw
 * @returns {{code: string, message: string, reason: string, metadata: Record<string, string>,
 *   fieldViolations: Record<string, string>, retryDelaySeconds: number | undefined}}
 *   code is the gRPC code's name in Connect's spelling, e.g. "InvalidArgument"; a field
 *   violation maps the JSON path of a field to what is wrong with it.
 */
export function apiError(err) {
  const e = ConnectError.from(err);
  const [info] = e.findDetails(ErrorInfoSchema);
  const [bad] = e.findDetails(BadRequestSchema);
  const [retry] = e.findDetails(RetryInfoSchema);
  return {
    code: Code[e.code],
    message: e.rawMessage,
    reason: info?.reason ?? "",
    metadata: info?.metadata ?? {},
    fieldViolations: Object.fromEntries((bad?.fieldViolations ?? []).map((v) => [v.field, v.description])),
    // Duration: seconds are a bigint (int64), nanos a number.
    retryDelaySeconds: retry?.retryDelay ? Number(retry.retryDelay.seconds) + retry.retryDelay.nanos / 1e9 : undefined,
  };
}
