"""Use cases of hats: factor evidence, eligibility, selection, approvals, and ending hats.

Every rule of whether a hat can be worn, or still holds, lives in
``domain.hats``; who may do what is the policy's (``tenant.hat.*``,
``tenant.hat_approval.*``, ``tenant.evidence.record``). A mutation that
removes a hat's ground (a revoked membership, a group removal, an account
that is no longer active) calls ``end_broken_hats`` in its own transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from identity_context.application.actions import Action
from identity_context.application.authorization import Target
from identity_context.application.commands import (
    ClearActiveHat,
    DecideHatApproval,
    RecordFactorEvidence,
    RequestHatApproval,
    SelectActiveHat,
)
from identity_context.application.guarded import Guarded
from identity_context.application.invocation import Invocation
from identity_context.application.ports import Clock, Store, UnitOfWork
from identity_context.domain.actors import AssuranceLevel
from identity_context.domain.changes import Change, ChangeContext, Decision
from identity_context.domain.directory import AccessProfile
from identity_context.domain.errors import (
    Aborted,
    ErrorReason,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from identity_context.domain.hats import (
    ActiveHat,
    Approval,
    ApprovalState,
    Evidence,
    Grounds,
    Hat,
    RecordedEvidence,
    Unmet,
    Verdict,
    check_hat,
    hat_holds,
    parse_evidence_ref,
    parse_hat,
    placement,
)
from identity_context.domain.identifiers import (
    PLATFORM_TENANT,
    ScopeKind,
    TenantId,
    parse_membership_id,
    parse_scope_ref,
    parse_user_ref,
)
from identity_context.domain.tenancy import check_etag, etag_of
from identity_context.domain.text import MAX_DISPLAY_NAME, MAX_REASON, check_text

__all__ = [
    "ClearResult",
    "EligibleHat",
    "HatExpiry",
    "Hats",
    "SWEEPER",
    "PENDING_WINDOW",
    "end_broken_hats",
]

_FACTOR_TYPE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_CLOCK_LEEWAY = dt.timedelta(seconds=60)
_MAX_EVIDENCE_LIFETIME = dt.timedelta(days=366)
# A pending approval request may be decided for this long.
PENDING_WINDOW = dt.timedelta(hours=24)
_MAX_HATS = 1000


def _new_id(prefix: str) -> str:
    # Time-ordered (fixed-width hex microseconds), like membership ids.
    return f"{prefix}{int(time.time() * 1_000_000):014x}{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class EligibleHat:
    """A hat and the verdict on whether the user can wear it now."""

    hat: Hat
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class ClearResult:
    """Whether ClearActiveHat took a hat off."""

    cleared: bool


def _anchors(hat: Hat, profile: AccessProfile) -> list[str]:
    objects = [r.object for r in profile.definition.membership_requirements if r.object]
    return [hat.scope_id, *objects]


async def _hat_parts(uow: UnitOfWork, hat: Hat) -> AccessProfile:
    """The hat's access profile; NOT_FOUND when it or the hat's scope does not exist."""
    profile = await uow.access_profiles.get(hat.access_profile_id)
    if profile is None:
        raise NotFound(f"{hat.access_profile_id} not found", metadata={"field": "hat_id"})
    if hat.scope_kind is not ScopeKind.TENANT and await uow.scopes.get(hat.scope_id) is None:
        raise NotFound(f"{hat.scope_id} not found", metadata={"field": "hat_id"})
    return profile


def _refuse(verdict: Verdict, hat: Hat) -> None:
    """Raise the error of the first unmet requirement (fail closed, a reason each)."""
    unmet, detail = verdict.unmet[0]
    message = f"{hat} cannot be worn: {detail}"
    if unmet in (Unmet.TENANT_NOT_ACTIVE, Unmet.ACCOUNT_NOT_ACTIVE):
        raise FailedPrecondition(message, reason=unmet.reason)
    if unmet is Unmet.SCOPE_KIND_NOT_ALLOWED:
        raise InvalidArgument.for_field("hat_id", message)
    raise PermissionDenied(message, reason=unmet.reason)


async def end_broken_hats(
    uow: UnitOfWork, users: Sequence[str], decision: Decision, cause: str, now: dt.datetime
) -> list[ActiveHat]:
    """End, in this transaction, the hats of *users* whose grounds no longer hold.

    Each ending is recorded (``active_context.ended``, with *cause*), so the
    audit trail and the change stream carry it. Return the hats ended.
    """
    if not users:
        return []
    # The tenant lock first (a mutation holds it already): the row locks of the
    # hats come after it in every unit of work, so the sweeper cannot deadlock
    # with a selection.
    await uow.lock_tenant()
    ended = []
    for active in await uow.hats.wearers(users):
        profile = await uow.access_profiles.get(active.hat.access_profile_id)
        anchors = _anchors(active.hat, profile) if profile else [active.hat.scope_id]
        grounds = await uow.hats.grounds(active.user_id, anchors)
        why = hat_holds(active, profile.definition if profile else None, grounds, now)
        if not why:
            continue
        await uow.hats.take_off(active.user_id)
        await uow.record(
            Change(
                "active_context.end",
                "active_context.ended",
                {
                    "user_id": active.user_id,
                    "hat_id": str(active.hat),
                    "cause": cause,
                    "reason": why,
                },
                decision,
            )
        )
        ended.append(active)
    return ended


# The actor of the endings the expiry sweeper records.
SWEEPER = "system:hat-expiry"
_SWEEP_BATCH = 500


class HatExpiry:
    """Ends hats past their expiry and records each ending in its tenant's audit trail.

    Reads already never show an expired hat (grounds are re-validated on every
    read); the sweep makes the ending a recorded change, at most one sweep
    interval after it happened.
    """

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def sweep(self) -> int:
        """End every expired hat (a batch per call); return how many ended."""
        expired = await self._store.expired_hats(_SWEEP_BATCH)
        by_tenant: dict[TenantId, list[str]] = {}
        for tenant, user in expired:
            by_tenant.setdefault(tenant, []).append(user)
        ended = 0
        for tenant, users in sorted(by_tenant.items()):
            context = ChangeContext(
                tenant=tenant,
                actor=SWEEPER,
                actor_tenant=PLATFORM_TENANT,
                correlation_id=f"hat-expiry-{secrets.token_hex(6)}",
            )

            async def work(uow: UnitOfWork, users: list[str] = users) -> int:
                found = await end_broken_hats(
                    uow, users, _SYSTEM_DECISION, "expired", self._clock.now()
                )
                return len(found)

            ended += await self._store.run(context, work)
        return ended


_SYSTEM_DECISION = Decision(True, ("system.hat-expiry",))


class Hats:
    """Factor evidence, eligible hats, the active hat and hat approvals of the request's tenant."""

    def __init__(self, guarded: Guarded) -> None:
        self._g = guarded
        self._clock = guarded.clock

    # ---- factor evidence --------------------------------------------------

    async def record_evidence(self, inv: Invocation, cmd: RecordFactorEvidence) -> RecordedEvidence:
        """Record factor evidence for a user with an account in the tenant (gateways only)."""
        user = parse_user_ref(cmd.user_id)
        if not _FACTOR_TYPE.fullmatch(cmd.factor_type):
            raise InvalidArgument.for_field("factor_type", "must match [a-z][a-z0-9_-]{0,31}")
        if cmd.assurance_level is AssuranceLevel.NONE:
            raise InvalidArgument.for_field("assurance_level", "is required (aal1..aal3)")
        now = self._clock.now()
        verified, expires = cmd.verified_at, cmd.expires_at
        if verified is None:
            raise InvalidArgument.for_field("verified_at", "is required")
        if expires is None:
            raise InvalidArgument.for_field("expires_at", "is required")
        if verified > now + _CLOCK_LEEWAY:
            raise InvalidArgument.for_field("verified_at", "is in the future")
        if expires <= verified:
            raise InvalidArgument.for_field("expires_at", "must be after verified_at")
        if expires <= now:
            raise InvalidArgument.for_field("expires_at", "is in the past")
        if expires - verified > _MAX_EVIDENCE_LIFETIME:
            raise InvalidArgument.for_field("expires_at", "at most 366 days after verified_at")
        issuer = check_text(cmd.issuer, field="issuer", max_length=MAX_DISPLAY_NAME)
        ref = parse_evidence_ref(cmd.evidence_ref)
        evidence = Evidence(_new_id("ev"), cmd.factor_type, cmd.assurance_level, verified, expires)

        async def execute(uow: UnitOfWork, allowed: Decision) -> RecordedEvidence:
            recorded = await uow.hats.record_evidence(
                evidence, user_id=user, issuer=issuer, evidence_ref=ref
            )
            await uow.record(
                Change(
                    cmd.action,
                    "factor_evidence.recorded",
                    {
                        "evidence_id": evidence.evidence_id,
                        "user_id": user,
                        "factor_type": evidence.factor_type,
                        "assurance_level": int(evidence.assurance_level),
                        "expires_at": expires,
                        "issuer": issuer,
                    },
                    allowed,
                    sensitive_values=frozenset({ref}),
                )
            )
            return recorded

        return await self._g.mutate(
            inv,
            cmd,
            Target("factor_evidence", user, inv.tenant, target_user=user),
            execute,
            result_type=RecordedEvidence,
        )

    # ---- eligibility ------------------------------------------------------

    async def list_eligible(
        self, inv: Invocation, user_id: str, scope_id: str
    ) -> list[EligibleHat]:
        """The hats the user could wear, each with every requirement it fails.

        Candidates: every access profile of the tenant and every platform
        template, on every scope at or below a scope where the user holds a
        relation (or on the one scope asked for), where the profile may be
        worn. More than 1000 candidates: RESOURCE_EXHAUSTED (narrow by scope).
        """
        user = parse_user_ref(user_id)
        only = str(parse_scope_ref(scope_id, tenant=inv.tenant)) if scope_id else ""

        async def read(uow: UnitOfWork) -> tuple[list[AccessProfile], Grounds]:
            return await uow.hats.visible_profiles(), await uow.hats.grounds(user, None)

        profiles, grounds = await self._g.read(
            inv,
            Action.TENANT_HAT_LIST_ELIGIBLE,
            Target("hat", user, inv.tenant, target_user=user),
            read,
        )
        if grounds.account_state is None:
            raise NotFound(f"{user} has no account in {inv.tenant}")
        tenant = str(inv.tenant)
        if only:
            if only != tenant and only not in grounds.parents:
                raise NotFound(f"{only} not found")
            scopes = [only]
        else:
            touched = {h.object for h in grounds.held}
            scopes = [
                s for s in [tenant, *sorted(grounds.parents)] if touched & set(grounds.chain(s))
            ]
        now = self._clock.now()
        found: list[EligibleHat] = []
        for profile in profiles:
            kinds = profile.definition.scope_kinds
            for scope in scopes:
                kind = ScopeKind(scope.split(":", 1)[0])
                if kinds and kind not in kinds:
                    continue
                hat = Hat(profile.access_profile_id, scope, kind)
                found.append(EligibleHat(hat, check_hat(profile.definition, hat, grounds, now)))
                if len(found) > _MAX_HATS:
                    raise ResourceExhausted(
                        f"more than {_MAX_HATS} candidate hats; ask for one scope (scope_id)"
                    )
        return sorted(found, key=lambda e: str(e.hat))

    # ---- the active hat ---------------------------------------------------

    async def select(self, inv: Invocation, cmd: SelectActiveHat) -> ActiveHat:
        """Put on a hat: fails closed unless every requirement holds in this transaction."""
        user = parse_user_ref(cmd.user_id)
        hat = parse_hat(cmd.hat_id, tenant=inv.tenant)

        async def execute(uow: UnitOfWork, allowed: Decision) -> ActiveHat:
            profile = await _hat_parts(uow, hat)
            grounds = await uow.hats.grounds(user, _anchors(hat, profile))
            if grounds.account_state is None:
                raise NotFound(f"{user} has no account in {inv.tenant}")
            now = self._clock.now()
            verdict = check_hat(profile.definition, hat, grounds, now)
            if not verdict.eligible:
                _refuse(verdict, hat)
            realm, service_area, asset = placement(hat, grounds)
            active = ActiveHat(
                user,
                hat,
                realm,
                service_area,
                asset,
                verdict.evidence_ids,
                verdict.approval_id,
                now,
                verdict.expires_at,
                tuple(sorted(grounds.parents.items())),
            )
            previous = await uow.hats.put_on(active)
            await uow.record(
                Change(
                    cmd.action,
                    "active_context.selected",
                    {
                        "user_id": user,
                        "hat_id": str(hat),
                        "access_profile_id": hat.access_profile_id,
                        "scope_id": hat.scope_id,
                        "realm_id": realm,
                        "service_area_id": service_area,
                        "asset_id": asset,
                        "evidence_ids": list(verdict.evidence_ids),
                        "approval_id": verdict.approval_id,
                        "expires_at": verdict.expires_at,
                        "previous_hat_id": str(previous.hat) if previous else "",
                    },
                    allowed,
                )
            )
            return active

        return await self._g.mutate(
            inv,
            cmd,
            Target("hat", str(hat), inv.tenant, target_user=user),
            execute,
            result_type=ActiveHat,
        )

    async def clear(self, inv: Invocation, cmd: ClearActiveHat) -> ClearResult:
        """Take off the user's hat (the user, a gateway, or a tenant admin)."""
        user = parse_user_ref(cmd.user_id)
        reason = check_text(cmd.reason, field="reason", max_length=MAX_REASON)

        async def execute(uow: UnitOfWork, allowed: Decision) -> ClearResult:
            previous = await uow.hats.take_off(user)
            if previous is None:
                return ClearResult(False)
            await uow.record(
                Change(
                    cmd.action,
                    "active_context.ended",
                    {
                        "user_id": user,
                        "hat_id": str(previous.hat),
                        "cause": "cleared",
                        "reason": reason,
                    },
                    allowed,
                )
            )
            return ClearResult(True)

        return await self._g.mutate(
            inv,
            cmd,
            Target("hat", user, inv.tenant, target_user=user),
            execute,
            result_type=ClearResult,
        )

    # ---- approvals --------------------------------------------------------

    async def request_approval(self, inv: Invocation, cmd: RequestHatApproval) -> Approval:
        """Ask for the approval a hat requires (pending for PENDING_WINDOW)."""
        user = parse_user_ref(cmd.user_id)
        hat = parse_hat(cmd.hat_id, tenant=inv.tenant)
        justification = check_text(cmd.justification, field="justification", max_length=MAX_REASON)
        if not justification.strip():
            raise InvalidArgument.for_field("justification", "is required")
        requested = cmd.requested_duration_s
        if requested is not None and requested <= 0:
            raise InvalidArgument.for_field("requested_duration", "must be positive")

        async def execute(uow: UnitOfWork, allowed: Decision) -> Approval:
            definition = (await _hat_parts(uow, hat)).definition
            if not definition.requires_approval:
                raise FailedPrecondition(f"{hat.access_profile_id} needs no approval")
            limit = definition.approval_limit_s
            if requested is not None and requested > limit:
                raise InvalidArgument.for_field(
                    "requested_duration", f"at most {limit:g} s for this access profile"
                )
            now = self._clock.now()
            approval = await uow.hats.insert_approval(
                Approval(
                    approval_id=_new_id("ap"),
                    user_id=user,
                    hat=str(hat),
                    justification=justification,
                    state=ApprovalState.PENDING,
                    decided_by="",
                    created_at=now,
                    decided_at=None,
                    expires_at=None,
                    requested_duration_s=requested or limit,
                    pending_until=now + PENDING_WINDOW,
                )
            )
            global_values, tenant_values = await uow.profiles.resolution_layers(user)
            secrets_of_user = frozenset(
                v.value for v in (*tenant_values, *global_values) if v.sensitive
            )
            await uow.record(
                Change(
                    cmd.action,
                    "hat_approval.requested",
                    {
                        "approval_id": approval.approval_id,
                        "user_id": user,
                        "hat_id": str(hat),
                        "justification": justification,
                        "requested_duration_s": approval.requested_duration_s,
                        "pending_until": approval.pending_until,
                    },
                    allowed,
                    sensitive_values=secrets_of_user,
                )
            )
            return approval

        return await self._g.mutate(
            inv,
            cmd,
            Target("hat_approval", str(hat), inv.tenant, target_user=user, approver=False),
            execute,
            result_type=Approval,
        )

    async def decide_approval(self, inv: Invocation, cmd: DecideHatApproval) -> Approval:
        """Approve or reject a pending approval: holders of the profile's approver relation
        on the hat's scope or above, never the requester (the policy decides on both)."""
        approval_id = parse_membership_id(cmd.approval_id, field="approval_id")
        if cmd.decision not in (ApprovalState.APPROVED, ApprovalState.REJECTED):
            raise InvalidArgument.for_field("decision", "must be APPROVED or REJECTED")
        if cmd.valid_for_s is not None and cmd.valid_for_s <= 0:
            raise InvalidArgument.for_field("valid_for", "must be positive")
        comment = check_text(cmd.comment, field="comment", max_length=MAX_REASON)
        actor = inv.actor.subject
        current: Approval | None = None

        async def target(uow: UnitOfWork) -> Target:
            # The approver fact is read in the command's transaction; the decision
            # never depends on whether the id exists (no existence oracle).
            nonlocal current
            current = await uow.hats.approval(approval_id)
            approver = False
            requester = ""
            if current is not None:
                requester = current.user_id
                hat = parse_hat(current.hat, tenant=inv.tenant)
                profile = await uow.access_profiles.get(hat.access_profile_id)
                relation = profile.definition.approver_relation if profile else ""
                if relation:
                    grounds = await uow.hats.grounds(actor, [hat.scope_id])
                    chain = set(grounds.chain(hat.scope_id))
                    approver = any(
                        h.relation == relation and h.object in chain for h in grounds.held
                    )
            return Target(
                "hat_approval",
                approval_id,
                inv.tenant,
                target_user=requester,
                approver=approver,
            )

        async def execute(uow: UnitOfWork, allowed: Decision) -> Approval:
            if current is None:
                raise NotFound(f"approval {approval_id} not found")
            check_etag(cmd.etag, etag_of(current.version))
            if current.state is not ApprovalState.PENDING:
                raise FailedPrecondition(f"approval {approval_id} is {current.state.value}")
            requested = current.requested_duration_s or 0.0
            valid_for = cmd.valid_for_s if cmd.valid_for_s is not None else requested
            if valid_for > requested:
                raise InvalidArgument.for_field(
                    "valid_for", f"at most the requested {requested:g} s"
                )
            now = self._clock.now()
            approved = cmd.decision is ApprovalState.APPROVED
            decided = await uow.hats.decide_approval(
                approval_id,
                state=cmd.decision,
                decided_by=actor,
                expires_at=now + dt.timedelta(seconds=valid_for) if approved else None,
                comment=comment,
                expected_version=current.version,
            )
            if decided is None:
                raise Aborted(
                    f"approval {approval_id} changed concurrently",
                    reason=ErrorReason.ETAG_MISMATCH,
                )
            await uow.record(
                Change(
                    cmd.action,
                    "hat_approval.decided",
                    {
                        "approval_id": approval_id,
                        "user_id": current.user_id,
                        "hat_id": current.hat,
                        "decision": cmd.decision.value,
                        "expires_at": decided.expires_at,
                        "comment": comment,
                    },
                    allowed,
                )
            )
            return decided

        return await self._g.mutate(inv, cmd, target, execute, result_type=Approval)
