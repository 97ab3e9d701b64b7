"""Loads the contract from gen/fibergate.binpb alone, with no generated code,
and calls ListTasks with it: what a tool that discovers the API at run time
does. FIBERGATE_ADDR and FIBERGATE_TOKEN as for example.py, whose tasks it lists.
"""

import os
import pathlib
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SET = pathlib.Path(__file__).resolve().parents[2] / "gen" / "fibergate.binpb"


def message_class(pool, name):
    desc = pool.FindMessageTypeByName(name)
    get = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.22
    return get(desc) if get else message_factory.MessageFactory(pool).GetPrototype(desc)


def main():
    files = descriptor_pb2.FileDescriptorSet.FromString(SET.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in files.file:  # each file comes after its imports
        pool.Add(f)
    method = pool.FindMethodByName("fibergate.contactdetails.v1.ContactDetailsService.ListTasks")
    request_cls = message_class(pool, method.input_type.full_name)
    response_cls = message_class(pool, method.output_type.full_name)

    with grpc.insecure_channel(os.environ["FIBERGATE_ADDR"]) as channel:
        list_tasks = channel.unary_unary(
            f"/{method.containing_service.full_name}/{method.name}",
            request_serializer=request_cls.SerializeToString,
            response_deserializer=response_cls.FromString,
        )
        resp = list_tasks(request_cls(page_size=10),
                        metadata=[("authorization", f"Bearer {os.environ['FIBERGATE_TOKEN']}")], timeout=30)
    if not resp.tasks:
        raise SystemExit("FAIL descriptor set: ListTasks found none of the caller's tasks")
    task = resp.tasks[0]
    state = task.DESCRIPTOR.fields_by_name["state"].enum_type.values_by_number[task.state].name
    print(f"ok   descriptor set alone ({len(files.file)} files): ListTasks, newest task {state}")


if __name__ == "__main__":
    sys.exit(main())
