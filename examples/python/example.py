"""Calling fibergate from Python: start a batch, watch it (resuming after a
dropped stream), page its stored results, and read errors.

Needs grpcio and protobuf (Debian: python3-grpcio python3-protobuf) and the
generated code in gen/python on the import path. Configuration comes from the
environment, so that no token shows up in a process list:

    FIBERGATE_ADDR         gRPC address, e.g. 127.0.0.1:9090
    FIBERGATE_TOKEN        your bearer token
    FIBERGATE_OTHER_TOKEN  another caller's token (shows that their tasks are
                           invisible to you); optional

scripts/clients.sh runs it against the server's Fiber simulator (-fake-fiber)
with -start-rate 2/1m, so that a third start within a minute is refused with a
retry delay. Against the real Fiber every start is paid: leave that part out.
"""

import os
import pathlib
import sys
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "gen" / "python"))

import grpc  # noqa: E402

from fibergate.contactdetails.v1 import contact_details_pb2 as cd  # noqa: E402
from fibergate.contactdetails.v1 import contact_details_pb2_grpc as cd_grpc  # noqa: E402
from fibergate.contactdetails.v1 import task_pb2  # noqa: E402
from fibergate_errors import api_error  # noqa: E402

PEOPLE = [f"https://www.linkedin.com/in/python-example-{i}" for i in range(60)]


def check(ok, what):
    if not ok:
        raise SystemExit(f"FAIL {what}")
    print(f"ok   {what}")


def connect(addr, token, tls=False):
    """A channel whose every call carries the bearer token. local_channel_credentials is
    plaintext to a loopback address (here, the test server); use TLS for anything else."""
    transport = grpc.ssl_channel_credentials() if tls else grpc.local_channel_credentials()
    return grpc.secure_channel(addr, grpc.composite_channel_credentials(transport, grpc.access_token_call_credentials(token)))


def watch(stub, task_id, resume_token="", stop_after=None):
    """Reads WatchTask from resume_token; returns the messages read. With stop_after,
    drops the stream after that many messages, as a lost connection would."""
    stream = stub.WatchTask(cd.WatchTaskRequest(task_id=task_id, resume_token=resume_token), timeout=60)
    messages = []
    for msg in stream:
        messages.append(msg)
        if stop_after is not None and len(messages) == stop_after:
            stream.cancel()
            break
    return messages


def main():
    addr = os.environ["FIBERGATE_ADDR"]
    channel = connect(addr, os.environ["FIBERGATE_TOKEN"])
    stub = cd_grpc.ContactDetailsServiceStub(channel)

    # StartBatch with a request_id: retrying with the same id (and the same people) never
    # starts, or pays for, a second batch.
    request_id = str(uuid.uuid4())
    start = cd.StartBatchRequest(
        request_id=request_id,
        person_details=[cd.PersonDetails(linkedin_url=cd.LinkedInUrl(value=u)) for u in PEOPLE],
        enrichment_types=cd.EnrichmentTypes(get_work_emails=True, get_personal_emails=False, get_phone_numbers=True),
    )
    started = stub.StartBatch(start, timeout=30)
    task_id = started.output.task_id
    # chargeInfo is a oneof: WhichOneof names the case (snake_case in Python).
    check(started.output.num_people_enqueued == len(PEOPLE) and started.charge_info.WhichOneof("method") == "charged_now",
          f"start: {len(PEOPLE)} people enqueued, charged now")
    again = stub.StartBatch(start, timeout=30)
    check(again.output.task_id == task_id, "start again with the same request_id: the same task, no second charge")

    # Watch, drop the stream after its first message, resume with the last resume_token.
    first = watch(stub, task_id, stop_after=1)
    rest = watch(stub, task_id, resume_token=first[-1].resume_token)
    messages = first + rest
    results = [r for m in messages for r in m.results]
    check(messages[-1].state == task_pb2.TASK_STATE_SUCCEEDED, "watch: the last message is SUCCEEDED")
    check([r.sequence for r in results] == list(range(1, len(PEOPLE) + 1)),
          f"watch resumed after {len(first)} message(s): sequences 1..{len(PEOPLE)}, no gap, no duplicate")
    check(sorted(r.linkedin_url for r in results) == sorted(PEOPLE), "watch: every person exactly once")

    # Page the stored results.
    paged, token_ = [], ""
    for _ in range(100):  # bounded: 60 results in pages of 7
        page = stub.ListTaskResults(cd.ListTaskResultsRequest(task_id=task_id, page_size=7, page_token=token_), timeout=30)
        paged.extend(page.results)
        token_ = page.next_page_token
        if not token_:
            break
    check([r.sequence for r in paged] == [r.sequence for r in results], "ListTaskResults pages: every result once, in order")

    # INVALID_ARGUMENT: the field violations name the JSON path of each bad field.
    try:
        stub.StartBatch(cd.StartBatchRequest(person_details=[cd.PersonDetails(linkedin_url=cd.LinkedInUrl(value="https://example.com/jake"))]), timeout=30)
        check(False, "a bad URL is refused")
    except grpc.RpcError as err:
        e = api_error(err)
        check(e.code == grpc.StatusCode.INVALID_ARGUMENT and e.reason == "VALIDATION_FAILED"
              and "personDetails[0].linkedinUrl.value" in e.field_violations,
              f"a bad URL: INVALID_ARGUMENT, field violation on {list(e.field_violations)}")

    # RESOURCE_EXHAUSTED: Fiber's start rate is used up; RetryInfo says when to come back.
    e = None
    for i in range(5):  # the server under test allows 2 starts a minute
        try:
            stub.StartBatch(cd.StartBatchRequest(
                request_id=str(uuid.uuid4()),
                person_details=[cd.PersonDetails(linkedin_url=cd.LinkedInUrl(value=f"https://www.linkedin.com/in/python-extra-{i}"))],
            ), timeout=5)
        except grpc.RpcError as err:
            e = api_error(err)
            break
    check(e is not None and e.code == grpc.StatusCode.RESOURCE_EXHAUSTED and e.reason == "RATE_LIMITED"
          and e.retry_delay is not None and e.retry_delay > 0,
          f"starts over the rate limit: RESOURCE_EXHAUSTED, retry in {e and e.retry_delay:.0f}s")

    # Another caller cannot see the task: NOT_FOUND, as for a task that does not exist.
    other = os.environ.get("FIBERGATE_OTHER_TOKEN")
    if other:
        other_channel = connect(addr, other)
        try:
            cd_grpc.ContactDetailsServiceStub(other_channel).GetTask(cd.GetTaskRequest(task_id=task_id), timeout=30)
            check(False, "another caller's GetTask is refused")
        except grpc.RpcError as err:
            e = api_error(err)
            check(e.code == grpc.StatusCode.NOT_FOUND and e.reason == "TASK_NOT_FOUND", "another caller's task: NOT_FOUND")
        other_channel.close()
    channel.close()


if __name__ == "__main__":
    main()
