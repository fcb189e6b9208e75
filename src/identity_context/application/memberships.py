"""Use cases of MembershipService: scopes, groups, group members and memberships."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from identity_context.application.actions import Action
from identity_context.application.authorization import Target
from identity_context.application.commands import (
    AddGroupMember,
    CreateGroup,
    CreateScope,
    GrantMembership,
    RemoveGroupMember,
    RevokeMembership,
)
from identity_context.application.guarded import Guarded
from identity_context.application.hats import end_broken_hats
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import Page
from identity_context.application.ports import UnitOfWork
from identity_context.domain.changes import Change, Decision
from identity_context.domain.directory import (
    Group,
    GroupMember,
    Membership,
    MembershipState,
    Scope,
)
from identity_context.domain.errors import (
    Aborted,
    ErrorReason,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from identity_context.domain.identifiers import (
    ScopeKind,
    parse_group_ref,
    parse_membership_id,
    parse_relation,
    parse_scope_ref,
    parse_service_ref,
    parse_user_ref,
)
from identity_context.domain.roles import FACT_RELATIONS
from identity_context.domain.tenancy import check_etag
from identity_context.domain.text import MAX_DISPLAY_NAME, MAX_REASON, check_text

__all__ = ["MembershipAdministration", "RemoveResult"]

_PARENT_KIND = {
    ScopeKind.REALM: ScopeKind.TENANT,
    ScopeKind.SERVICE_AREA: ScopeKind.REALM,
    ScopeKind.ASSET: ScopeKind.SERVICE_AREA,
}


def _new_membership_id() -> str:
    # Time-ordered (fixed-width hex microseconds) so id order is grant order.
    return f"m{int(time.time() * 1_000_000):014x}{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class RemoveResult:
    """Whether RemoveGroupMember removed anything."""

    removed: bool


class MembershipAdministration:
    """Scopes, groups and memberships of the request's tenant."""

    def __init__(self, guarded: Guarded) -> None:
        self._g = guarded

    # ---- scopes -----------------------------------------------------------

    async def create_scope(self, inv: Invocation, cmd: CreateScope) -> Scope:
        """Create a realm (under the tenant), service area (under a realm) or asset."""
        scope = parse_scope_ref(cmd.scope_id, tenant=inv.tenant)
        if scope.kind is ScopeKind.TENANT:
            raise InvalidArgument.for_field("scope_id", "the tenant itself is not created")
        parent = parse_scope_ref(
            cmd.parent_scope_id or str(inv.tenant), tenant=inv.tenant, field="parent_scope_id"
        )
        if parent.kind is not _PARENT_KIND[scope.kind]:
            raise InvalidArgument.for_field(
                "parent_scope_id",
                f"a {scope.kind.value} scope needs a {_PARENT_KIND[scope.kind].value} parent",
            )
        display_name = check_text(
            cmd.display_name, field="display_name", max_length=MAX_DISPLAY_NAME
        )

        async def execute(uow: UnitOfWork, allowed: Decision) -> Scope:
            parent_key = None if parent.kind is ScopeKind.TENANT else str(parent)
            created = await uow.scopes.insert(str(scope), scope.kind, parent_key, display_name)
            await uow.record(
                Change(
                    cmd.action,
                    "scope.created",
                    {
                        "scope_id": str(scope),
                        "kind": scope.kind.value,
                        "parent_scope_id": str(parent),
                        "display_name": display_name,
                    },
                    allowed,
                )
            )
            return created

        return await self._g.mutate(
            inv, cmd, Target("scope", str(scope), inv.tenant), execute, result_type=Scope
        )

    async def list_scopes(
        self,
        inv: Invocation,
        page_size: int,
        page_token: str,
        parent_scope_id: str,
        kind: ScopeKind | None,
    ) -> Page[Scope]:
        """List scopes, optionally the children of one scope or one kind."""
        parent = (
            str(parse_scope_ref(parent_scope_id, tenant=inv.tenant, field="parent_scope_id"))
            if parent_scope_id
            else None
        )
        page = self._g.pages.parse(inv.tenant, "scopes", page_size, page_token, parent, kind)
        return await self._g.page(
            inv,
            Action.TENANT_SCOPE_LIST,
            Target("scope", "*", inv.tenant),
            request=page,
            key="scope_id",
            fetch=lambda uow, after, limit: uow.scopes.list(
                after=after, parent=parent, kind=kind, limit=limit
            ),
        )

    # ---- groups -----------------------------------------------------------

    async def create_group(self, inv: Invocation, cmd: CreateGroup) -> Group:
        """Create a group."""
        group = parse_group_ref(cmd.group_id, tenant=inv.tenant)
        display_name = check_text(
            cmd.display_name, field="display_name", max_length=MAX_DISPLAY_NAME
        )

        async def execute(uow: UnitOfWork, allowed: Decision) -> Group:
            created = await uow.groups.insert(group, display_name)
            await uow.record(
                Change(
                    cmd.action,
                    "group.created",
                    {"group_id": group, "display_name": display_name},
                    allowed,
                )
            )
            return created

        return await self._g.mutate(
            inv, cmd, Target("group", group, inv.tenant), execute, result_type=Group
        )

    async def list_groups(self, inv: Invocation, page_size: int, page_token: str) -> Page[Group]:
        """List groups with their member counts."""
        page = self._g.pages.parse(inv.tenant, "groups", page_size, page_token)
        return await self._g.page(
            inv,
            Action.TENANT_GROUP_LIST,
            Target("group", "*", inv.tenant),
            request=page,
            key="group_id",
            fetch=lambda uow, after, limit: uow.groups.list(after=after, limit=limit),
        )

    async def add_group_member(self, inv: Invocation, cmd: AddGroupMember) -> GroupMember:
        """Add a user (with an account in the tenant) to a group."""
        group = parse_group_ref(cmd.group_id, tenant=inv.tenant)
        user = parse_user_ref(cmd.user_id)

        async def execute(uow: UnitOfWork, allowed: Decision) -> GroupMember:
            member = await uow.groups.add_member(group, user)
            await uow.record(
                Change(
                    cmd.action,
                    "group_member.added",
                    {"group_id": group, "user_id": user},
                    allowed,
                )
            )
            return member

        return await self._g.mutate(
            inv,
            cmd,
            Target("group_member", f"{group}#{user}", inv.tenant, target_user=user),
            execute,
            result_type=GroupMember,
        )

    async def remove_group_member(self, inv: Invocation, cmd: RemoveGroupMember) -> RemoveResult:
        """Remove a user from a group; removing a non-member changes nothing."""
        group = parse_group_ref(cmd.group_id, tenant=inv.tenant)
        user = parse_user_ref(cmd.user_id)

        async def execute(uow: UnitOfWork, allowed: Decision) -> RemoveResult:
            if not await uow.groups.exists(group):
                raise NotFound(f"{group} not found")
            removed = await uow.groups.remove_member(group, user)
            if removed:
                await uow.record(
                    Change(
                        cmd.action,
                        "group_member.removed",
                        {"group_id": group, "user_id": user},
                        allowed,
                    )
                )
                await end_broken_hats(
                    uow, [user], allowed, "group_member.removed", self._g.clock.now()
                )
            return RemoveResult(removed)

        return await self._g.mutate(
            inv,
            cmd,
            Target("group_member", f"{group}#{user}", inv.tenant, target_user=user),
            execute,
            result_type=RemoveResult,
        )

    async def list_group_members(
        self, inv: Invocation, group_id: str, page_size: int, page_token: str
    ) -> Page[GroupMember]:
        """List a group's members."""
        group = parse_group_ref(group_id, tenant=inv.tenant)
        page = self._g.pages.parse(inv.tenant, "members", page_size, page_token, group)

        async def read(uow: UnitOfWork) -> list[GroupMember] | None:
            if not await uow.groups.exists(group):
                return None
            return list(await uow.groups.members(group, after=page.after, limit=page.size + 1))

        rows = await self._g.read(
            inv,
            Action.TENANT_GROUP_MEMBER_LIST,
            Target("group_member", f"{group}#*", inv.tenant),
            read,
        )
        if rows is None:
            raise NotFound(f"{group} not found")
        return page.page(rows, "user_id")

    # ---- memberships ------------------------------------------------------

    def _subject(self, inv: Invocation, subject: str) -> str:
        if subject.startswith("group:"):
            return parse_group_ref(subject, tenant=inv.tenant, field="subject")
        if subject.startswith("service:"):
            return parse_service_ref(subject, field="subject")
        return parse_user_ref(subject, field="subject")

    async def grant_membership(self, inv: Invocation, cmd: GrantMembership) -> Membership:
        """Grant *subject* the *relation* on *object* (the tenant or one of its scopes)."""
        who = self._subject(inv, cmd.subject)
        relation = parse_relation(cmd.relation)
        if relation in FACT_RELATIONS:
            raise InvalidArgument.for_field(
                "relation", f"{relation!r} is reserved for derived access-control facts"
            )
        what = str(parse_scope_ref(cmd.object, tenant=inv.tenant, field="object"))
        valid_from, valid_until = cmd.valid_from, cmd.valid_until
        if valid_from and valid_until and valid_until <= valid_from:
            raise InvalidArgument.for_field("valid_until", "must be after valid_from")
        target = Target(
            "membership", f"{who}#{relation}@{what}", inv.tenant, relation=relation, subject=who
        )

        async def execute(uow: UnitOfWork, allowed: Decision) -> Membership:
            granted = await uow.memberships.insert(
                _new_membership_id(),
                subject=who,
                relation=relation,
                object_=what,
                valid_from=valid_from,
                valid_until=valid_until,
            )
            await uow.record(
                Change(
                    cmd.action,
                    "membership.granted",
                    {
                        "membership_id": granted.membership_id,
                        "subject": who,
                        "relation": relation,
                        "object": what,
                        "valid_from": valid_from,
                        "valid_until": valid_until,
                    },
                    allowed,
                )
            )
            return granted

        return await self._g.mutate(inv, cmd, target, execute, result_type=Membership)

    async def revoke_membership(self, inv: Invocation, cmd: RevokeMembership) -> Membership:
        """Revoke a membership; its relation and subject take part in the authorization."""
        membership_id = parse_membership_id(cmd.membership_id)
        reason = check_text(cmd.reason, field="reason", max_length=MAX_REASON)
        current: Membership | None = None

        async def target(uow: UnitOfWork) -> Target:
            # Read in the command's transaction so the relation is part of the
            # decision; the decision never depends on whether the id exists,
            # so it is no existence oracle.
            nonlocal current
            current = await uow.memberships.get(membership_id)
            return Target(
                "membership",
                membership_id,
                inv.tenant,
                relation=current.relation if current else "",
                subject=current.subject if current else "",
            )

        async def execute(uow: UnitOfWork, allowed: Decision) -> Membership:
            if current is None:
                raise NotFound(f"membership {membership_id} not found")
            check_etag(cmd.etag, current.etag)
            if current.state is MembershipState.REVOKED:
                raise FailedPrecondition(f"membership {membership_id} is already revoked")
            revoked = await uow.memberships.revoke(membership_id, current.version)
            if revoked is None:
                raise Aborted(
                    f"membership {membership_id} changed concurrently",
                    reason=ErrorReason.ETAG_MISMATCH,
                )
            await uow.record(
                Change(
                    cmd.action,
                    "membership.revoked",
                    {
                        "membership_id": membership_id,
                        "subject": current.subject,
                        "relation": current.relation,
                        "object": current.object,
                        "reason": reason,
                    },
                    allowed,
                )
            )
            subject = current.subject
            wearers = (
                [subject]
                if subject.startswith("user:")
                else await uow.hats.group_members(subject)
                if subject.startswith("group:")
                else []
            )
            await end_broken_hats(uow, wearers, allowed, "membership.revoked", self._g.clock.now())
            return revoked

        return await self._g.mutate(inv, cmd, target, execute, result_type=Membership)

    async def list_memberships(
        self,
        inv: Invocation,
        *,
        subject: str,
        object_: str,
        relation: str,
        state: MembershipState | None,
        page_size: int,
        page_token: str,
    ) -> Page[Membership]:
        """List memberships filtered by subject, object, relation and state (default active)."""
        who = self._subject(inv, subject) if subject else ""
        what = str(parse_scope_ref(object_, tenant=inv.tenant, field="object")) if object_ else ""
        if relation:
            parse_relation(relation)
        wanted = state or MembershipState.ACTIVE
        page = self._g.pages.parse(
            inv.tenant, "memberships", page_size, page_token, who, what, relation, wanted
        )
        return await self._g.page(
            inv,
            Action.TENANT_MEMBERSHIP_LIST,
            Target("membership", "*", inv.tenant),
            request=page,
            key="membership_id",
            fetch=lambda uow, after, limit: uow.memberships.list(
                subject=who, object_=what, relation=relation, state=wanted, after=after, limit=limit
            ),
        )
