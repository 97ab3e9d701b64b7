from google.api import field_behavior_pb2 as _field_behavior_pb2
from protoc_gen_openapiv2.options import annotations_pb2 as _annotations_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChargeInfo(_message.Message):
    __slots__ = ["charged_for_async_process", "charged_now", "charging_later", "credits_refunded", "fiber_method", "free"]
    CHARGED_FOR_ASYNC_PROCESS_FIELD_NUMBER: _ClassVar[int]
    CHARGED_NOW_FIELD_NUMBER: _ClassVar[int]
    CHARGING_LATER_FIELD_NUMBER: _ClassVar[int]
    CREDITS_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    FIBER_METHOD_FIELD_NUMBER: _ClassVar[int]
    FREE_FIELD_NUMBER: _ClassVar[int]
    charged_for_async_process: ChargedForAsyncProcess
    charged_now: ChargedNow
    charging_later: ChargingLater
    credits_refunded: CreditsRefunded
    fiber_method: str
    free: Free
    def __init__(self, charged_now: _Optional[_Union[ChargedNow, _Mapping]] = ..., charging_later: _Optional[_Union[ChargingLater, _Mapping]] = ..., charged_for_async_process: _Optional[_Union[ChargedForAsyncProcess, _Mapping]] = ..., free: _Optional[_Union[Free, _Mapping]] = ..., credits_refunded: _Optional[_Union[CreditsRefunded, _Mapping]] = ..., fiber_method: _Optional[str] = ...) -> None: ...

class ChargedForAsyncProcess(_message.Message):
    __slots__ = ["credits_charged", "low_credit_alert", "message"]
    CREDITS_CHARGED_FIELD_NUMBER: _ClassVar[int]
    LOW_CREDIT_ALERT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    credits_charged: float
    low_credit_alert: LowCreditAlert
    message: str
    def __init__(self, credits_charged: _Optional[float] = ..., message: _Optional[str] = ..., low_credit_alert: _Optional[_Union[LowCreditAlert, _Mapping]] = ...) -> None: ...

class ChargedNow(_message.Message):
    __slots__ = ["credits_charged", "low_credit_alert"]
    CREDITS_CHARGED_FIELD_NUMBER: _ClassVar[int]
    LOW_CREDIT_ALERT_FIELD_NUMBER: _ClassVar[int]
    credits_charged: float
    low_credit_alert: LowCreditAlert
    def __init__(self, credits_charged: _Optional[float] = ..., low_credit_alert: _Optional[_Union[LowCreditAlert, _Mapping]] = ...) -> None: ...

class ChargingLater(_message.Message):
    __slots__ = ["low_credit_alert", "message"]
    LOW_CREDIT_ALERT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    low_credit_alert: LowCreditAlert
    message: str
    def __init__(self, message: _Optional[str] = ..., low_credit_alert: _Optional[_Union[LowCreditAlert, _Mapping]] = ...) -> None: ...

class CreditsRefunded(_message.Message):
    __slots__ = ["credits_refunded", "low_credit_alert", "message"]
    CREDITS_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    LOW_CREDIT_ALERT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    credits_refunded: float
    low_credit_alert: LowCreditAlert
    message: str
    def __init__(self, credits_refunded: _Optional[float] = ..., message: _Optional[str] = ..., low_credit_alert: _Optional[_Union[LowCreditAlert, _Mapping]] = ...) -> None: ...

class Free(_message.Message):
    __slots__ = ["low_credit_alert", "message"]
    LOW_CREDIT_ALERT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    low_credit_alert: LowCreditAlert
    message: str
    def __init__(self, message: _Optional[str] = ..., low_credit_alert: _Optional[_Union[LowCreditAlert, _Mapping]] = ...) -> None: ...

class LowCreditAlert(_message.Message):
    __slots__ = ["available_credits", "get_more_credits_url", "message"]
    AVAILABLE_CREDITS_FIELD_NUMBER: _ClassVar[int]
    GET_MORE_CREDITS_URL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    available_credits: float
    get_more_credits_url: str
    message: str
    def __init__(self, get_more_credits_url: _Optional[str] = ..., message: _Optional[str] = ..., available_credits: _Optional[float] = ...) -> None: ...
