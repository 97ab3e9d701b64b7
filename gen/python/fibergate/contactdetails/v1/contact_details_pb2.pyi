from buf.validate import validate_pb2 as _validate_pb2
from fibergate.contactdetails.v1 import charge_pb2 as _charge_pb2
from fibergate.contactdetails.v1 import task_pb2 as _task_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from protoc_gen_openapiv2.options import annotations_pb2 as _annotations_pb2_1
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CancelTaskRequest(_message.Message):
    __slots__ = ["api_key", "task_id"]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    task_id: str
    def __init__(self, task_id: _Optional[str] = ..., api_key: _Optional[str] = ...) -> None: ...

class CancelTaskResponse(_message.Message):
    __slots__ = ["cancelled_count", "credits_refunded", "message"]
    CANCELLED_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREDITS_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    cancelled_count: int
    credits_refunded: float
    message: str
    def __init__(self, cancelled_count: _Optional[int] = ..., credits_refunded: _Optional[float] = ..., message: _Optional[str] = ...) -> None: ...

class DeleteTaskRequest(_message.Message):
    __slots__ = ["task_id"]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class DeleteTaskResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class EnrichmentTypes(_message.Message):
    __slots__ = ["get_personal_emails", "get_phone_numbers", "get_work_emails"]
    GET_PERSONAL_EMAILS_FIELD_NUMBER: _ClassVar[int]
    GET_PHONE_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    GET_WORK_EMAILS_FIELD_NUMBER: _ClassVar[int]
    get_personal_emails: bool
    get_phone_numbers: bool
    get_work_emails: bool
    def __init__(self, get_work_emails: bool = ..., get_personal_emails: bool = ..., get_phone_numbers: bool = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ["api_key", "task_id"]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    task_id: str
    def __init__(self, task_id: _Optional[str] = ..., api_key: _Optional[str] = ...) -> None: ...

class GetTaskResponse(_message.Message):
    __slots__ = ["task"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...

class LinkedInUrl(_message.Message):
    __slots__ = ["value"]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: _Optional[str] = ...) -> None: ...

class ListTaskResultsRequest(_message.Message):
    __slots__ = ["api_key", "page_size", "page_token", "task_id"]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    page_size: int
    page_token: str
    task_id: str
    def __init__(self, task_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., api_key: _Optional[str] = ...) -> None: ...

class ListTaskResultsResponse(_message.Message):
    __slots__ = ["next_page_token", "results", "state"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    results: _containers.RepeatedCompositeFieldContainer[_task_pb2.PersonResult]
    state: _task_pb2.TaskState
    def __init__(self, results: _Optional[_Iterable[_Union[_task_pb2.PersonResult, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., state: _Optional[_Union[_task_pb2.TaskState, str]] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "state"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    state: _task_pb2.TaskState
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[_task_pb2.TaskState, str]] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ["next_page_token", "tasks"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    tasks: _containers.RepeatedCompositeFieldContainer[_task_pb2.Task]
    def __init__(self, tasks: _Optional[_Iterable[_Union[_task_pb2.Task, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PersonDetails(_message.Message):
    __slots__ = ["linkedin_url"]
    LINKEDIN_URL_FIELD_NUMBER: _ClassVar[int]
    linkedin_url: LinkedInUrl
    def __init__(self, linkedin_url: _Optional[_Union[LinkedInUrl, _Mapping]] = ...) -> None: ...

class StartBatchOutput(_message.Message):
    __slots__ = ["num_duplicates_skipped", "num_people_enqueued", "task_id"]
    NUM_DUPLICATES_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    NUM_PEOPLE_ENQUEUED_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    num_duplicates_skipped: int
    num_people_enqueued: int
    task_id: str
    def __init__(self, task_id: _Optional[str] = ..., num_people_enqueued: _Optional[int] = ..., num_duplicates_skipped: _Optional[int] = ...) -> None: ...

class StartBatchRequest(_message.Message):
    __slots__ = ["api_key", "enrichment_types", "person_details", "request_id"]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    ENRICHMENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    PERSON_DETAILS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    enrichment_types: EnrichmentTypes
    person_details: _containers.RepeatedCompositeFieldContainer[PersonDetails]
    request_id: str
    def __init__(self, api_key: _Optional[str] = ..., person_details: _Optional[_Iterable[_Union[PersonDetails, _Mapping]]] = ..., enrichment_types: _Optional[_Union[EnrichmentTypes, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class StartBatchResponse(_message.Message):
    __slots__ = ["advice", "charge_info", "output", "warnings"]
    ADVICE_FIELD_NUMBER: _ClassVar[int]
    CHARGE_INFO_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    advice: _containers.RepeatedScalarFieldContainer[str]
    charge_info: _charge_pb2.ChargeInfo
    output: StartBatchOutput
    warnings: _containers.RepeatedCompositeFieldContainer[Warning]
    def __init__(self, output: _Optional[_Union[StartBatchOutput, _Mapping]] = ..., charge_info: _Optional[_Union[_charge_pb2.ChargeInfo, _Mapping]] = ..., warnings: _Optional[_Iterable[_Union[Warning, _Mapping]]] = ..., advice: _Optional[_Iterable[str]] = ...) -> None: ...

class Warning(_message.Message):
    __slots__ = ["field", "message"]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    field: str
    message: str
    def __init__(self, field: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class WatchTaskRequest(_message.Message):
    __slots__ = ["api_key", "progress_only", "resume_token", "task_id"]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_ONLY_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    progress_only: bool
    resume_token: str
    task_id: str
    def __init__(self, task_id: _Optional[str] = ..., resume_token: _Optional[str] = ..., progress_only: bool = ..., api_key: _Optional[str] = ...) -> None: ...

class WatchTaskResponse(_message.Message):
    __slots__ = ["cancellation", "overall_stats", "results", "resume_token", "state", "task_id"]
    CANCELLATION_FIELD_NUMBER: _ClassVar[int]
    OVERALL_STATS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    cancellation: _task_pb2.Cancellation
    overall_stats: _task_pb2.OverallStats
    results: _containers.RepeatedCompositeFieldContainer[_task_pb2.PersonResult]
    resume_token: str
    state: _task_pb2.TaskState
    task_id: str
    def __init__(self, task_id: _Optional[str] = ..., state: _Optional[_Union[_task_pb2.TaskState, str]] = ..., overall_stats: _Optional[_Union[_task_pb2.OverallStats, _Mapping]] = ..., results: _Optional[_Iterable[_Union[_task_pb2.PersonResult, _Mapping]]] = ..., resume_token: _Optional[str] = ..., cancellation: _Optional[_Union[_task_pb2.Cancellation, _Mapping]] = ...) -> None: ...
