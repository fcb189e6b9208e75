import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_STATE_UNSPECIFIED: _ClassVar[AccountState]
    ACCOUNT_STATE_INVITED: _ClassVar[AccountState]
    ACCOUNT_STATE_ACTIVE: _ClassVar[AccountState]
    ACCOUNT_STATE_SUSPENDED: _ClassVar[AccountState]
    ACCOUNT_STATE_DEPROVISIONED: _ClassVar[AccountState]

class ProfileLayer(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROFILE_LAYER_UNSPECIFIED: _ClassVar[ProfileLayer]
    PROFILE_LAYER_ACCESS_PROFILE_DEFAULT: _ClassVar[ProfileLayer]
    PROFILE_LAYER_GLOBAL: _ClassVar[ProfileLayer]
    PROFILE_LAYER_TENANT: _ClassVar[ProfileLayer]

class AssuranceLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSURANCE_LEVEL_UNSPECIFIED: _ClassVar[AssuranceLevel]
    ASSURANCE_LEVEL_AAL1: _ClassVar[AssuranceLevel]
    ASSURANCE_LEVEL_AAL2: _ClassVar[AssuranceLevel]
    ASSURANCE_LEVEL_AAL3: _ClassVar[AssuranceLevel]

class FactSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FACT_SOURCE_UNSPECIFIED: _ClassVar[FactSource]
    FACT_SOURCE_DIRECT: _ClassVar[FactSource]
    FACT_SOURCE_GROUP: _ClassVar[FactSource]
    FACT_SOURCE_ACTIVE_CONTEXT: _ClassVar[FactSource]
    FACT_SOURCE_SCOPE: _ClassVar[FactSource]
ACCOUNT_STATE_UNSPECIFIED: AccountState
ACCOUNT_STATE_INVITED: AccountState
ACCOUNT_STATE_ACTIVE: AccountState
ACCOUNT_STATE_SUSPENDED: AccountState
ACCOUNT_STATE_DEPROVISIONED: AccountState
PROFILE_LAYER_UNSPECIFIED: ProfileLayer
PROFILE_LAYER_ACCESS_PROFILE_DEFAULT: ProfileLayer
PROFILE_LAYER_GLOBAL: ProfileLayer
PROFILE_LAYER_TENANT: ProfileLayer
ASSURANCE_LEVEL_UNSPECIFIED: AssuranceLevel
ASSURANCE_LEVEL_AAL1: AssuranceLevel
ASSURANCE_LEVEL_AAL2: AssuranceLevel
ASSURANCE_LEVEL_AAL3: AssuranceLevel
FACT_SOURCE_UNSPECIFIED: FactSource
FACT_SOURCE_DIRECT: FactSource
FACT_SOURCE_GROUP: FactSource
FACT_SOURCE_ACTIVE_CONTEXT: FactSource
FACT_SOURCE_SCOPE: FactSource

class ResolvedProfileValue(_message.Message):
    __slots__ = ("key", "value", "source_layer", "sensitive")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LAYER_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    source_layer: ProfileLayer
    sensitive: bool
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., source_layer: _Optional[_Union[ProfileLayer, str]] = ..., sensitive: _Optional[bool] = ...) -> None: ...

class AccessControlFact(_message.Message):
    __slots__ = ("tenant_id", "subject", "relation", "object", "source", "via", "evidence_refs", "valid_until", "via_groups", "valid_from", "access_profile")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    VIA_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_REFS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    VIA_GROUPS_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    ACCESS_PROFILE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    subject: str
    relation: str
    object: str
    source: FactSource
    via: str
    evidence_refs: _containers.RepeatedScalarFieldContainer[str]
    valid_until: _timestamp_pb2.Timestamp
    via_groups: _containers.RepeatedScalarFieldContainer[str]
    valid_from: _timestamp_pb2.Timestamp
    access_profile: str
    def __init__(self, tenant_id: _Optional[str] = ..., subject: _Optional[str] = ..., relation: _Optional[str] = ..., object: _Optional[str] = ..., source: _Optional[_Union[FactSource, str]] = ..., via: _Optional[str] = ..., evidence_refs: _Optional[_Iterable[str]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., via_groups: _Optional[_Iterable[str]] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., access_profile: _Optional[str] = ...) -> None: ...
