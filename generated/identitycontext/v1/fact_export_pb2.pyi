import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from identitycontext.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExportMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_MODE_UNSPECIFIED: _ClassVar[ExportMode]
    EXPORT_MODE_NATIVE: _ClassVar[ExportMode]
    EXPORT_MODE_FLATTENED: _ClassVar[ExportMode]

class FactOperation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FACT_OPERATION_UNSPECIFIED: _ClassVar[FactOperation]
    FACT_OPERATION_WRITE: _ClassVar[FactOperation]
    FACT_OPERATION_DELETE: _ClassVar[FactOperation]
EXPORT_MODE_UNSPECIFIED: ExportMode
EXPORT_MODE_NATIVE: ExportMode
EXPORT_MODE_FLATTENED: ExportMode
FACT_OPERATION_UNSPECIFIED: FactOperation
FACT_OPERATION_WRITE: FactOperation
FACT_OPERATION_DELETE: FactOperation

class FactFilter(_message.Message):
    __slots__ = ("relations", "sources")
    RELATIONS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    relations: _containers.RepeatedScalarFieldContainer[str]
    sources: _containers.RepeatedScalarFieldContainer[_common_pb2.FactSource]
    def __init__(self, relations: _Optional[_Iterable[str]] = ..., sources: _Optional[_Iterable[_Union[_common_pb2.FactSource, str]]] = ...) -> None: ...

class ExportFactsRequest(_message.Message):
    __slots__ = ("mode", "filter", "batch_size", "resume_cursor")
    MODE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    RESUME_CURSOR_FIELD_NUMBER: _ClassVar[int]
    mode: ExportMode
    filter: FactFilter
    batch_size: int
    resume_cursor: str
    def __init__(self, mode: _Optional[_Union[ExportMode, str]] = ..., filter: _Optional[_Union[FactFilter, _Mapping]] = ..., batch_size: _Optional[int] = ..., resume_cursor: _Optional[str] = ...) -> None: ...

class ExportFactsResponse(_message.Message):
    __slots__ = ("facts", "facts_token", "resume_cursor", "last", "snapshot_seq")
    FACTS_FIELD_NUMBER: _ClassVar[int]
    FACTS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESUME_CURSOR_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_SEQ_FIELD_NUMBER: _ClassVar[int]
    facts: _containers.RepeatedCompositeFieldContainer[_common_pb2.AccessControlFact]
    facts_token: str
    resume_cursor: str
    last: bool
    snapshot_seq: int
    def __init__(self, facts: _Optional[_Iterable[_Union[_common_pb2.AccessControlFact, _Mapping]]] = ..., facts_token: _Optional[str] = ..., resume_cursor: _Optional[str] = ..., last: _Optional[bool] = ..., snapshot_seq: _Optional[int] = ...) -> None: ...

class FactsPosition(_message.Message):
    __slots__ = ("seq", "change")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    change: int
    def __init__(self, seq: _Optional[int] = ..., change: _Optional[int] = ...) -> None: ...

class FactChange(_message.Message):
    __slots__ = ("seq", "operation", "fact", "commit_time", "change")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    FACT_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    operation: FactOperation
    fact: _common_pb2.AccessControlFact
    commit_time: _timestamp_pb2.Timestamp
    change: int
    def __init__(self, seq: _Optional[int] = ..., operation: _Optional[_Union[FactOperation, str]] = ..., fact: _Optional[_Union[_common_pb2.AccessControlFact, _Mapping]] = ..., commit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., change: _Optional[int] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("seq", "time")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    seq: int
    time: _timestamp_pb2.Timestamp
    def __init__(self, seq: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchFactsRequest(_message.Message):
    __slots__ = ("facts_token", "mode", "filter", "heartbeat_interval")
    FACTS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    facts_token: str
    mode: ExportMode
    filter: FactFilter
    heartbeat_interval: _duration_pb2.Duration
    def __init__(self, facts_token: _Optional[str] = ..., mode: _Optional[_Union[ExportMode, str]] = ..., filter: _Optional[_Union[FactFilter, _Mapping]] = ..., heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class WatchFactsResponse(_message.Message):
    __slots__ = ("change", "heartbeat", "facts_token", "previous", "position")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    FACTS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    change: FactChange
    heartbeat: Heartbeat
    facts_token: str
    previous: FactsPosition
    position: FactsPosition
    def __init__(self, change: _Optional[_Union[FactChange, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., facts_token: _Optional[str] = ..., previous: _Optional[_Union[FactsPosition, _Mapping]] = ..., position: _Optional[_Union[FactsPosition, _Mapping]] = ...) -> None: ...

class GetFactsTokenRequest(_message.Message):
    __slots__ = ("mode", "filter")
    MODE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    mode: ExportMode
    filter: FactFilter
    def __init__(self, mode: _Optional[_Union[ExportMode, str]] = ..., filter: _Optional[_Union[FactFilter, _Mapping]] = ...) -> None: ...

class GetFactsTokenResponse(_message.Message):
    __slots__ = ("facts_token", "seq")
    FACTS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    facts_token: str
    seq: int
    def __init__(self, facts_token: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...
