"""Every tenant-management action: the code side of the Cedar manifest (a test keeps both equal)."""

from __future__ import annotations

import enum

__all__ = ["Action"]


class Action(enum.StrEnum):
    """Actions asked of the authorization port, also used as audit action names."""

    PLATFORM_APPLICATION_BIND = "platform.application.bind"
    PLATFORM_APPLICATION_CATALOG = "platform.application.catalog"
    PLATFORM_PROFILE_SET_GLOBAL = "platform.profile.set_global"
    PLATFORM_TENANT_CREATE = "platform.tenant.create"
    PLATFORM_TENANT_LIST = "platform.tenant.list"
    PLATFORM_TENANT_READ = "platform.tenant.read"
    PLATFORM_TENANT_SET_STATE = "platform.tenant.set_state"
    TENANT_ACCESS_PROFILE_CREATE = "tenant.access_profile.create"
    TENANT_ACCESS_PROFILE_LIST = "tenant.access_profile.list"
    TENANT_ACCOUNT_SET_STATE = "tenant.account.set_state"
    TENANT_APPLICATION_LIST = "tenant.application.list"
    TENANT_AUDIT_LIST = "tenant.audit.list"
    TENANT_AUDIT_VERIFY = "tenant.audit.verify"
    TENANT_CLAIMS_PROJECT = "tenant.claims.project"
    TENANT_DIAGNOSE = "tenant.diagnose"
    TENANT_EVIDENCE_RECORD = "tenant.evidence.record"
    TENANT_FACTS_EXPORT = "tenant.facts.export"
    TENANT_FACTS_WATCH = "tenant.facts.watch"
    TENANT_GROUP_CREATE = "tenant.group.create"
    TENANT_GROUP_LIST = "tenant.group.list"
    TENANT_GROUP_MEMBER_ADD = "tenant.group_member.add"
    TENANT_GROUP_MEMBER_LIST = "tenant.group_member.list"
    TENANT_GROUP_MEMBER_REMOVE = "tenant.group_member.remove"
    TENANT_HAT_APPROVAL_DECIDE = "tenant.hat_approval.decide"
    TENANT_HAT_APPROVAL_REQUEST = "tenant.hat_approval.request"
    TENANT_HAT_CLEAR = "tenant.hat.clear"
    TENANT_HAT_LIST_ELIGIBLE = "tenant.hat.list_eligible"
    TENANT_HAT_SELECT = "tenant.hat.select"
    TENANT_IDENTITY_CONTEXT_READ = "tenant.identity_context.read"
    TENANT_MEMBERSHIP_GRANT = "tenant.membership.grant"
    TENANT_MEMBERSHIP_LIST = "tenant.membership.list"
    TENANT_MEMBERSHIP_REVOKE = "tenant.membership.revoke"
    TENANT_PROFILE_READ = "tenant.profile.read"
    TENANT_PROFILE_SET = "tenant.profile.set"
    TENANT_READ = "tenant.read"
    TENANT_SCOPE_CREATE = "tenant.scope.create"
    TENANT_SCOPE_LIST = "tenant.scope.list"
    TENANT_USER_LIST = "tenant.user.list"
    TENANT_USER_READ = "tenant.user.read"
    TENANT_USER_UPSERT = "tenant.user.upsert"

    @property
    def is_platform_root(self) -> bool:
        """True for the platform-root operations (tenant lifecycle, catalog, GLOBAL layer)."""
        return self.value.startswith("platform.")
