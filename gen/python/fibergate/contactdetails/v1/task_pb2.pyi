from fibergate.contactdetails.v1 import charge_pb2 as _charge_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protoc_gen_openapiv2.options import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
EMAIL_STATUS_INVALID: EmailStatus
EMAIL_STATUS_RISKY: EmailStatus
EMAIL_STATUS_UNKNOWN: EmailStatus
EMAIL_STATUS_UNSPECIFIED: EmailStatus
EMAIL_STATUS_VALID: EmailStatus
EMAIL_TYPE_GENERIC: EmailType
EMAIL_TYPE_OTHER: EmailType
EMAIL_TYPE_PERSONAL: EmailType
EMAIL_TYPE_UNKNOWN: EmailType
EMAIL_TYPE_UNSPECIFIED: EmailType
EMAIL_TYPE_WORK: EmailType
PHONE_TYPE_MOBILE: PhoneType
PHONE_TYPE_OTHER: PhoneType
PHONE_TYPE_UNKNOWN: PhoneType
PHONE_TYPE_UNSPECIFIED: PhoneType
TASK_STATE_CANCELED: TaskState
TASK_STATE_FAILED: TaskState
TASK_STATE_RUNNING: TaskState
TASK_STATE_SUCCEEDED: TaskState
TASK_STATE_UNSPECIFIED: TaskState

class Cancellation(_message.Message):
    __slots__ = ["cancel_time", "cancelled_count", "credits_refunded", "message"]
    CANCELLED_COUNT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_TIME_FIELD_NUMBER: _ClassVar[int]
    CREDITS_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    cancel_time: _timestamp_pb2.Timestamp
    cancelled_count: int
    credits_refunded: float
    message: str
    def __init__(self, cancelled_count: _Optional[int] = ..., credits_refunded: _Optional[float] = ..., message: _Optional[str] = ..., cancel_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Email(_message.Message):
    __slots__ = ["email", "fiber_status", "fiber_type", "status", "type"]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    FIBER_STATUS_FIELD_NUMBER: _ClassVar[int]
    FIBER_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    email: str
    fiber_status: str
    fiber_type: str
    status: EmailStatus
    type: EmailType
    def __init__(self, email: _Optional[str] = ..., type: _Optional[_Union[EmailType, str]] = ..., fiber_type: _Optional[str] = ..., status: _Optional[_Union[EmailStatus, str]] = ..., fiber_status: _Optional[str] = ...) -> None: ...

class EnrichmentTypesUsed(_message.Message):
    __slots__ = ["get_personal_emails", "get_phone_numbers", "get_work_emails"]
    GET_PERSONAL_EMAILS_FIELD_NUMBER: _ClassVar[int]
    GET_PHONE_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    GET_WORK_EMAILS_FIELD_NUMBER: _ClassVar[int]
    get_personal_emails: bool
    get_phone_numbers: bool
    get_work_emails: bool
    def __init__(self, get_work_emails: bool = ..., get_personal_emails: bool = ..., get_phone_numbers: bool = ...) -> None: ...

class OverallStats(_message.Message):
    __slots__ = ["num_completed", "num_duplicates", "num_failed", "num_rejected", "num_remaining", "total_people_to_fetch"]
    NUM_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    NUM_DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    NUM_FAILED_FIELD_NUMBER: _ClassVar[int]
    NUM_REJECTED_FIELD_NUMBER: _ClassVar[int]
    NUM_REMAINING_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PEOPLE_TO_FETCH_FIELD_NUMBER: _ClassVar[int]
    num_completed: int
    num_duplicates: int
    num_failed: int
    num_rejected: int
    num_remaining: int
    total_people_to_fetch: int
    def __init__(self, total_people_to_fetch: _Optional[int] = ..., num_completed: _Optional[int] = ..., num_failed: _Optional[int] = ..., num_remaining: _Optional[int] = ..., num_rejected: _Optional[int] = ..., num_duplicates: _Optional[int] = ...) -> None: ...

class PersonResult(_message.Message):
    __slots__ = ["emails", "exhaustive", "linkedin_url", "no_data_found", "phone_numbers", "sequence"]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    EXHAUSTIVE_FIELD_NUMBER: _ClassVar[int]
    LINKEDIN_URL_FIELD_NUMBER: _ClassVar[int]
    NO_DATA_FOUND_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    emails: _containers.RepeatedCompositeFieldContainer[Email]
    exhaustive: bool
    linkedin_url: str
    no_data_found: bool
    phone_numbers: _containers.RepeatedCompositeFieldContainer[PhoneNumber]
    sequence: int
    def __init__(self, linkedin_url: _Optional[str] = ..., no_data_found: bool = ..., emails: _Optional[_Iterable[_Union[Email, _Mapping]]] = ..., phone_numbers: _Optional[_Iterable[_Union[PhoneNumber, _Mapping]]] = ..., exhaustive: bool = ..., sequence: _Optional[int] = ...) -> None: ...

class PhoneNumber(_message.Message):
    __slots__ = ["fiber_type", "number", "type"]
    FIBER_TYPE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    fiber_type: str
    number: str
    type: PhoneType
    def __init__(self, number: _Optional[str] = ..., type: _Optional[_Union[PhoneType, str]] = ..., fiber_type: _Optional[str] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ["cancellation", "charge_info", "create_time", "enrichment_types", "finish_time", "num_results", "overall_stats", "state", "task_id", "update_time"]
    CANCELLATION_FIELD_NUMBER: _ClassVar[int]
    CHARGE_INFO_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ENRICHMENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    NUM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    OVERALL_STATS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    cancellation: Cancellation
    charge_info: _charge_pb2.ChargeInfo
    create_time: _timestamp_pb2.Timestamp
    enrichment_types: EnrichmentTypesUsed
    finish_time: _timestamp_pb2.Timestamp
    num_results: int
    overall_stats: OverallStats
    state: TaskState
    task_id: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, task_id: _Optional[str] = ..., state: _Optional[_Union[TaskState, str]] = ..., overall_stats: _Optional[_Union[OverallStats, _Mapping]] = ..., enrichment_types: _Optional[_Union[EnrichmentTypesUsed, _Mapping]] = ..., charge_info: _Optional[_Union[_charge_pb2.ChargeInfo, _Mapping]] = ..., num_results: _Optional[int] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., cancellation: _Optional[_Union[Cancellation, _Mapping]] = ...) -> None: ...

class TaskState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class EmailType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class EmailStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class PhoneType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
