"""Use cases of MembershipService: scopes, groups, group members and memberships."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from dataclasses import dataclass

from identity_context.application.actions import Action
from identity_context.application.guarded import Guarded, Target
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import Page, PageRequest
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
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from identity_context.domain.identifiers import (
    ScopeKind,
    parse_group_ref,
    parse_scope_ref,
    parse_user_ref,
)
from identity_context.domain.tenancy import check_etag

__all__ = ["MembershipAdministration", "RemoveResult"]

_RELATION = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_PARENT_KIND = {
    ScopeKind.REALM: ScopeKind.TENANT,
    ScopeKind.SERVICE_AREA: ScopeKind.REALM,
    ScopeKind.ASSET: ScopeKind.SERVICE_AREA,
}


def _check_relation(relation: str) -> None:
    if not _RELATION.fullmatch(relation):
        raise InvalidArgument.for_field("relation", "must match [a-z][a-z0-9_-]{0,62}")


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

    async def create_scope(
        self, inv: Invocation, scope_id: str, parent_scope_id: str, display_name: str
    ) -> Scope:
        """Create a realm (under the tenant), service area (under a realm) or asset."""
        scope = parse_scope_ref(scope_id, tenant=inv.tenant)
        if scope.kind is ScopeKind.TENANT:
            raise InvalidArgument.for_field("scope_id", "the tenant itself is not created")
        parent = parse_scope_ref(
            parent_scope_id or str(inv.tenant), tenant=inv.tenant, field="parent_scope_id"
        )
        if parent.kind is not _PARENT_KIND[scope.kind]:
            raise InvalidArgument.for_field(
                "parent_scope_id",
                f"a {scope.kind.value} scope needs a {_PARENT_KIND[scope.kind].value} parent",
            )
        target = Target("scope", str(scope), inv.tenant)

        async def execute(uow: UnitOfWork, allowed: Decision) -> Scope:
            parent_key = None if parent.kind is ScopeKind.TENANT else str(parent)
            created = await uow.scopes.insert(str(scope), scope.kind, parent_key, display_name)
            await uow.record(
                Change(
                    Action.TENANT_SCOPE_CREATE,
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
            inv,
            Action.TENANT_SCOPE_CREATE,
            target,
            command=(str(scope), str(parent), display_name),
            result_type=Scope,
            execute=execute,
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
        page = PageRequest.parse(inv.tenant, page_size, page_token, "scopes", parent, kind)

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

    async def create_group(self, inv: Invocation, group_id: str, display_name: str) -> Group:
        """Create a group."""
        group = parse_group_ref(group_id, tenant=inv.tenant)

        async def execute(uow: UnitOfWork, allowed: Decision) -> Group:
            created = await uow.groups.insert(group, display_name)
            await uow.record(
                Change(
                    Action.TENANT_GROUP_CREATE,
                    "group.created",
                    {"group_id": group, "display_name": display_name},
                    allowed,
                )
            )
            return created

        return await self._g.mutate(
            inv,
            Action.TENANT_GROUP_CREATE,
            Target("group", group, inv.tenant),
            command=(group, display_name),
            result_type=Group,
            execute=execute,
        )

    async def list_groups(self, inv: Invocation, page_size: int, page_token: str) -> Page[Group]:
        """List groups with their member counts."""
        page = PageRequest.parse(inv.tenant, page_size, page_token, "groups")

        return await self._g.page(
            inv,
            Action.TENANT_GROUP_LIST,
            Target("group", "*", inv.tenant),
            request=page,
            key="group_id",
            fetch=lambda uow, after, limit: uow.groups.list(after=after, limit=limit),
        )

    async def add_group_member(self, inv: Invocation, group_id: str, user_id: str) -> GroupMember:
        """Add a user (with an account in the tenant) to a group."""
        group = parse_group_ref(group_id, tenant=inv.tenant)
        user = parse_user_ref(user_id)

        async def execute(uow: UnitOfWork, allowed: Decision) -> GroupMember:
            member = await uow.groups.add_member(group, user)
            await uow.record(
                Change(
                    Action.TENANT_GROUP_MEMBER_ADD,
                    "group_member.added",
                    {"group_id": group, "user_id": user},
                    allowed,
                )
            )
            return member

        return await self._g.mutate(
            inv,
            Action.TENANT_GROUP_MEMBER_ADD,
            Target("group_member", f"{group}#{user}", inv.tenant, target_user=user),
            command=(group, user),
            result_type=GroupMember,
            execute=execute,
        )

    async def remove_group_member(
        self, inv: Invocation, group_id: str, user_id: str
    ) -> RemoveResult:
        """Remove a user from a group; removing a non-member changes nothing."""
        group = parse_group_ref(group_id, tenant=inv.tenant)
        user = parse_user_ref(user_id)

        async def execute(uow: UnitOfWork, allowed: Decision) -> RemoveResult:
            if not await uow.groups.exists(group):
                raise NotFound(f"{group} not found")
            removed = await uow.groups.remove_member(group, user)
            if removed:
                await uow.record(
                    Change(
                        Action.TENANT_GROUP_MEMBER_REMOVE,
                        "group_member.removed",
                        {"group_id": group, "user_id": user},
                        allowed,
                    )
                )
            return RemoveResult(removed)

        return await self._g.mutate(
            inv,
            Action.TENANT_GROUP_MEMBER_REMOVE,
            Target("group_member", f"{group}#{user}", inv.tenant, target_user=user),
            command=(group, user),
            result_type=RemoveResult,
            execute=execute,
        )

    async def list_group_members(
        self, inv: Invocation, group_id: str, page_size: int, page_token: str
    ) -> Page[GroupMember]:
        """List a group's members."""
        group = parse_group_ref(group_id, tenant=inv.tenant)
        page = PageRequest.parse(inv.tenant, page_size, page_token, "members", group)

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
        return parse_user_ref(subject, field="subject")

    async def grant_membership(
        self,
        inv: Invocation,
        *,
        subject: str,
        relation: str,
        object_: str,
        valid_from: dt.datetime | None,
        valid_until: dt.datetime | None,
    ) -> Membership:
        """Grant *subject* the *relation* on *object_* (the tenant or one of its scopes)."""
        who = self._subject(inv, subject)
        _check_relation(relation)
        what = str(parse_scope_ref(object_, tenant=inv.tenant, field="object"))
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
                    Action.TENANT_MEMBERSHIP_GRANT,
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

        return await self._g.mutate(
            inv,
            Action.TENANT_MEMBERSHIP_GRANT,
            target,
            command=(who, relation, what, valid_from, valid_until),
            result_type=Membership,
            execute=execute,
        )

    async def revoke_membership(
        self, inv: Invocation, membership_id: str, etag: str, reason: str
    ) -> Membership:
        """Revoke a membership; the relation takes part in the authorization."""
        if not membership_id or len(membership_id) > 64:
            raise InvalidArgument.for_field("membership_id", "is required")

        async def peek(uow: UnitOfWork) -> Membership | None:
            return await uow.memberships.get(membership_id)

        # Read first so the relation is part of the decision; the decision never
        # depends on whether the id exists, so it is no existence oracle.
        current = await self._g.store.run(inv.change_context(), peek, read_only=True)
        target = Target(
            "membership",
            membership_id,
            inv.tenant,
            relation=current.relation if current else "",
            subject=current.subject if current else "",
        )
        decision = await self._g.authorize(inv, Action.TENANT_MEMBERSHIP_REVOKE, target)
        if current is None:
            raise NotFound(f"membership {membership_id} not found")

        async def execute(uow: UnitOfWork, allowed: Decision) -> Membership:
            latest = await uow.memberships.get(membership_id)
            if latest is None:
                raise NotFound(f"membership {membership_id} not found")
            check_etag(etag, latest.etag)
            if latest.state is MembershipState.REVOKED:
                raise FailedPrecondition(f"membership {membership_id} is already revoked")
            revoked = await uow.memberships.revoke(membership_id)
            await uow.record(
                Change(
                    Action.TENANT_MEMBERSHIP_REVOKE,
                    "membership.revoked",
                    {
                        "membership_id": membership_id,
                        "subject": latest.subject,
                        "relation": latest.relation,
                        "object": latest.object,
                        "reason": reason,
                    },
                    allowed,
                )
            )
            return revoked

        return await self._g.mutate(
            inv,
            Action.TENANT_MEMBERSHIP_REVOKE,
            target,
            command=(membership_id, etag, reason),
            result_type=Membership,
            execute=execute,
            decision=decision,
        )

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
            _check_relation(relation)
        wanted = state or MembershipState.ACTIVE
        page = PageRequest.parse(
            inv.tenant, page_size, page_token, "memberships", who, what, relation, wanted
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
