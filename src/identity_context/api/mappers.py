"""Proto <-> domain mapping: enums, timestamps, resources, and the invocation of an RPC."""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.message import Message
from identitycontext.v1 import (
    active_context_pb2,
    common_pb2,
    fact_export_pb2,
    membership_pb2,
    tenant_admin_pb2,
)

from identity_context.api import request_context
from identity_context.application.facts import ExportBatch, WatchChange, WatchEvent
from identity_context.application.hats import EligibleHat
from identity_context.application.identity_contexts import Claims
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import Page
from identity_context.domain.actors import AssuranceLevel
from identity_context.domain.audit import AuditRecord, ChainVerification
from identity_context.domain.diagnostics import CheckStatus, Report
from identity_context.domain.directory import (
    AccessProfile,
    AccessProfileDefinition,
    ApplicationBinding,
    ClaimSource,
    ClaimsRule,
    Group,
    GroupMember,
    Membership,
    MembershipRequirement,
    ProfileLayer,
    ProfileValue,
    ResolvedValue,
    Scope,
)
from identity_context.domain.errors import InvalidArgument
from identity_context.domain.facts import ExportMode, FactFilter, Position
from identity_context.domain.facts import Fact as StreamFact
from identity_context.domain.facts import FactSource as StreamSource
from identity_context.domain.hats import ActiveHat, Approval, Hat, RecordedEvidence
from identity_context.domain.identifiers import ScopeKind, parse_request_id
from identity_context.domain.identity_context import FactSource, IdentityContext
from identity_context.domain.tenancy import Tenant, TenantAccount

__all__ = [
    "from_duration",
    "from_enum",
    "from_timestamp",
    "invocation",
    "page_response",
    "set_time",
    "to_enum",
    "to_timestamp",
]

E = TypeVar("E", bound=enum.Enum)
R = TypeVar("R", bound=Message)
T = TypeVar("T")


def invocation(context: grpc.aio.ServicerContext[Any, Any], request_id: str = "") -> Invocation:
    """Return the use-case invocation of the current RPC (the interceptor ran before)."""
    scope = request_context.current()
    remaining = context.time_remaining()
    return Invocation(
        tenant=scope.tenant,
        actor=scope.actor,
        correlation_id=scope.correlation_id,
        request_id=parse_request_id(request_id),
        break_glass_reason=scope.break_glass_reason,
        deadline_s=remaining if remaining is not None and remaining < 3600 else None,
    )


_FIELD_OVERHEAD = 6  # tag and length prefix of one repeated message, at most
_PAGE_SLACK = 1024  # the page token and the response's own framing


def page_response(
    response_type: type[R], field: str, page: Page[T], to_pb: Callable[[T], Any], limit: int
) -> R:
    """Build a list response of *page* that never exceeds *limit* bytes.

    When the whole page would not fit, it is cut after the last item that
    does, and the token continues from there (at least one item is kept, so
    paging always moves on).
    """
    items = [to_pb(item) for item in page.items]
    response = response_type(**{field: items, "next_page_token": page.next_page_token})
    if response.ByteSize() + _PAGE_SLACK <= limit:  # the common case: one size check
        return response
    size = 0
    for kept, item in enumerate(items):
        size += item.ByteSize() + _FIELD_OVERHEAD
        if size + _PAGE_SLACK > limit and kept > 0:
            items = items[:kept]
            break
    return response_type(**{field: items, "next_page_token": page.token_after(len(items) - 1)})


def from_enum(domain: type[E], wrapper: Any, prefix: str, value: int, field: str) -> E | None:
    """Map proto enum number *value* (``<prefix><NAME>``) to the domain member; UNSPECIFIED is None.

    Raise InvalidArgument for an undefined number or a member the domain lacks.
    """
    try:
        name = str(wrapper.Name(value))
    except ValueError:
        raise InvalidArgument.for_field(field, f"unknown value {value}") from None
    if name == f"{prefix}UNSPECIFIED":
        return None
    try:
        return domain[name.removeprefix(prefix)]
    except KeyError:
        raise InvalidArgument.for_field(field, f"{name} is not allowed here") from None


_NUMBERS: dict[tuple[int, enum.Enum], int] = {}


def to_enum(wrapper: Any, prefix: str, member: enum.Enum) -> Any:
    """Map a domain enum member to the proto enum number ``<prefix><NAME>`` (cached)."""
    key = (id(wrapper), member)
    number = _NUMBERS.get(key)
    if number is None:
        number = _NUMBERS[key] = wrapper.Value(prefix + member.name)
    return number


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_timestamp(moment: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    """Return a Timestamp (microsecond precision, like PostgreSQL), or None for no time."""
    if moment is None:
        return None
    delta = moment - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=delta.microseconds * 1000)


def set_time(target: timestamp_pb2.Timestamp, moment: dt.datetime) -> None:
    """Set the Timestamp field *target* (of a message being built) to *moment*."""
    delta = moment - _EPOCH
    target.seconds = delta.days * 86_400 + delta.seconds
    target.nanos = delta.microseconds * 1000


# google.protobuf.Timestamp's documented range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799
_MAX_DURATION_SECONDS = 315_576_000_000


def from_timestamp(message: Any, name: str, *, field: str | None = None) -> dt.datetime | None:
    """Return the field *name* of *message* as an aware datetime, or None when unset.

    Raise InvalidArgument (naming *field*, default *name*) when it is outside
    the range google.protobuf.Timestamp allows.
    """
    if not message.HasField(name):
        return None
    stamp: timestamp_pb2.Timestamp = getattr(message, name)
    if not _MIN_SECONDS <= stamp.seconds <= _MAX_SECONDS or not 0 <= stamp.nanos < 1_000_000_000:
        raise InvalidArgument.for_field(
            field or name, "is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z"
        )
    return stamp.ToDatetime(tzinfo=dt.UTC)


def from_duration(message: Any, name: str, *, field: str | None = None) -> float | None:
    """Return the field *name* of *message* in seconds, or None when unset.

    Raise InvalidArgument when it is outside google.protobuf.Duration's range
    or its seconds and nanos disagree in sign.
    """
    if not message.HasField(name):
        return None
    value: duration_pb2.Duration = getattr(message, name)
    seconds, nanos = value.seconds, value.nanos
    if (
        not -_MAX_DURATION_SECONDS <= seconds <= _MAX_DURATION_SECONDS
        or not -1_000_000_000 < nanos < 1_000_000_000
        or (seconds > 0 > nanos)
        or (seconds < 0 < nanos)
    ):
        raise InvalidArgument.for_field(field or name, "is not a valid google.protobuf.Duration")
    return seconds + nanos / 1e9


def tenant_pb(tenant: Tenant) -> tenant_admin_pb2.Tenant:
    """Map a tenant."""
    return tenant_admin_pb2.Tenant(
        tenant_id=str(tenant.tenant_id),
        display_name=tenant.display_name,
        plane=to_enum(tenant_admin_pb2.TenantPlane, "TENANT_PLANE_", tenant.plane),
        state=to_enum(tenant_admin_pb2.TenantState, "TENANT_STATE_", tenant.state),
        last_seq=tenant.last_seq,
        create_time=to_timestamp(tenant.created_at),
        update_time=to_timestamp(tenant.updated_at),
        etag=tenant.etag,
    )


def binding_pb(binding: ApplicationBinding) -> tenant_admin_pb2.ApplicationBinding:
    """Map an application binding."""
    return tenant_admin_pb2.ApplicationBinding(
        tenant_id=str(binding.tenant_id),
        application=tenant_admin_pb2.Application(
            application_id=binding.application_id,
            display_name=binding.display_name,
            required=binding.required,
        ),
        create_time=to_timestamp(binding.created_at),
    )


def account_pb(account: TenantAccount) -> tenant_admin_pb2.TenantUser:
    """Map a tenant account."""
    return tenant_admin_pb2.TenantUser(
        tenant_id=str(account.tenant_id),
        user_id=account.user_id,
        display_name=account.display_name,
        state=to_enum(common_pb2.AccountState, "ACCOUNT_STATE_", account.state),
        create_time=to_timestamp(account.created_at),
        update_time=to_timestamp(account.updated_at),
        etag=account.etag,
    )


def profile_value_pb(value: ProfileValue, *, reveal: bool) -> tenant_admin_pb2.ProfileValue:
    """Map a stored profile value; sensitive values only when *reveal*."""
    return tenant_admin_pb2.ProfileValue(
        key=value.key,
        value=value.value if reveal or not value.sensitive else "[REDACTED]",
        layer=to_enum(common_pb2.ProfileLayer, "PROFILE_LAYER_", value.layer),
        sensitive=value.sensitive,
        update_time=to_timestamp(value.updated_at),
    )


def resolved_pb(value: ResolvedValue) -> common_pb2.ResolvedProfileValue:
    """Map a resolved profile value."""
    return common_pb2.ResolvedProfileValue(
        key=value.key,
        value=value.value,
        source_layer=to_enum(common_pb2.ProfileLayer, "PROFILE_LAYER_", value.source_layer),
        sensitive=value.sensitive,
    )


def audit_pb(record: AuditRecord) -> tenant_admin_pb2.AuditRecord:
    """Map an audit record."""
    return tenant_admin_pb2.AuditRecord(
        tenant_id=record.tenant_id,
        seq=record.seq,
        time=to_timestamp(record.recorded_at),
        actor=record.actor,
        actor_tenant_id=record.actor_tenant_id,
        target_tenant_id=record.target_tenant_id,
        action=record.action,
        decision=(
            tenant_admin_pb2.AUDIT_DECISION_ALLOW
            if record.decision == "allow"
            else tenant_admin_pb2.AUDIT_DECISION_DENY
        ),
        policy_ids=list(record.policy_ids),
        correlation_id=record.correlation_id,
        request_id=record.request_id,
        change_summary=json.dumps(dict(record.change_summary), sort_keys=True),
        break_glass=record.break_glass,
        prev_hash=record.prev_hash,
        hash=record.hash,
    )


def verification_pb(result: ChainVerification) -> tenant_admin_pb2.VerifyAuditChainResponse:
    """Map a chain verification."""
    return tenant_admin_pb2.VerifyAuditChainResponse(
        valid=result.valid,
        records_checked=result.records_checked,
        first_invalid_seq=result.first_invalid_seq,
        last_seq=result.last_seq,
        head_hash=result.head_hash,
    )


_CHECK_STATUS = {
    CheckStatus.PASS: tenant_admin_pb2.DIAGNOSTIC_STATUS_PASS,
    CheckStatus.WARN: tenant_admin_pb2.DIAGNOSTIC_STATUS_WARN,
    CheckStatus.FAIL: tenant_admin_pb2.DIAGNOSTIC_STATUS_FAIL,
}


def report_pb(report: Report) -> tenant_admin_pb2.DiagnoseTenantResponse:
    """Map a diagnostics report."""
    return tenant_admin_pb2.DiagnoseTenantResponse(
        tenant_id=report.tenant_id,
        ready=report.ready,
        checks=[
            tenant_admin_pb2.DiagnosticCheck(
                name=c.name, status=_CHECK_STATUS[c.status], detail=c.finding, remedy=c.remedy
            )
            for c in report.checks
        ],
    )


def scope_pb(scope: Scope) -> membership_pb2.Scope:
    """Map a scope."""
    return membership_pb2.Scope(
        scope_id=scope.scope_id,
        kind=to_enum(membership_pb2.ScopeKind, "SCOPE_KIND_", scope.kind),
        parent_scope_id=scope.parent_scope_id,
        display_name=scope.display_name,
        create_time=to_timestamp(scope.created_at),
    )


def group_pb(group: Group) -> membership_pb2.Group:
    """Map a group."""
    return membership_pb2.Group(
        group_id=group.group_id,
        display_name=group.display_name,
        member_count=group.member_count,
        create_time=to_timestamp(group.created_at),
    )


def group_member_pb(member: GroupMember) -> membership_pb2.GroupMember:
    """Map a group member."""
    return membership_pb2.GroupMember(
        group_id=member.group_id,
        user_id=member.user_id,
        create_time=to_timestamp(member.created_at),
    )


def membership_pb(membership: Membership) -> membership_pb2.Membership:
    """Map a membership (a page holds many: times are set in place, no temporaries)."""
    message = membership_pb2.Membership(
        membership_id=membership.membership_id,
        subject=membership.subject,
        relation=membership.relation,
        object=membership.object,
        state=to_enum(membership_pb2.MembershipState, "MEMBERSHIP_STATE_", membership.state),
        etag=membership.etag,
    )
    set_time(message.create_time, membership.created_at)
    if membership.valid_from is not None:
        set_time(message.valid_from, membership.valid_from)
    if membership.valid_until is not None:
        set_time(message.valid_until, membership.valid_until)
    if membership.revoked_at is not None:
        set_time(message.revoke_time, membership.revoked_at)
    return message


def access_profile_definition(profile: active_context_pb2.AccessProfile) -> AccessProfileDefinition:
    """Map an AccessProfile message to the domain definition (enums and durations checked)."""
    where = "access_profile"
    scope_kinds = []
    for i, number in enumerate(profile.scope_kinds):
        kind = from_enum(
            ScopeKind, membership_pb2.ScopeKind, "SCOPE_KIND_", number, f"{where}.scope_kinds[{i}]"
        )
        if kind is None:
            raise InvalidArgument.for_field(f"{where}.scope_kinds[{i}]", "is unspecified")
        scope_kinds.append(kind)
    rules = []
    for i, rule in enumerate(profile.claims_rules):
        source = from_enum(
            ClaimSource,
            active_context_pb2.ClaimSource,
            "CLAIM_SOURCE_",
            rule.source,
            f"{where}.claims_rules[{i}].source",
        )
        if source is None:
            raise InvalidArgument.for_field(f"{where}.claims_rules[{i}].source", "is required")
        rules.append(ClaimsRule(rule.audience, rule.claim, source, rule.source_key))
    assurance = from_enum(
        AssuranceLevel,
        common_pb2.AssuranceLevel,
        "ASSURANCE_LEVEL_",
        profile.min_assurance_level,
        f"{where}.min_assurance_level",
    )
    return AccessProfileDefinition(
        scope_kinds=tuple(scope_kinds),
        membership_requirements=tuple(
            MembershipRequirement(r.relation, r.object) for r in profile.membership_requirements
        ),
        min_assurance=assurance or AssuranceLevel.NONE,
        required_factor_types=tuple(profile.required_factor_types),
        max_evidence_age_s=from_duration(
            profile, "max_evidence_age", field=f"{where}.max_evidence_age"
        ),
        requires_approval=profile.requires_approval,
        profile_defaults=tuple(sorted(profile.profile_defaults.items())),
        claims_rules=tuple(rules),
        max_active_duration_s=from_duration(
            profile, "max_active_duration", field=f"{where}.max_active_duration"
        ),
        approver_relation=profile.approver_relation,
        max_approval_validity_s=from_duration(
            profile, "max_approval_validity", field=f"{where}.max_approval_validity"
        ),
    )


def access_profile_pb(profile: AccessProfile) -> active_context_pb2.AccessProfile:
    """Map an access profile."""
    d = profile.definition
    message = active_context_pb2.AccessProfile(
        access_profile_id=profile.access_profile_id,
        display_name=profile.display_name,
        scope_kinds=[to_enum(membership_pb2.ScopeKind, "SCOPE_KIND_", k) for k in d.scope_kinds],
        membership_requirements=[
            active_context_pb2.MembershipRequirement(relation=r.relation, object=r.object)
            for r in d.membership_requirements
        ],
        min_assurance_level=(
            to_enum(common_pb2.AssuranceLevel, "ASSURANCE_LEVEL_", d.min_assurance)
            if d.min_assurance is not AssuranceLevel.NONE
            else common_pb2.ASSURANCE_LEVEL_UNSPECIFIED
        ),
        required_factor_types=list(d.required_factor_types),
        requires_approval=d.requires_approval,
        profile_defaults=dict(d.profile_defaults),
        claims_rules=[
            active_context_pb2.ClaimsProjectionRule(
                audience=r.audience,
                claim=r.claim,
                source=to_enum(active_context_pb2.ClaimSource, "CLAIM_SOURCE_", r.source),
                source_key=r.source_key,
            )
            for r in d.claims_rules
        ],
        create_time=to_timestamp(profile.created_at),
        etag=profile.etag,
        approver_relation=d.approver_relation,
    )
    if d.max_approval_validity_s is not None:
        message.max_approval_validity.FromTimedelta(dt.timedelta(seconds=d.max_approval_validity_s))
    if d.max_evidence_age_s is not None:
        message.max_evidence_age.FromTimedelta(dt.timedelta(seconds=d.max_evidence_age_s))
    if d.max_active_duration_s is not None:
        message.max_active_duration.FromTimedelta(dt.timedelta(seconds=d.max_active_duration_s))
    return message


# ---- hats and the hot path ------------------------------------------------------


def evidence_pb(recorded: RecordedEvidence) -> active_context_pb2.FactorEvidence:
    """Map recorded factor evidence (its reference goes back only to its recorder)."""
    e = recorded.evidence
    message = active_context_pb2.FactorEvidence(
        evidence_id=e.evidence_id,
        user_id=recorded.user_id,
        factor_type=e.factor_type,
        assurance_level=to_enum(common_pb2.AssuranceLevel, "ASSURANCE_LEVEL_", e.assurance_level),
        issuer=recorded.issuer,
        evidence_ref=recorded.evidence_ref,
    )
    set_time(message.verified_at, e.verified_at)
    set_time(message.expires_at, e.expires_at)
    return message


def hat_pb(hat: Hat) -> active_context_pb2.Hat:
    """Map a hat."""
    return active_context_pb2.Hat(
        hat_id=str(hat), access_profile_id=hat.access_profile_id, scope_id=hat.scope_id
    )


def eligible_pb(found: EligibleHat) -> active_context_pb2.EligibleHat:
    """Map a candidate hat with its verdict."""
    unmet = found.verdict.unmet
    return active_context_pb2.EligibleHat(
        hat=hat_pb(found.hat),
        eligible=not unmet,
        reasons=[
            to_enum(active_context_pb2.IneligibilityReason, "INELIGIBILITY_REASON_", u)
            for u, _ in unmet
        ],
        details=[detail for _, detail in unmet],
    )


def _active_into(message: active_context_pb2.ActiveContext, active: ActiveHat) -> None:
    message.user_id = active.user_id
    hat = message.hat
    hat.hat_id = str(active.hat)
    hat.access_profile_id = active.hat.access_profile_id
    hat.scope_id = active.hat.scope_id
    message.realm_id = active.realm_id
    message.service_area_id = active.service_area_id
    message.asset_id = active.asset_id
    message.evidence_refs.extend(active.evidence_ids)
    message.approval_id = active.approval_id
    set_time(message.selected_at, active.selected_at)
    if active.expires_at is not None:
        set_time(message.expires_at, active.expires_at)


def active_context_pb(active: ActiveHat) -> active_context_pb2.ActiveContext:
    """Map an active hat."""
    message = active_context_pb2.ActiveContext()
    _active_into(message, active)
    return message


def approval_pb(approval: Approval) -> active_context_pb2.HatApproval:
    """Map a hat approval."""
    message = active_context_pb2.HatApproval(
        approval_id=approval.approval_id,
        user_id=approval.user_id,
        hat_id=approval.hat,
        justification=approval.justification,
        state=to_enum(active_context_pb2.HatApprovalState, "HAT_APPROVAL_STATE_", approval.state),
        decided_by=approval.decided_by,
        etag=f"v{approval.version}",
    )
    set_time(message.create_time, approval.created_at)
    if approval.decided_at is not None:
        set_time(message.decide_time, approval.decided_at)
    if approval.expires_at is not None:
        set_time(message.expires_at, approval.expires_at)
    if approval.pending_until is not None:
        set_time(message.pending_until, approval.pending_until)
    if approval.requested_duration_s is not None:
        message.requested_duration.FromTimedelta(
            dt.timedelta(seconds=approval.requested_duration_s)
        )
    return message


_FACT_SOURCES = {
    source: common_pb2.FactSource.Value(f"FACT_SOURCE_{source.name}") for source in FactSource
}
_LAYERS = {
    layer: common_pb2.ProfileLayer.Value(f"PROFILE_LAYER_{layer.name}") for layer in ProfileLayer
}
_ACTIVE_MEMBERSHIP = membership_pb2.MEMBERSHIP_STATE_ACTIVE


def identity_context_pb(context: IdentityContext) -> active_context_pb2.IdentityContext:
    """Map an identity context (the hot path: fields are set in place)."""
    tenant = str(context.tenant)
    message = active_context_pb2.IdentityContext(
        tenant_id=tenant,
        user_id=context.user_id,
        account_state=to_enum(common_pb2.AccountState, "ACCOUNT_STATE_", context.account_state),
        groups=context.groups,
        seq=context.seq,
    )
    profile = message.profile
    for value in context.profile:
        profile.add(
            key=value.key,
            value=value.value,
            source_layer=_LAYERS[value.source_layer],
            sensitive=value.sensitive,
        )
    memberships = message.memberships
    for m in context.memberships:
        held = memberships.add(
            membership_id=m.membership_id,
            subject=m.subject,
            relation=m.relation,
            object=m.object,
            state=_ACTIVE_MEMBERSHIP,
            etag=m.etag,
        )
        set_time(held.create_time, m.created_at)
        if m.valid_from is not None:
            set_time(held.valid_from, m.valid_from)
        if m.valid_until is not None:
            set_time(held.valid_until, m.valid_until)
    facts = message.facts
    for fact in context.facts:
        added = facts.add(
            tenant_id=tenant,
            subject=fact.subject,
            relation=fact.relation,
            object=fact.object,
            source=_FACT_SOURCES[fact.source],
            via=fact.via,
            evidence_refs=fact.evidence_ids,
        )
        if fact.valid_until is not None:
            set_time(added.valid_until, fact.valid_until)
    evidence = message.evidence
    for e in context.evidence:
        ref = evidence.add(
            evidence_id=e.evidence_id,
            factor_type=e.factor_type,
            assurance_level=int(e.assurance_level),
        )
        set_time(ref.expires_at, e.expires_at)
    if context.active is not None:
        _active_into(message.active_context, context.active)
        message.access_profile_id = context.active.hat.access_profile_id
    return message


def claims_pb(found: Claims) -> active_context_pb2.ProjectClaimsResponse:
    """Map projected claims (a Struct keeps its keys sorted when serialised)."""
    message = active_context_pb2.ProjectClaimsResponse(audience=found.audience, seq=found.seq)
    message.claims.update(found.claims)
    return message


# ---- facts ----------------------------------------------------------------------


def export_mode(value: int) -> ExportMode | None:
    """The requested export mode (None: the default, NATIVE)."""
    return from_enum(ExportMode, fact_export_pb2.ExportMode, "EXPORT_MODE_", value, "mode")


def fact_filter(message: fact_export_pb2.FactFilter) -> FactFilter:
    """A validated, canonical fact filter."""
    sources = []
    for index, number in enumerate(message.sources):
        source = from_enum(
            StreamSource, common_pb2.FactSource, "FACT_SOURCE_", number, f"filter.sources[{index}]"
        )
        if source is None:
            raise InvalidArgument.for_field(f"filter.sources[{index}]", "must be a fact source")
        sources.append(source)
    return FactFilter.of(list(message.relations), sources)


def fact_pb(fact: StreamFact) -> common_pb2.AccessControlFact:
    """Map a fact."""
    message = common_pb2.AccessControlFact(
        tenant_id=fact.tenant_id,
        subject=fact.subject,
        relation=fact.relation,
        object=fact.object,
        source=to_enum(common_pb2.FactSource, "FACT_SOURCE_", fact.source),
        via=fact.via[0] if fact.via else "",
        via_groups=fact.via,
        evidence_refs=fact.evidence_refs,
        access_profile=fact.access_profile,
    )
    if fact.valid_from is not None:
        set_time(message.valid_from, fact.valid_from)
    if fact.valid_until is not None:
        set_time(message.valid_until, fact.valid_until)
    return message


def export_batch_bytes(batch: ExportBatch) -> bytes:
    """One export message, serialized: the facts as the store encoded them (field 1),
    then the other fields (a message's fields may come in any order)."""
    rest = fact_export_pb2.ExportFactsResponse(
        facts_token=batch.facts_token,
        resume_cursor=batch.resume_cursor,
        last=batch.last,
        snapshot_seq=batch.snapshot_seq,
    ).SerializeToString()
    return batch.facts.payload + rest if batch.facts is not None else rest


def position_pb(position: Position) -> fact_export_pb2.FactsPosition:
    """Map a stream position (after all changes of a seq: change 0)."""
    return fact_export_pb2.FactsPosition(
        seq=position.seq, change=0 if position.at_boundary else position.change
    )


def watch_event_pb(event: WatchEvent) -> fact_export_pb2.WatchFactsResponse:
    """Map one watch message."""
    message = fact_export_pb2.WatchFactsResponse(
        facts_token=event.facts_token,
        previous=position_pb(event.previous),
        position=position_pb(event.position),
    )
    if isinstance(event, WatchChange):
        change = event.change
        message.change.seq = change.seq
        message.change.change = change.change
        message.change.operation = to_enum(
            fact_export_pb2.FactOperation, "FACT_OPERATION_", change.operation
        )
        message.change.fact.CopyFrom(fact_pb(change.fact))
        set_time(message.change.commit_time, change.committed_at)
    else:
        message.heartbeat.seq = event.position.seq
        set_time(message.heartbeat.time, event.sent_at)
    return message
