"""Turns a failed fibergate call into what a program acts on.

Every fibergate error carries a google.rpc.Status in the trailing metadata
"grpc-status-details-bin": one google.rpc.ErrorInfo (domain "fibergate", an
UPPER_SNAKE reason), a google.rpc.BadRequest for INVALID_ARGUMENT, a
google.rpc.RetryInfo when waiting helps. Other details (buf.validate.Violations
on INVALID_ARGUMENT, QuotaFailure, ...) are skipped unless you look for them.
grpcio's grpcio-status package does the same; this needs nothing beyond the
generated google/rpc modules.
"""

from dataclasses import dataclass, field
from typing import Optional

import grpc
from google.rpc import error_details_pb2, status_pb2


@dataclass
class APIError:
    """A failed call: its gRPC code and the details fibergate put in it."""

    code: grpc.StatusCode
    message: str
    reason: str = ""  # ErrorInfo.reason, e.g. "TASK_NOT_FOUND"
    metadata: dict = field(default_factory=dict)  # ErrorInfo.metadata, e.g. {"task_id": ...}
    field_violations: dict = field(default_factory=dict)  # JSON field path -> description
    retry_delay: Optional[float] = None  # seconds, from RetryInfo


def api_error(err: grpc.RpcError) -> APIError:
    """Decodes the status details of err (an exception raised by a stub call)."""
    result = APIError(code=err.code(), message=err.details() or "")
    raw = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
    if raw is None:  # errors from grpc itself (e.g. a deadline) carry no details
        return result
    status = status_pb2.Status.FromString(raw)
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            result.reason, result.metadata = info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            for v in bad.field_violations:
                result.field_violations[v.field] = v.description
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            result.retry_delay = retry.retry_delay.ToTimedelta().total_seconds()
    return result
