"""Access-profile templates: create and list (tenant profiles and platform templates)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from identity_context.application.actions import Action
from identity_context.application.guarded import Guarded, Target
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import Page, PageRequest
from identity_context.application.ports import UnitOfWork
from identity_context.domain.changes import Change, Decision
from identity_context.domain.directory import AccessProfile
from identity_context.domain.errors import ErrorReason, InvalidArgument
from identity_context.domain.identifiers import PLATFORM_TENANT, TenantId, parse_profile_ref

__all__ = ["AccessProfiles"]


class AccessProfiles:
    """Access profiles of the request's tenant; ``profile:platform/*`` are platform templates."""

    def __init__(self, guarded: Guarded) -> None:
        self._g = guarded

    async def create(
        self,
        inv: Invocation,
        access_profile_id: str,
        display_name: str,
        definition: Mapping[str, Any],
    ) -> AccessProfile:
        """Create a profile. A platform template is a platform-root resource."""
        ref = parse_profile_ref(access_profile_id)
        slug = ref.split(":", 1)[1].split("/", 1)[0]
        home = PLATFORM_TENANT if slug == PLATFORM_TENANT.slug else TenantId(slug)
        target = Target("access_profile", ref, home)
        # The boundary is decided on where the profile lives, before the header
        # is compared, so a platform template is refused as platform-root.
        decision = await self._g.authorize(inv, Action.TENANT_ACCESS_PROFILE_CREATE, target)
        if home != inv.tenant:
            raise InvalidArgument.for_field(
                "access_profile.access_profile_id",
                f"belongs to {home}, not {inv.tenant}",
                reason=ErrorReason.CROSS_TENANT_DENIED,
            )
        profile = AccessProfile(ref, display_name, dict(definition))

        async def execute(uow: UnitOfWork, allowed: Decision) -> AccessProfile:
            created = await uow.access_profiles.insert(profile)
            await uow.record(
                Change(
                    Action.TENANT_ACCESS_PROFILE_CREATE,
                    "access_profile.created",
                    {"access_profile_id": ref, "display_name": display_name},
                    allowed,
                )
            )
            return created

        return await self._g.mutate(
            inv,
            Action.TENANT_ACCESS_PROFILE_CREATE,
            target,
            command=(ref, display_name, dict(definition)),
            result_type=AccessProfile,
            execute=execute,
            decision=decision,
        )

    async def list(self, inv: Invocation, page_size: int, page_token: str) -> Page[AccessProfile]:
        """List the tenant's access profiles."""
        page = PageRequest.parse(inv.tenant, page_size, page_token, "access_profiles")

        return await self._g.page(
            inv,
            Action.TENANT_ACCESS_PROFILE_LIST,
            Target("access_profile", "*", inv.tenant),
            request=page,
            key="access_profile_id",
            fetch=lambda uow, after, limit: uow.access_profiles.list(after=after, limit=limit),
        )
