"""Access-profile templates: create and list (tenant profiles and platform templates)."""

from __future__ import annotations

from identity_context.application.actions import Action
from identity_context.application.authorization import Target
from identity_context.application.commands import CreateAccessProfile
from identity_context.application.guarded import Guarded
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import Page
from identity_context.application.ports import UnitOfWork
from identity_context.domain.changes import Change, Decision
from identity_context.domain.directory import AccessProfile
from identity_context.domain.errors import ErrorReason, InvalidArgument
from identity_context.domain.identifiers import PLATFORM_TENANT, TenantId, parse_profile_ref
from identity_context.domain.text import MAX_DISPLAY_NAME, check_text

__all__ = ["AccessProfiles"]

_FIELD = "access_profile"


class AccessProfiles:
    """Access profiles of the request's tenant; ``profile:platform/*`` are platform templates."""

    def __init__(self, guarded: Guarded) -> None:
        self._g = guarded

    async def create(self, inv: Invocation, cmd: CreateAccessProfile) -> AccessProfile:
        """Create a profile. A platform template is a platform-root resource.

        Every identifier of the definition is checked and bound to the tenant
        the profile lives in; a reference to another tenant is refused.
        """
        ref = parse_profile_ref(cmd.access_profile_id, field=f"{_FIELD}.access_profile_id")
        slug = ref.split(":", 1)[1].split("/", 1)[0]
        home = PLATFORM_TENANT if slug == PLATFORM_TENANT.slug else TenantId(slug)
        display_name = check_text(
            cmd.display_name, field=f"{_FIELD}.display_name", max_length=MAX_DISPLAY_NAME
        )
        cmd.definition.validate(home, field=_FIELD)
        profile = AccessProfile(ref, display_name, cmd.definition)

        def require() -> None:
            # Decided on where the profile lives before the header is compared,
            # so a platform template is refused as platform-root.
            if home != inv.tenant:
                raise InvalidArgument.for_field(
                    f"{_FIELD}.access_profile_id",
                    f"belongs to {home}, not {inv.tenant}",
                    reason=ErrorReason.CROSS_TENANT_DENIED,
                )

        async def execute(uow: UnitOfWork, allowed: Decision) -> AccessProfile:
            created = await uow.access_profiles.insert(profile)
            await uow.record(
                Change(
                    cmd.action,
                    "access_profile.created",
                    {"access_profile_id": ref, "display_name": display_name},
                    allowed,
                )
            )
            return created

        return await self._g.mutate(
            inv,
            cmd,
            Target("access_profile", ref, home),
            execute,
            result_type=AccessProfile,
            require=require,
        )

    async def list(self, inv: Invocation, page_size: int, page_token: str) -> Page[AccessProfile]:
        """List the tenant's access profiles."""
        page = self._g.pages.parse(inv.tenant, "access_profiles", page_size, page_token)
        return await self._g.page(
            inv,
            Action.TENANT_ACCESS_PROFILE_LIST,
            Target("access_profile", "*", inv.tenant),
            request=page,
            key="access_profile_id",
            fetch=lambda uow, after, limit: uow.access_profiles.list(after=after, limit=limit),
        )
