"""Profile values: the GLOBAL (platform) and TENANT layers, and the resolved profile."""

from __future__ import annotations

from dataclasses import dataclass

from identity_context.application.actions import Action
from identity_context.application.authorization import Target
from identity_context.application.commands import SetProfileValues
from identity_context.application.guarded import Guarded
from identity_context.application.invocation import Invocation
from identity_context.application.ports import UnitOfWork
from identity_context.domain.changes import REDACTED, Change, Decision
from identity_context.domain.directory import (
    PROFILE_KEY,
    ProfileLayer,
    ProfileValue,
    ResolvedValue,
    resolve_profile,
)
from identity_context.domain.errors import FieldViolation, InvalidArgument, NotFound
from identity_context.domain.identifiers import (
    PLATFORM_TENANT,
    TenantId,
    parse_profile_ref,
    parse_user_ref,
)
from identity_context.domain.tenancy import check_etag
from identity_context.domain.text import MAX_PROFILE_VALUE, check_text

__all__ = ["MAX_VALUES_PER_REQUEST", "ProfileUpdate", "Profiles", "ResolvedProfile"]

MAX_VALUES_PER_REQUEST = 100


@dataclass(frozen=True, slots=True)
class ProfileUpdate:
    """The layer after SetProfileValues."""

    values: tuple[ProfileValue, ...]
    etag: str


@dataclass(frozen=True, slots=True)
class ResolvedProfile:
    """The resolved profile of a user."""

    values: tuple[ResolvedValue, ...]


def _violations(cmd: SetProfileValues, tenant: TenantId) -> list[FieldViolation]:
    bad: list[FieldViolation] = []
    if len(cmd.values) > MAX_VALUES_PER_REQUEST:
        bad.append(FieldViolation("values", f"at most {MAX_VALUES_PER_REQUEST} values"))
    if len(cmd.remove_keys) > MAX_VALUES_PER_REQUEST:
        bad.append(FieldViolation("remove_keys", f"at most {MAX_VALUES_PER_REQUEST} keys"))
    for i, value in enumerate(cmd.values):
        if not PROFILE_KEY.fullmatch(value.key):
            bad.append(FieldViolation(f"values[{i}].key", "must match [a-z][a-z0-9_.-]{0,63}"))
        try:
            check_text(value.value, field=f"values[{i}].value", max_length=MAX_PROFILE_VALUE)
        except InvalidArgument as error:
            bad.extend(error.violations)
    keys = [v.key for v in cmd.values]
    if len(set(keys)) != len(keys):
        bad.append(FieldViolation("values", "sets a key twice"))
    bad += [
        FieldViolation(f"remove_keys[{i}]", "is not a profile key")
        for i, key in enumerate(cmd.remove_keys)
        if not PROFILE_KEY.fullmatch(key)
    ]
    if cmd.layer is ProfileLayer.ACCESS_PROFILE_DEFAULT:
        bad.append(FieldViolation("layer", "must be GLOBAL or TENANT"))
    if cmd.layer is ProfileLayer.TENANT and tenant.is_platform:
        bad.append(FieldViolation("layer", "tenant:platform's layer is GLOBAL"))
    return bad


class Profiles:
    """Write profile values and resolve a user's profile."""

    def __init__(self, guarded: Guarded) -> None:
        self._g = guarded

    async def set_values(self, inv: Invocation, cmd: SetProfileValues) -> ProfileUpdate:
        """Write values of one user in the GLOBAL (platform) or TENANT layer."""
        user = parse_user_ref(cmd.user_id)
        violations = _violations(cmd, inv.tenant)
        if violations:
            raise InvalidArgument("invalid profile values", violations=violations)
        is_global = cmd.layer is ProfileLayer.GLOBAL
        home = PLATFORM_TENANT if is_global else inv.tenant
        action = cmd.layer_action
        written = {v.key for v in cmd.values}

        async def execute(uow: UnitOfWork, allowed: Decision) -> ProfileUpdate:
            if not is_global and await uow.accounts.get(user) is None:
                raise NotFound(f"{user} has no account in {inv.tenant}")
            check_etag(cmd.etag, await uow.profiles.version(user))
            await uow.profiles.upsert(user, {v.key: (v.value, v.sensitive) for v in cmd.values})
            removed = [k for k in cmd.remove_keys if k not in written]
            if removed:
                await uow.profiles.remove(user, removed)
            await uow.record(
                Change(
                    action,
                    "profile_values.set",
                    {
                        "user_id": user,
                        "layer": cmd.layer.value,
                        "profile_values": {v.key: v.value for v in cmd.values},
                        "removed_keys": removed,
                    },
                    allowed,
                    sensitive_values=frozenset(v.value for v in cmd.values if v.sensitive),
                    target_tenant=inv.tenant,
                )
            )
            return ProfileUpdate(
                tuple(await uow.profiles.values(user)), await uow.profiles.version(user)
            )

        return await self._g.mutate(
            inv,
            cmd,
            Target("profile_values", user, home, target_user=user, layer=cmd.layer.value),
            execute,
            result_type=ProfileUpdate,
            action=action,
            tenant=home,
        )

    async def resolve(
        self, inv: Invocation, user_id: str, access_profile_id: str
    ) -> ResolvedProfile:
        """Resolve defaults < GLOBAL < TENANT; sensitive values only for the user themself."""
        user = parse_user_ref(user_id)
        profile_ref = (
            parse_profile_ref(access_profile_id, field="access_profile_id")
            if access_profile_id
            else ""
        )
        if profile_ref:
            slug = profile_ref.split(":", 1)[1].split("/", 1)[0]
            if slug not in (inv.tenant.slug, PLATFORM_TENANT.slug):
                raise NotFound(f"{profile_ref} not found")

        async def read(uow: UnitOfWork) -> list[ResolvedValue]:
            if await uow.accounts.get(user) is None:
                raise NotFound(f"{user} has no account in {inv.tenant}")
            global_values, tenant_values = await uow.profiles.resolution_layers(user)
            defaults: dict[str, str] = {}
            if profile_ref:
                found = await uow.access_profiles.get(profile_ref)
                if found is None:
                    raise NotFound(f"{profile_ref} not found")
                defaults = found.profile_defaults
            return resolve_profile(defaults, global_values, tenant_values)

        resolved = await self._g.read(
            inv,
            Action.TENANT_PROFILE_READ,
            Target("profile_values", user, inv.tenant, target_user=user, layer="resolved"),
            read,
        )
        if inv.actor.subject != user:
            resolved = [
                ResolvedValue(r.key, REDACTED, r.source_layer, True) if r.sensitive else r
                for r in resolved
            ]
        return ResolvedProfile(tuple(resolved))
