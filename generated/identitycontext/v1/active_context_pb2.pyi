import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from identitycontext.v1 import common_pb2 as _common_pb2
from identitycontext.v1 import membership_pb2 as _membership_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClaimSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLAIM_SOURCE_UNSPECIFIED: _ClassVar[ClaimSource]
    CLAIM_SOURCE_PROFILE: _ClassVar[ClaimSource]
    CLAIM_SOURCE_HAT: _ClassVar[ClaimSource]
    CLAIM_SOURCE_REALM: _ClassVar[ClaimSource]
    CLAIM_SOURCE_SERVICE_AREA: _ClassVar[ClaimSource]
    CLAIM_SOURCE_ASSET: _ClassVar[ClaimSource]
    CLAIM_SOURCE_GROUPS: _ClassVar[ClaimSource]
    CLAIM_SOURCE_RELATIONS: _ClassVar[ClaimSource]
    CLAIM_SOURCE_CONSTANT: _ClassVar[ClaimSource]

class IneligibilityReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INELIGIBILITY_REASON_UNSPECIFIED: _ClassVar[IneligibilityReason]
    INELIGIBILITY_REASON_ACCOUNT_NOT_ACTIVE: _ClassVar[IneligibilityReason]
    INELIGIBILITY_REASON_MEMBERSHIP_MISSING: _ClassVar[IneligibilityReason]
    INELIGIBILITY_REASON_FACTOR_ASSURANCE_MISSING: _ClassVar[IneligibilityReason]
    INELIGIBILITY_REASON_APPROVAL_REQUIRED: _ClassVar[IneligibilityReason]
    INELIGIBILITY_REASON_SCOPE_KIND_NOT_ALLOWED: _ClassVar[IneligibilityReason]
    INELIGIBILITY_REASON_TENANT_NOT_ACTIVE: _ClassVar[IneligibilityReason]

class HatApprovalState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HAT_APPROVAL_STATE_UNSPECIFIED: _ClassVar[HatApprovalState]
    HAT_APPROVAL_STATE_PENDING: _ClassVar[HatApprovalState]
    HAT_APPROVAL_STATE_APPROVED: _ClassVar[HatApprovalState]
    HAT_APPROVAL_STATE_REJECTED: _ClassVar[HatApprovalState]
    HAT_APPROVAL_STATE_EXPIRED: _ClassVar[HatApprovalState]
CLAIM_SOURCE_UNSPECIFIED: ClaimSource
CLAIM_SOURCE_PROFILE: ClaimSource
CLAIM_SOURCE_HAT: ClaimSource
CLAIM_SOURCE_REALM: ClaimSource
CLAIM_SOURCE_SERVICE_AREA: ClaimSource
CLAIM_SOURCE_ASSET: ClaimSource
CLAIM_SOURCE_GROUPS: ClaimSource
CLAIM_SOURCE_RELATIONS: ClaimSource
CLAIM_SOURCE_CONSTANT: ClaimSource
INELIGIBILITY_REASON_UNSPECIFIED: IneligibilityReason
INELIGIBILITY_REASON_ACCOUNT_NOT_ACTIVE: IneligibilityReason
INELIGIBILITY_REASON_MEMBERSHIP_MISSING: IneligibilityReason
INELIGIBILITY_REASON_FACTOR_ASSURANCE_MISSING: IneligibilityReason
INELIGIBILITY_REASON_APPROVAL_REQUIRED: IneligibilityReason
INELIGIBILITY_REASON_SCOPE_KIND_NOT_ALLOWED: IneligibilityReason
INELIGIBILITY_REASON_TENANT_NOT_ACTIVE: IneligibilityReason
HAT_APPROVAL_STATE_UNSPECIFIED: HatApprovalState
HAT_APPROVAL_STATE_PENDING: HatApprovalState
HAT_APPROVAL_STATE_APPROVED: HatApprovalState
HAT_APPROVAL_STATE_REJECTED: HatApprovalState
HAT_APPROVAL_STATE_EXPIRED: HatApprovalState

class MembershipRequirement(_message.Message):
    __slots__ = ("relation", "object")
    RELATION_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    relation: str
    object: str
    def __init__(self, relation: _Optional[str] = ..., object: _Optional[str] = ...) -> None: ...

class ClaimsProjectionRule(_message.Message):
    __slots__ = ("audience", "claim", "source", "source_key")
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_KEY_FIELD_NUMBER: _ClassVar[int]
    audience: str
    claim: str
    source: ClaimSource
    source_key: str
    def __init__(self, audience: _Optional[str] = ..., claim: _Optional[str] = ..., source: _Optional[_Union[ClaimSource, str]] = ..., source_key: _Optional[str] = ...) -> None: ...

class AccessProfile(_message.Message):
    __slots__ = ("access_profile_id", "display_name", "scope_kinds", "membership_requirements", "min_assurance_level", "required_factor_types", "max_evidence_age", "requires_approval", "profile_defaults", "claims_rules", "max_active_duration", "create_time", "etag", "approver_relation", "max_approval_validity")
    class ProfileDefaultsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACCESS_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPE_KINDS_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    MIN_ASSURANCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FACTOR_TYPES_FIELD_NUMBER: _ClassVar[int]
    MAX_EVIDENCE_AGE_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    PROFILE_DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_RULES_FIELD_NUMBER: _ClassVar[int]
    MAX_ACTIVE_DURATION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    APPROVER_RELATION_FIELD_NUMBER: _ClassVar[int]
    MAX_APPROVAL_VALIDITY_FIELD_NUMBER: _ClassVar[int]
    access_profile_id: str
    display_name: str
    scope_kinds: _containers.RepeatedScalarFieldContainer[_membership_pb2.ScopeKind]
    membership_requirements: _containers.RepeatedCompositeFieldContainer[MembershipRequirement]
    min_assurance_level: _common_pb2.AssuranceLevel
    required_factor_types: _containers.RepeatedScalarFieldContainer[str]
    max_evidence_age: _duration_pb2.Duration
    requires_approval: bool
    profile_defaults: _containers.ScalarMap[str, str]
    claims_rules: _containers.RepeatedCompositeFieldContainer[ClaimsProjectionRule]
    max_active_duration: _duration_pb2.Duration
    create_time: _timestamp_pb2.Timestamp
    etag: str
    approver_relation: str
    max_approval_validity: _duration_pb2.Duration
    def __init__(self, access_profile_id: _Optional[str] = ..., display_name: _Optional[str] = ..., scope_kinds: _Optional[_Iterable[_Union[_membership_pb2.ScopeKind, str]]] = ..., membership_requirements: _Optional[_Iterable[_Union[MembershipRequirement, _Mapping]]] = ..., min_assurance_level: _Optional[_Union[_common_pb2.AssuranceLevel, str]] = ..., required_factor_types: _Optional[_Iterable[str]] = ..., max_evidence_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., requires_approval: _Optional[bool] = ..., profile_defaults: _Optional[_Mapping[str, str]] = ..., claims_rules: _Optional[_Iterable[_Union[ClaimsProjectionRule, _Mapping]]] = ..., max_active_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., approver_relation: _Optional[str] = ..., max_approval_validity: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CreateAccessProfileRequest(_message.Message):
    __slots__ = ("access_profile", "request_id")
    ACCESS_PROFILE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    access_profile: AccessProfile
    request_id: str
    def __init__(self, access_profile: _Optional[_Union[AccessProfile, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateAccessProfileResponse(_message.Message):
    __slots__ = ("access_profile",)
    ACCESS_PROFILE_FIELD_NUMBER: _ClassVar[int]
    access_profile: AccessProfile
    def __init__(self, access_profile: _Optional[_Union[AccessProfile, _Mapping]] = ...) -> None: ...

class ListAccessProfilesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAccessProfilesResponse(_message.Message):
    __slots__ = ("access_profiles", "next_page_token")
    ACCESS_PROFILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    access_profiles: _containers.RepeatedCompositeFieldContainer[AccessProfile]
    next_page_token: str
    def __init__(self, access_profiles: _Optional[_Iterable[_Union[AccessProfile, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class FactorEvidence(_message.Message):
    __slots__ = ("evidence_id", "user_id", "factor_type", "assurance_level", "verified_at", "expires_at", "issuer", "evidence_ref")
    EVIDENCE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    FACTOR_TYPE_FIELD_NUMBER: _ClassVar[int]
    ASSURANCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_REF_FIELD_NUMBER: _ClassVar[int]
    evidence_id: str
    user_id: str
    factor_type: str
    assurance_level: _common_pb2.AssuranceLevel
    verified_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    issuer: str
    evidence_ref: str
    def __init__(self, evidence_id: _Optional[str] = ..., user_id: _Optional[str] = ..., factor_type: _Optional[str] = ..., assurance_level: _Optional[_Union[_common_pb2.AssuranceLevel, str]] = ..., verified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., issuer: _Optional[str] = ..., evidence_ref: _Optional[str] = ...) -> None: ...

class RecordFactorEvidenceRequest(_message.Message):
    __slots__ = ("user_id", "factor_type", "assurance_level", "verified_at", "expires_at", "issuer", "request_id", "evidence_ref")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    FACTOR_TYPE_FIELD_NUMBER: _ClassVar[int]
    ASSURANCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_REF_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    factor_type: str
    assurance_level: _common_pb2.AssuranceLevel
    verified_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    issuer: str
    request_id: str
    evidence_ref: str
    def __init__(self, user_id: _Optional[str] = ..., factor_type: _Optional[str] = ..., assurance_level: _Optional[_Union[_common_pb2.AssuranceLevel, str]] = ..., verified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., issuer: _Optional[str] = ..., request_id: _Optional[str] = ..., evidence_ref: _Optional[str] = ...) -> None: ...

class RecordFactorEvidenceResponse(_message.Message):
    __slots__ = ("evidence",)
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    evidence: FactorEvidence
    def __init__(self, evidence: _Optional[_Union[FactorEvidence, _Mapping]] = ...) -> None: ...

class Hat(_message.Message):
    __slots__ = ("hat_id", "access_profile_id", "scope_id")
    HAT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_ID_FIELD_NUMBER: _ClassVar[int]
    hat_id: str
    access_profile_id: str
    scope_id: str
    def __init__(self, hat_id: _Optional[str] = ..., access_profile_id: _Optional[str] = ..., scope_id: _Optional[str] = ...) -> None: ...

class EligibleHat(_message.Message):
    __slots__ = ("hat", "eligible", "reasons", "details")
    HAT_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    hat: Hat
    eligible: bool
    reasons: _containers.RepeatedScalarFieldContainer[IneligibilityReason]
    details: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, hat: _Optional[_Union[Hat, _Mapping]] = ..., eligible: _Optional[bool] = ..., reasons: _Optional[_Iterable[_Union[IneligibilityReason, str]]] = ..., details: _Optional[_Iterable[str]] = ...) -> None: ...

class ListEligibleHatsRequest(_message.Message):
    __slots__ = ("user_id", "scope_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    scope_id: str
    def __init__(self, user_id: _Optional[str] = ..., scope_id: _Optional[str] = ...) -> None: ...

class ListEligibleHatsResponse(_message.Message):
    __slots__ = ("hats",)
    HATS_FIELD_NUMBER: _ClassVar[int]
    hats: _containers.RepeatedCompositeFieldContainer[EligibleHat]
    def __init__(self, hats: _Optional[_Iterable[_Union[EligibleHat, _Mapping]]] = ...) -> None: ...

class ActiveContext(_message.Message):
    __slots__ = ("user_id", "hat", "realm_id", "service_area_id", "asset_id", "evidence_refs", "approval_id", "selected_at", "expires_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    HAT_FIELD_NUMBER: _ClassVar[int]
    REALM_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_AREA_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_REFS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    SELECTED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    hat: Hat
    realm_id: str
    service_area_id: str
    asset_id: str
    evidence_refs: _containers.RepeatedScalarFieldContainer[str]
    approval_id: str
    selected_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., hat: _Optional[_Union[Hat, _Mapping]] = ..., realm_id: _Optional[str] = ..., service_area_id: _Optional[str] = ..., asset_id: _Optional[str] = ..., evidence_refs: _Optional[_Iterable[str]] = ..., approval_id: _Optional[str] = ..., selected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SelectActiveHatRequest(_message.Message):
    __slots__ = ("user_id", "hat_id", "request_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    HAT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    hat_id: str
    request_id: str
    def __init__(self, user_id: _Optional[str] = ..., hat_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SelectActiveHatResponse(_message.Message):
    __slots__ = ("active_context",)
    ACTIVE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    active_context: ActiveContext
    def __init__(self, active_context: _Optional[_Union[ActiveContext, _Mapping]] = ...) -> None: ...

class ClearActiveHatRequest(_message.Message):
    __slots__ = ("user_id", "request_id", "reason")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    request_id: str
    reason: str
    def __init__(self, user_id: _Optional[str] = ..., request_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ClearActiveHatResponse(_message.Message):
    __slots__ = ("cleared",)
    CLEARED_FIELD_NUMBER: _ClassVar[int]
    cleared: bool
    def __init__(self, cleared: _Optional[bool] = ...) -> None: ...

class HatApproval(_message.Message):
    __slots__ = ("approval_id", "user_id", "hat_id", "justification", "state", "decided_by", "create_time", "decide_time", "expires_at", "etag", "requested_duration", "pending_until")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    HAT_ID_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DECIDE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_DURATION_FIELD_NUMBER: _ClassVar[int]
    PENDING_UNTIL_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    user_id: str
    hat_id: str
    justification: str
    state: HatApprovalState
    decided_by: str
    create_time: _timestamp_pb2.Timestamp
    decide_time: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    etag: str
    requested_duration: _duration_pb2.Duration
    pending_until: _timestamp_pb2.Timestamp
    def __init__(self, approval_id: _Optional[str] = ..., user_id: _Optional[str] = ..., hat_id: _Optional[str] = ..., justification: _Optional[str] = ..., state: _Optional[_Union[HatApprovalState, str]] = ..., decided_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decide_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., requested_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., pending_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RequestHatApprovalRequest(_message.Message):
    __slots__ = ("user_id", "hat_id", "justification", "request_id", "requested_duration")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    HAT_ID_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_DURATION_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    hat_id: str
    justification: str
    request_id: str
    requested_duration: _duration_pb2.Duration
    def __init__(self, user_id: _Optional[str] = ..., hat_id: _Optional[str] = ..., justification: _Optional[str] = ..., request_id: _Optional[str] = ..., requested_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RequestHatApprovalResponse(_message.Message):
    __slots__ = ("approval",)
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    approval: HatApproval
    def __init__(self, approval: _Optional[_Union[HatApproval, _Mapping]] = ...) -> None: ...

class DecideHatApprovalRequest(_message.Message):
    __slots__ = ("approval_id", "decision", "valid_for", "comment", "etag", "request_id")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    VALID_FOR_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    decision: HatApprovalState
    valid_for: _duration_pb2.Duration
    comment: str
    etag: str
    request_id: str
    def __init__(self, approval_id: _Optional[str] = ..., decision: _Optional[_Union[HatApprovalState, str]] = ..., valid_for: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., comment: _Optional[str] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DecideHatApprovalResponse(_message.Message):
    __slots__ = ("approval",)
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    approval: HatApproval
    def __init__(self, approval: _Optional[_Union[HatApproval, _Mapping]] = ...) -> None: ...

class EvidenceReference(_message.Message):
    __slots__ = ("evidence_id", "factor_type", "assurance_level", "expires_at")
    EVIDENCE_ID_FIELD_NUMBER: _ClassVar[int]
    FACTOR_TYPE_FIELD_NUMBER: _ClassVar[int]
    ASSURANCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    evidence_id: str
    factor_type: str
    assurance_level: _common_pb2.AssuranceLevel
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, evidence_id: _Optional[str] = ..., factor_type: _Optional[str] = ..., assurance_level: _Optional[_Union[_common_pb2.AssuranceLevel, str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class IdentityContext(_message.Message):
    __slots__ = ("tenant_id", "user_id", "account_state", "profile", "memberships", "groups", "active_context", "access_profile_id", "facts", "evidence", "seq")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_STATE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIPS_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ACCESS_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_id: str
    account_state: _common_pb2.AccountState
    profile: _containers.RepeatedCompositeFieldContainer[_common_pb2.ResolvedProfileValue]
    memberships: _containers.RepeatedCompositeFieldContainer[_membership_pb2.Membership]
    groups: _containers.RepeatedScalarFieldContainer[str]
    active_context: ActiveContext
    access_profile_id: str
    facts: _containers.RepeatedCompositeFieldContainer[_common_pb2.AccessControlFact]
    evidence: _containers.RepeatedCompositeFieldContainer[EvidenceReference]
    seq: int
    def __init__(self, tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., account_state: _Optional[_Union[_common_pb2.AccountState, str]] = ..., profile: _Optional[_Iterable[_Union[_common_pb2.ResolvedProfileValue, _Mapping]]] = ..., memberships: _Optional[_Iterable[_Union[_membership_pb2.Membership, _Mapping]]] = ..., groups: _Optional[_Iterable[str]] = ..., active_context: _Optional[_Union[ActiveContext, _Mapping]] = ..., access_profile_id: _Optional[str] = ..., facts: _Optional[_Iterable[_Union[_common_pb2.AccessControlFact, _Mapping]]] = ..., evidence: _Optional[_Iterable[_Union[EvidenceReference, _Mapping]]] = ..., seq: _Optional[int] = ...) -> None: ...

class GetIdentityContextRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetIdentityContextResponse(_message.Message):
    __slots__ = ("identity_context",)
    IDENTITY_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    identity_context: IdentityContext
    def __init__(self, identity_context: _Optional[_Union[IdentityContext, _Mapping]] = ...) -> None: ...

class ProjectClaimsRequest(_message.Message):
    __slots__ = ("user_id", "audience")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    audience: str
    def __init__(self, user_id: _Optional[str] = ..., audience: _Optional[str] = ...) -> None: ...

class ProjectClaimsResponse(_message.Message):
    __slots__ = ("audience", "claims", "seq")
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    audience: str
    claims: _struct_pb2.Struct
    seq: int
    def __init__(self, audience: _Optional[str] = ..., claims: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., seq: _Optional[int] = ...) -> None: ...
