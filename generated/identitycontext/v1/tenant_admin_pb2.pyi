import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from identitycontext.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TenantPlane(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TENANT_PLANE_UNSPECIFIED: _ClassVar[TenantPlane]
    TENANT_PLANE_PLATFORM: _ClassVar[TenantPlane]
    TENANT_PLANE_TENANT: _ClassVar[TenantPlane]

class TenantState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TENANT_STATE_UNSPECIFIED: _ClassVar[TenantState]
    TENANT_STATE_ACTIVE: _ClassVar[TenantState]
    TENANT_STATE_SUSPENDED: _ClassVar[TenantState]
    TENANT_STATE_ARCHIVED: _ClassVar[TenantState]

class AuditDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_DECISION_UNSPECIFIED: _ClassVar[AuditDecision]
    AUDIT_DECISION_ALLOW: _ClassVar[AuditDecision]
    AUDIT_DECISION_DENY: _ClassVar[AuditDecision]

class DiagnosticStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIAGNOSTIC_STATUS_UNSPECIFIED: _ClassVar[DiagnosticStatus]
    DIAGNOSTIC_STATUS_PASS: _ClassVar[DiagnosticStatus]
    DIAGNOSTIC_STATUS_WARN: _ClassVar[DiagnosticStatus]
    DIAGNOSTIC_STATUS_FAIL: _ClassVar[DiagnosticStatus]
TENANT_PLANE_UNSPECIFIED: TenantPlane
TENANT_PLANE_PLATFORM: TenantPlane
TENANT_PLANE_TENANT: TenantPlane
TENANT_STATE_UNSPECIFIED: TenantState
TENANT_STATE_ACTIVE: TenantState
TENANT_STATE_SUSPENDED: TenantState
TENANT_STATE_ARCHIVED: TenantState
AUDIT_DECISION_UNSPECIFIED: AuditDecision
AUDIT_DECISION_ALLOW: AuditDecision
AUDIT_DECISION_DENY: AuditDecision
DIAGNOSTIC_STATUS_UNSPECIFIED: DiagnosticStatus
DIAGNOSTIC_STATUS_PASS: DiagnosticStatus
DIAGNOSTIC_STATUS_WARN: DiagnosticStatus
DIAGNOSTIC_STATUS_FAIL: DiagnosticStatus

class Tenant(_message.Message):
    __slots__ = ("tenant_id", "display_name", "plane", "state", "last_seq", "create_time", "update_time", "etag")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    display_name: str
    plane: TenantPlane
    state: TenantState
    last_seq: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, tenant_id: _Optional[str] = ..., display_name: _Optional[str] = ..., plane: _Optional[_Union[TenantPlane, str]] = ..., state: _Optional[_Union[TenantState, str]] = ..., last_seq: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class CreateTenantRequest(_message.Message):
    __slots__ = ("tenant_id", "display_name", "request_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    display_name: str
    request_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., display_name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateTenantResponse(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: Tenant
    def __init__(self, tenant: _Optional[_Union[Tenant, _Mapping]] = ...) -> None: ...

class GetTenantRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class GetTenantResponse(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: Tenant
    def __init__(self, tenant: _Optional[_Union[Tenant, _Mapping]] = ...) -> None: ...

class ListTenantsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "state")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    state: TenantState
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[TenantState, str]] = ...) -> None: ...

class ListTenantsResponse(_message.Message):
    __slots__ = ("tenants", "next_page_token")
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenants: _containers.RepeatedCompositeFieldContainer[Tenant]
    next_page_token: str
    def __init__(self, tenants: _Optional[_Iterable[_Union[Tenant, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SetTenantStateRequest(_message.Message):
    __slots__ = ("tenant_id", "state", "reason", "etag", "request_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    state: TenantState
    reason: str
    etag: str
    request_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., state: _Optional[_Union[TenantState, str]] = ..., reason: _Optional[str] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetTenantStateResponse(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: Tenant
    def __init__(self, tenant: _Optional[_Union[Tenant, _Mapping]] = ...) -> None: ...

class Application(_message.Message):
    __slots__ = ("application_id", "display_name", "required")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    display_name: str
    required: bool
    def __init__(self, application_id: _Optional[str] = ..., display_name: _Optional[str] = ..., required: _Optional[bool] = ...) -> None: ...

class ApplicationBinding(_message.Message):
    __slots__ = ("tenant_id", "application", "create_time")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    application: Application
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, tenant_id: _Optional[str] = ..., application: _Optional[_Union[Application, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BindApplicationRequest(_message.Message):
    __slots__ = ("application_id", "request_id")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    request_id: str
    def __init__(self, application_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class BindApplicationResponse(_message.Message):
    __slots__ = ("binding",)
    BINDING_FIELD_NUMBER: _ClassVar[int]
    binding: ApplicationBinding
    def __init__(self, binding: _Optional[_Union[ApplicationBinding, _Mapping]] = ...) -> None: ...

class ListApplicationsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListApplicationsResponse(_message.Message):
    __slots__ = ("bindings", "next_page_token")
    BINDINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bindings: _containers.RepeatedCompositeFieldContainer[ApplicationBinding]
    next_page_token: str
    def __init__(self, bindings: _Optional[_Iterable[_Union[ApplicationBinding, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class TenantUser(_message.Message):
    __slots__ = ("tenant_id", "user_id", "display_name", "state", "create_time", "update_time", "etag")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_id: str
    display_name: str
    state: _common_pb2.AccountState
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., display_name: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.AccountState, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class UpsertTenantUserRequest(_message.Message):
    __slots__ = ("user_id", "display_name", "initial_state", "etag", "request_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    INITIAL_STATE_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    display_name: str
    initial_state: _common_pb2.AccountState
    etag: str
    request_id: str
    def __init__(self, user_id: _Optional[str] = ..., display_name: _Optional[str] = ..., initial_state: _Optional[_Union[_common_pb2.AccountState, str]] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class UpsertTenantUserResponse(_message.Message):
    __slots__ = ("tenant_user", "created")
    TENANT_USER_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    tenant_user: TenantUser
    created: bool
    def __init__(self, tenant_user: _Optional[_Union[TenantUser, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetTenantUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetTenantUserResponse(_message.Message):
    __slots__ = ("tenant_user",)
    TENANT_USER_FIELD_NUMBER: _ClassVar[int]
    tenant_user: TenantUser
    def __init__(self, tenant_user: _Optional[_Union[TenantUser, _Mapping]] = ...) -> None: ...

class ListTenantUsersRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "state")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    state: _common_pb2.AccountState
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.AccountState, str]] = ...) -> None: ...

class ListTenantUsersResponse(_message.Message):
    __slots__ = ("tenant_users", "next_page_token")
    TENANT_USERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_users: _containers.RepeatedCompositeFieldContainer[TenantUser]
    next_page_token: str
    def __init__(self, tenant_users: _Optional[_Iterable[_Union[TenantUser, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SetAccountStateRequest(_message.Message):
    __slots__ = ("user_id", "state", "reason", "etag", "request_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    state: _common_pb2.AccountState
    reason: str
    etag: str
    request_id: str
    def __init__(self, user_id: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.AccountState, str]] = ..., reason: _Optional[str] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetAccountStateResponse(_message.Message):
    __slots__ = ("tenant_user",)
    TENANT_USER_FIELD_NUMBER: _ClassVar[int]
    tenant_user: TenantUser
    def __init__(self, tenant_user: _Optional[_Union[TenantUser, _Mapping]] = ...) -> None: ...

class ProfileValueInput(_message.Message):
    __slots__ = ("key", "value", "sensitive")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    sensitive: bool
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., sensitive: _Optional[bool] = ...) -> None: ...

class ProfileValue(_message.Message):
    __slots__ = ("key", "value", "layer", "sensitive", "update_time")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    layer: _common_pb2.ProfileLayer
    sensitive: bool
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., layer: _Optional[_Union[_common_pb2.ProfileLayer, str]] = ..., sensitive: _Optional[bool] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetProfileValuesRequest(_message.Message):
    __slots__ = ("user_id", "layer", "values", "remove_keys", "etag", "request_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    REMOVE_KEYS_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    layer: _common_pb2.ProfileLayer
    values: _containers.RepeatedCompositeFieldContainer[ProfileValueInput]
    remove_keys: _containers.RepeatedScalarFieldContainer[str]
    etag: str
    request_id: str
    def __init__(self, user_id: _Optional[str] = ..., layer: _Optional[_Union[_common_pb2.ProfileLayer, str]] = ..., values: _Optional[_Iterable[_Union[ProfileValueInput, _Mapping]]] = ..., remove_keys: _Optional[_Iterable[str]] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetProfileValuesResponse(_message.Message):
    __slots__ = ("values", "etag")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[ProfileValue]
    etag: str
    def __init__(self, values: _Optional[_Iterable[_Union[ProfileValue, _Mapping]]] = ..., etag: _Optional[str] = ...) -> None: ...

class GetResolvedProfileRequest(_message.Message):
    __slots__ = ("user_id", "access_profile_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    access_profile_id: str
    def __init__(self, user_id: _Optional[str] = ..., access_profile_id: _Optional[str] = ...) -> None: ...

class GetResolvedProfileResponse(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[_common_pb2.ResolvedProfileValue]
    def __init__(self, values: _Optional[_Iterable[_Union[_common_pb2.ResolvedProfileValue, _Mapping]]] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("tenant_id", "seq", "time", "actor", "actor_tenant_id", "target_tenant_id", "action", "decision", "policy_ids", "correlation_id", "request_id", "change_summary", "break_glass", "prev_hash", "hash")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTOR_TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    POLICY_IDS_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    BREAK_GLASS_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    seq: int
    time: _timestamp_pb2.Timestamp
    actor: str
    actor_tenant_id: str
    target_tenant_id: str
    action: str
    decision: AuditDecision
    policy_ids: _containers.RepeatedScalarFieldContainer[str]
    correlation_id: str
    request_id: str
    change_summary: str
    break_glass: bool
    prev_hash: str
    hash: str
    def __init__(self, tenant_id: _Optional[str] = ..., seq: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., actor_tenant_id: _Optional[str] = ..., target_tenant_id: _Optional[str] = ..., action: _Optional[str] = ..., decision: _Optional[_Union[AuditDecision, str]] = ..., policy_ids: _Optional[_Iterable[str]] = ..., correlation_id: _Optional[str] = ..., request_id: _Optional[str] = ..., change_summary: _Optional[str] = ..., break_glass: _Optional[bool] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class ListAuditRecordsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "action", "after_seq")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    action: str
    after_seq: int
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., action: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class ListAuditRecordsResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AuditRecord]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[AuditRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class VerifyAuditChainRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyAuditChainResponse(_message.Message):
    __slots__ = ("valid", "records_checked", "first_invalid_seq", "last_seq", "head_hash")
    VALID_FIELD_NUMBER: _ClassVar[int]
    RECORDS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    FIRST_INVALID_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    records_checked: int
    first_invalid_seq: int
    last_seq: int
    head_hash: str
    def __init__(self, valid: _Optional[bool] = ..., records_checked: _Optional[int] = ..., first_invalid_seq: _Optional[int] = ..., last_seq: _Optional[int] = ..., head_hash: _Optional[str] = ...) -> None: ...

class DiagnosticCheck(_message.Message):
    __slots__ = ("name", "status", "detail", "remedy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    REMEDY_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: DiagnosticStatus
    detail: str
    remedy: str
    def __init__(self, name: _Optional[str] = ..., status: _Optional[_Union[DiagnosticStatus, str]] = ..., detail: _Optional[str] = ..., remedy: _Optional[str] = ...) -> None: ...

class DiagnoseTenantRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DiagnoseTenantResponse(_message.Message):
    __slots__ = ("tenant_id", "ready", "checks")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    ready: bool
    checks: _containers.RepeatedCompositeFieldContainer[DiagnosticCheck]
    def __init__(self, tenant_id: _Optional[str] = ..., ready: _Optional[bool] = ..., checks: _Optional[_Iterable[_Union[DiagnosticCheck, _Mapping]]] = ...) -> None: ...
