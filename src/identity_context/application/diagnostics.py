"""Tenant onboarding diagnostics: every check, its finding and its remedy (seed task T7)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from identity_context.application.actions import Action
from identity_context.application.audit_trail import verify_stored_chain
from identity_context.application.authorization import Target
from identity_context.application.guarded import Guarded
from identity_context.application.invocation import Invocation
from identity_context.application.ports import UnitOfWork
from identity_context.domain.diagnostics import Check, CheckStatus, Report
from identity_context.domain.directory import AccessProfile
from identity_context.domain.identifiers import TenantId
from identity_context.domain.roles import (
    PLATFORM_OPERATOR,
    PLATFORM_PLANE_RELATIONS,
    TENANT_ADMIN,
)
from identity_context.domain.tenancy import AccountState, TenantState

__all__ = ["OUTBOX_STALL", "Diagnostics", "PolicyProbe", "run_checks"]

# An outbox event older than this that no consumer has read is a stalled outbox.
OUTBOX_STALL = dt.timedelta(minutes=15)
_PAGE = 1000
PASS, WARN, FAIL = CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL
# Asks the policy engine a question for the tenant; returns why it gave no answer.
PolicyProbe = Callable[[TenantId], Awaitable[str | None]]


class Diagnostics:
    """DiagnoseTenant: platform operators any tenant, tenant admins their own."""

    def __init__(self, guarded: Guarded) -> None:
        self._g = guarded

    async def diagnose(self, inv: Invocation, *, now: dt.datetime | None = None) -> Report:
        """Run every check for the request's tenant in one transaction (read, and a write
        probe that is rolled back)."""
        moment = now or dt.datetime.now(dt.UTC)

        async def checks(uow: UnitOfWork) -> Report:
            return await run_checks(uow, self._g.authorizer.probe, moment)

        return await self._g.read(
            inv,
            Action.TENANT_DIAGNOSE,
            Target("tenant", str(inv.tenant), inv.tenant),
            checks,
            writable=True,
        )


async def run_checks(uow: UnitOfWork, probe: PolicyProbe, now: dt.datetime) -> Report:
    """Every check of the unit of work's tenant, in a stable order."""
    tenant_id = uow.context.tenant
    tenant = await uow.tenants.get()
    if tenant is None:
        missing = Check(
            "tenant.active",
            FAIL,
            f"{tenant_id} does not exist",
            "create it: TenantAdminService/CreateTenant (platform operator)",
        )
        return Report(str(tenant_id), (missing,))
    checks = [_tenant_state(tenant_id, tenant.state)]
    diag = uow.diagnostics
    scopes = await diag.scope_ids()
    if tenant_id.is_platform:
        checks.append(Check("applications.required_bound", PASS, "the platform plane binds none"))
    else:
        checks += await _applications(uow, tenant_id, scopes)
    checks.append(await _administration(uow, tenant_id))
    checks += await _policy(uow, tenant_id, probe)
    checks.append(await _access_profiles(uow, tenant_id, scopes))
    checks += await _audit(uow, tenant.last_seq, now)
    checks.append(await _write_probe(uow))
    return Report(str(tenant_id), tuple(checks))


def _tenant_state(tenant_id: TenantId, state: TenantState) -> Check:
    if state is TenantState.ACTIVE:
        return Check("tenant.active", PASS, f"{tenant_id} is active")
    return Check(
        "tenant.active",
        FAIL,
        f"{tenant_id} is {state.value}: it is read-only for its admins",
        "TenantAdminService/SetTenantState to TENANT_STATE_ACTIVE (platform operator)",
    )


async def _applications(uow: UnitOfWork, tenant_id: TenantId, scopes: set[str]) -> list[Check]:
    catalog = await uow.diagnostics.catalog()
    bound = await uow.diagnostics.bound_applications()
    missing = [e.application_id for e in catalog if e.required and e.application_id not in bound]
    required = Check(
        "applications.required_bound",
        FAIL if missing else PASS,
        f"required applications not bound: {', '.join(missing)}"
        if missing
        else f"every required application is bound ({len(bound)} bound)",
        "TenantAdminService/BindApplication "
        + ", ".join(f'{{"application_id": "{app}"}}' for app in missing)
        + " (platform operator)"
        if missing
        else "",
    )
    absent = [
        f"{entry.application_id} needs {kind}:{tenant_id.slug}/{path}"
        for entry in catalog
        if entry.application_id in bound
        for kind, _, path in (template.partition(":") for template in entry.required_scopes)
        if f"{kind}:{tenant_id.slug}/{path}" not in scopes
    ]
    needed = Check(
        "applications.scopes",
        FAIL if absent else PASS,
        "; ".join(absent) if absent else "every bound application has the scopes it needs",
        "MembershipService/CreateScope for each scope named" if absent else "",
    )
    return [required, needed]


async def _administration(uow: UnitOfWork, tenant_id: TenantId) -> Check:
    relation = PLATFORM_OPERATOR if tenant_id.is_platform else TENANT_ADMIN
    holders = await uow.diagnostics.holders(relation)
    active = [user for user, state in holders if state is AccountState.ACTIVE]
    inactive = [
        f"{user} ({state.value if state else 'no account'})"
        for user, state in holders
        if state is not AccountState.ACTIVE
    ]
    grant = (
        "identity-context bootstrap-platform --operator user:<id>"
        if tenant_id.is_platform
        else "TenantAdminService/UpsertTenantUser with ACCOUNT_STATE_ACTIVE, then"
        f' MembershipService/GrantMembership {{"relation": "{relation}", "object": "{tenant_id}"}}'
        " (platform operator)"
    )
    if not active:
        return Check(
            "administration.admins",
            FAIL,
            f"no active {relation} in {tenant_id}"
            + (f"; holders without an active account: {', '.join(inactive)}" if inactive else ""),
            grant,
        )
    if inactive:
        return Check(
            "administration.admins",
            WARN,
            f"{len(active)} active {relation}(s); not active: {', '.join(inactive)}",
            "TenantAdminService/SetAccountState to ACCOUNT_STATE_ACTIVE, or"
            " MembershipService/RevokeMembership of their grant",
        )
    return Check("administration.admins", PASS, f"{len(active)} active {relation}(s)")


async def _policy(uow: UnitOfWork, tenant_id: TenantId, probe: PolicyProbe) -> list[Check]:
    relations = await uow.diagnostics.relations()
    problems: list[str] = []
    status = PASS
    if not tenant_id.is_platform:
        reserved = sorted({r for r, _ in relations if r in PLATFORM_PLANE_RELATIONS})
        if reserved:
            status = FAIL
            problems.append(
                f"platform relations granted inside a tenant: {', '.join(reserved)}"
                " (they count only on tenant:platform)"
            )
    on_scopes = sorted({o for r, o in relations if r == TENANT_ADMIN and o != str(tenant_id)})
    if on_scopes:
        status = max(status, WARN)
        problems.append(
            f"{TENANT_ADMIN} granted on scopes, where it has no effect: " + ", ".join(on_scopes)
        )
    bindings = Check(
        "policy.relations",
        status,
        "; ".join(problems)
        or f"{len(relations)} relation grant(s); the policies' relations are held where they count",
        "MembershipService/RevokeMembership of the grants named" if problems else "",
    )
    unavailable = await probe(tenant_id)
    engine = Check(
        "policy.engine",
        FAIL if unavailable else PASS,
        f"the authorization engine gave no answer: {unavailable}"
        if unavailable
        else "the authorization engine answers for this tenant",
        "check IDENTITY_CONTEXT_AUTHZ and the engine (IDENTITY_CONTEXT_AUTHZEN_URL)"
        if unavailable
        else "",
    )
    return [bindings, engine]


async def _access_profiles(uow: UnitOfWork, tenant_id: TenantId, scopes: set[str]) -> Check:
    profiles: list[AccessProfile] = []
    after = ""
    while True:  # every profile of the tenant, a page at a time
        page = await uow.access_profiles.list(after=after, limit=_PAGE)
        profiles += page
        if len(page) < _PAGE:
            break
        after = page[-1].access_profile_id
    if not profiles:
        return Check("access_profiles.requirements", PASS, "no access profiles")
    held = {relation for relation, _ in await uow.diagnostics.relations()}
    missing_scopes, unheld = [], []
    for profile in profiles:
        for requirement in profile.definition.membership_requirements:
            target = requirement.object
            if target and target != str(tenant_id) and target not in scopes:
                missing_scopes.append(f"{profile.access_profile_id} -> {target}")
            if requirement.relation not in held:
                unheld.append(f"{profile.access_profile_id} needs {requirement.relation}")
    if missing_scopes:
        return Check(
            "access_profiles.requirements",
            FAIL,
            "profiles refer to missing scopes: " + "; ".join(missing_scopes),
            "MembershipService/CreateScope for each scope, or recreate the profile",
        )
    if unheld:
        return Check(
            "access_profiles.requirements",
            WARN,
            "relations nobody holds, so nobody can wear the hat: " + "; ".join(unheld),
            "MembershipService/GrantMembership of the relations named",
        )
    return Check(
        "access_profiles.requirements",
        PASS,
        f"{len(profiles)} profile(s); every requirement can be met",
    )


async def _audit(uow: UnitOfWork, last_seq: int, now: dt.datetime) -> list[Check]:
    chain = await verify_stored_chain(uow, last_seq)
    audit = (
        Check("audit.chain", PASS, f"{chain.records_checked} record(s), hash chain intact")
        if chain.valid
        else Check(
            "audit.chain",
            FAIL,
            f"the hash chain breaks at seq {chain.first_invalid_seq}: {chain.problem}",
            "treat as tampering: compare with a backup and investigate who changed the rows",
        )
    )
    oldest = await uow.diagnostics.oldest_unconsumed()
    lag = now - oldest if oldest is not None else None
    outbox = (
        Check(
            "audit.outbox",
            WARN,
            f"the oldest unconsumed change is {int(lag.total_seconds())} s old"
            f" (more than {int(OUTBOX_STALL.total_seconds())} s)",
            "check the consumers of the change stream (FactExportService/WatchFacts)",
        )
        if lag is not None and lag > OUTBOX_STALL
        else Check("audit.outbox", PASS, "the outbox is consumed or recent")
    )
    return [audit, outbox]


async def _write_probe(uow: UnitOfWork) -> Check:
    try:
        await uow.diagnostics.write_probe()
    except Exception as exc:  # any failure is the finding
        return Check(
            "store.write",
            FAIL,
            f"a write in this tenant failed: {type(exc).__name__}",
            "check the runtime role's grants and that the database is not read-only",
        )
    return Check("store.write", PASS, "a write probe (rolled back) succeeded")
