"""gRPC servicers: map the request in, await the use case, map the result out.

An RPC not overridden here falls through to the generated base class, whose
NotImplementedError the error-mapping interceptor answers as UNIMPLEMENTED.
Errors are mapped by the interceptors, never here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import grpc
from identitycontext.v1 import (
    active_context_pb2,
    active_context_pb2_grpc,
    common_pb2,
    fact_export_pb2,
    fact_export_pb2_grpc,
    membership_pb2,
    membership_pb2_grpc,
    tenant_admin_pb2,
    tenant_admin_pb2_grpc,
)

from identity_context.api import mappers as m
from identity_context.application import commands as c
from identity_context.application.access_profiles import AccessProfiles
from identity_context.application.accounts import Accounts
from identity_context.application.applications import Applications
from identity_context.application.audit_trail import AuditTrail
from identity_context.application.diagnostics import Diagnostics
from identity_context.application.facts import FactStream
from identity_context.application.hats import Hats
from identity_context.application.identity_contexts import IdentityContexts
from identity_context.application.memberships import MembershipAdministration
from identity_context.application.profiles import Profiles
from identity_context.application.tenants import Tenants
from identity_context.domain.actors import AssuranceLevel
from identity_context.domain.directory import MembershipState, ProfileLayer
from identity_context.domain.errors import InvalidArgument
from identity_context.domain.hats import ApprovalState
from identity_context.domain.identifiers import ScopeKind
from identity_context.domain.tenancy import AccountState, TenantState

__all__ = [
    "ActiveContextServicer",
    "FactExportServicer",
    "MembershipServicer",
    "TenantAdminServicer",
]

Context = grpc.aio.ServicerContext[Any, Any]
ta = tenant_admin_pb2
mb = membership_pb2
ac = active_context_pb2
fx = fact_export_pb2


class TenantAdminServicer(tenant_admin_pb2_grpc.TenantAdminServiceServicer):
    """identitycontext.v1.TenantAdminService."""

    def __init__(
        self,
        *,
        tenants: Tenants,
        applications: Applications,
        accounts: Accounts,
        profiles: Profiles,
        audit: AuditTrail,
        diagnostics: Diagnostics,
        page_bytes: int,
    ) -> None:
        self._diagnostics = diagnostics
        self._page_bytes = page_bytes
        self._tenants = tenants
        self._applications = applications
        self._accounts = accounts
        self._profiles = profiles
        self._audit = audit

    async def CreateTenant(
        self, request: ta.CreateTenantRequest, context: Context
    ) -> ta.CreateTenantResponse:
        tenant = await self._tenants.create(
            m.invocation(context, request.request_id),
            c.CreateTenant(request.tenant_id, request.display_name),
        )
        return ta.CreateTenantResponse(tenant=m.tenant_pb(tenant))

    async def GetTenant(
        self, request: ta.GetTenantRequest, context: Context
    ) -> ta.GetTenantResponse:
        tenant = await self._tenants.get(m.invocation(context), request.tenant_id)
        return ta.GetTenantResponse(tenant=m.tenant_pb(tenant))

    async def ListTenants(
        self, request: ta.ListTenantsRequest, context: Context
    ) -> ta.ListTenantsResponse:
        state = m.from_enum(TenantState, ta.TenantState, "TENANT_STATE_", request.state, "state")
        page = await self._tenants.list(
            m.invocation(context), request.page_size, request.page_token, state
        )
        return m.page_response(
            ta.ListTenantsResponse, "tenants", page, m.tenant_pb, self._page_bytes
        )

    async def SetTenantState(
        self, request: ta.SetTenantStateRequest, context: Context
    ) -> ta.SetTenantStateResponse:
        state = m.from_enum(TenantState, ta.TenantState, "TENANT_STATE_", request.state, "state")
        if state is None:
            raise InvalidArgument.for_field("state", "is required")
        tenant = await self._tenants.set_state(
            m.invocation(context, request.request_id),
            c.SetTenantState(request.tenant_id, state, request.reason, request.etag),
        )
        return ta.SetTenantStateResponse(tenant=m.tenant_pb(tenant))

    async def BindApplication(
        self, request: ta.BindApplicationRequest, context: Context
    ) -> ta.BindApplicationResponse:
        binding = await self._applications.bind(
            m.invocation(context, request.request_id), c.BindApplication(request.application_id)
        )
        return ta.BindApplicationResponse(binding=m.binding_pb(binding))

    async def ListApplications(
        self, request: ta.ListApplicationsRequest, context: Context
    ) -> ta.ListApplicationsResponse:
        page = await self._applications.list(
            m.invocation(context), request.page_size, request.page_token
        )
        return m.page_response(
            ta.ListApplicationsResponse, "bindings", page, m.binding_pb, self._page_bytes
        )

    async def UpsertTenantUser(
        self, request: ta.UpsertTenantUserRequest, context: Context
    ) -> ta.UpsertTenantUserResponse:
        state = m.from_enum(
            AccountState,
            common_pb2.AccountState,
            "ACCOUNT_STATE_",
            request.initial_state,
            "initial_state",
        )
        result = await self._accounts.upsert(
            m.invocation(context, request.request_id),
            c.UpsertTenantUser(request.user_id, request.display_name, state, request.etag),
        )
        return ta.UpsertTenantUserResponse(
            tenant_user=m.account_pb(result.account), created=result.created
        )

    async def GetTenantUser(
        self, request: ta.GetTenantUserRequest, context: Context
    ) -> ta.GetTenantUserResponse:
        account = await self._accounts.get(m.invocation(context), request.user_id)
        return ta.GetTenantUserResponse(tenant_user=m.account_pb(account))

    async def ListTenantUsers(
        self, request: ta.ListTenantUsersRequest, context: Context
    ) -> ta.ListTenantUsersResponse:
        state = m.from_enum(
            AccountState, common_pb2.AccountState, "ACCOUNT_STATE_", request.state, "state"
        )
        page = await self._accounts.list(
            m.invocation(context), request.page_size, request.page_token, state
        )
        return m.page_response(
            ta.ListTenantUsersResponse, "tenant_users", page, m.account_pb, self._page_bytes
        )

    async def SetAccountState(
        self, request: ta.SetAccountStateRequest, context: Context
    ) -> ta.SetAccountStateResponse:
        state = m.from_enum(
            AccountState, common_pb2.AccountState, "ACCOUNT_STATE_", request.state, "state"
        )
        if state is None:
            raise InvalidArgument.for_field("state", "is required")
        account = await self._accounts.set_state(
            m.invocation(context, request.request_id),
            c.SetAccountState(request.user_id, state, request.reason, request.etag),
        )
        return ta.SetAccountStateResponse(tenant_user=m.account_pb(account))

    async def SetProfileValues(
        self, request: ta.SetProfileValuesRequest, context: Context
    ) -> ta.SetProfileValuesResponse:
        layer = m.from_enum(
            ProfileLayer, common_pb2.ProfileLayer, "PROFILE_LAYER_", request.layer, "layer"
        )
        if layer is None:
            raise InvalidArgument.for_field("layer", "is required (GLOBAL or TENANT)")
        inv = m.invocation(context, request.request_id)
        update = await self._profiles.set_values(
            inv,
            c.SetProfileValues(
                request.user_id,
                layer,
                tuple(c.ProfileWrite(v.key, v.value, v.sensitive) for v in request.values),
                tuple(request.remove_keys),
                request.etag,
            ),
        )
        reveal = inv.actor.subject == request.user_id
        return ta.SetProfileValuesResponse(
            values=[m.profile_value_pb(v, reveal=reveal) for v in update.values], etag=update.etag
        )

    async def GetResolvedProfile(
        self, request: ta.GetResolvedProfileRequest, context: Context
    ) -> ta.GetResolvedProfileResponse:
        resolved = await self._profiles.resolve(
            m.invocation(context), request.user_id, request.access_profile_id
        )
        return ta.GetResolvedProfileResponse(values=[m.resolved_pb(v) for v in resolved.values])

    async def ListAuditRecords(
        self, request: ta.ListAuditRecordsRequest, context: Context
    ) -> ta.ListAuditRecordsResponse:
        page = await self._audit.list(
            m.invocation(context),
            request.page_size,
            request.page_token,
            request.action,
            request.after_seq,
        )
        return m.page_response(
            ta.ListAuditRecordsResponse, "records", page, m.audit_pb, self._page_bytes
        )

    async def VerifyAuditChain(
        self, request: ta.VerifyAuditChainRequest, context: Context
    ) -> ta.VerifyAuditChainResponse:
        return m.verification_pb(await self._audit.verify(m.invocation(context)))

    async def DiagnoseTenant(
        self, request: ta.DiagnoseTenantRequest, context: Context
    ) -> ta.DiagnoseTenantResponse:
        return m.report_pb(await self._diagnostics.diagnose(m.invocation(context)))


class MembershipServicer(membership_pb2_grpc.MembershipServiceServicer):
    """identitycontext.v1.MembershipService."""

    def __init__(self, memberships: MembershipAdministration, *, page_bytes: int) -> None:
        self._uc = memberships
        self._page_bytes = page_bytes

    async def CreateScope(
        self, request: mb.CreateScopeRequest, context: Context
    ) -> mb.CreateScopeResponse:
        scope = await self._uc.create_scope(
            m.invocation(context, request.request_id),
            c.CreateScope(request.scope_id, request.parent_scope_id, request.display_name),
        )
        return mb.CreateScopeResponse(scope=m.scope_pb(scope))

    async def ListScopes(
        self, request: mb.ListScopesRequest, context: Context
    ) -> mb.ListScopesResponse:
        kind = m.from_enum(ScopeKind, mb.ScopeKind, "SCOPE_KIND_", request.kind, "kind")
        page = await self._uc.list_scopes(
            m.invocation(context),
            request.page_size,
            request.page_token,
            request.parent_scope_id,
            kind,
        )
        return m.page_response(mb.ListScopesResponse, "scopes", page, m.scope_pb, self._page_bytes)

    async def CreateGroup(
        self, request: mb.CreateGroupRequest, context: Context
    ) -> mb.CreateGroupResponse:
        group = await self._uc.create_group(
            m.invocation(context, request.request_id),
            c.CreateGroup(request.group_id, request.display_name),
        )
        return mb.CreateGroupResponse(group=m.group_pb(group))

    async def ListGroups(
        self, request: mb.ListGroupsRequest, context: Context
    ) -> mb.ListGroupsResponse:
        page = await self._uc.list_groups(
            m.invocation(context), request.page_size, request.page_token
        )
        return m.page_response(mb.ListGroupsResponse, "groups", page, m.group_pb, self._page_bytes)

    async def AddGroupMember(
        self, request: mb.AddGroupMemberRequest, context: Context
    ) -> mb.AddGroupMemberResponse:
        member = await self._uc.add_group_member(
            m.invocation(context, request.request_id),
            c.AddGroupMember(request.group_id, request.user_id),
        )
        return mb.AddGroupMemberResponse(group_member=m.group_member_pb(member))

    async def RemoveGroupMember(
        self, request: mb.RemoveGroupMemberRequest, context: Context
    ) -> mb.RemoveGroupMemberResponse:
        result = await self._uc.remove_group_member(
            m.invocation(context, request.request_id),
            c.RemoveGroupMember(request.group_id, request.user_id),
        )
        return mb.RemoveGroupMemberResponse(removed=result.removed)

    async def ListGroupMembers(
        self, request: mb.ListGroupMembersRequest, context: Context
    ) -> mb.ListGroupMembersResponse:
        page = await self._uc.list_group_members(
            m.invocation(context), request.group_id, request.page_size, request.page_token
        )
        return m.page_response(
            mb.ListGroupMembersResponse, "group_members", page, m.group_member_pb, self._page_bytes
        )

    async def GrantMembership(
        self, request: mb.GrantMembershipRequest, context: Context
    ) -> mb.GrantMembershipResponse:
        membership = await self._uc.grant_membership(
            m.invocation(context, request.request_id),
            c.GrantMembership(
                request.subject,
                request.relation,
                request.object,
                m.from_timestamp(request, "valid_from"),
                m.from_timestamp(request, "valid_until"),
            ),
        )
        return mb.GrantMembershipResponse(membership=m.membership_pb(membership))

    async def RevokeMembership(
        self, request: mb.RevokeMembershipRequest, context: Context
    ) -> mb.RevokeMembershipResponse:
        membership = await self._uc.revoke_membership(
            m.invocation(context, request.request_id),
            c.RevokeMembership(request.membership_id, request.etag, request.reason),
        )
        return mb.RevokeMembershipResponse(membership=m.membership_pb(membership))

    async def ListMemberships(
        self, request: mb.ListMembershipsRequest, context: Context
    ) -> mb.ListMembershipsResponse:
        state = m.from_enum(
            MembershipState, mb.MembershipState, "MEMBERSHIP_STATE_", request.state, "state"
        )
        page = await self._uc.list_memberships(
            m.invocation(context),
            subject=request.subject,
            object_=request.object,
            relation=request.relation,
            state=state,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return m.page_response(
            mb.ListMembershipsResponse, "memberships", page, m.membership_pb, self._page_bytes
        )


class ActiveContextServicer(active_context_pb2_grpc.ActiveContextServiceServicer):
    """identitycontext.v1.ActiveContextService."""

    def __init__(
        self,
        access_profiles: AccessProfiles,
        hats: Hats,
        identity_contexts: IdentityContexts,
        *,
        page_bytes: int,
    ) -> None:
        self._profiles = access_profiles
        self._hats = hats
        self._contexts = identity_contexts
        self._page_bytes = page_bytes

    async def CreateAccessProfile(
        self, request: ac.CreateAccessProfileRequest, context: Context
    ) -> ac.CreateAccessProfileResponse:
        spec = request.access_profile
        created = await self._profiles.create(
            m.invocation(context, request.request_id),
            c.CreateAccessProfile(
                spec.access_profile_id, spec.display_name, m.access_profile_definition(spec)
            ),
        )
        return ac.CreateAccessProfileResponse(access_profile=m.access_profile_pb(created))

    async def ListAccessProfiles(
        self, request: ac.ListAccessProfilesRequest, context: Context
    ) -> ac.ListAccessProfilesResponse:
        page = await self._profiles.list(
            m.invocation(context), request.page_size, request.page_token
        )
        return m.page_response(
            ac.ListAccessProfilesResponse,
            "access_profiles",
            page,
            m.access_profile_pb,
            self._page_bytes,
        )

    async def RecordFactorEvidence(
        self, request: ac.RecordFactorEvidenceRequest, context: Context
    ) -> ac.RecordFactorEvidenceResponse:
        level = m.from_enum(
            AssuranceLevel,
            common_pb2.AssuranceLevel,
            "ASSURANCE_LEVEL_",
            request.assurance_level,
            "assurance_level",
        )
        recorded = await self._hats.record_evidence(
            m.invocation(context, request.request_id),
            c.RecordFactorEvidence(
                request.user_id,
                request.factor_type,
                level or AssuranceLevel.NONE,
                m.from_timestamp(request, "verified_at"),
                m.from_timestamp(request, "expires_at"),
                request.issuer,
                request.evidence_ref,
            ),
        )
        return ac.RecordFactorEvidenceResponse(evidence=m.evidence_pb(recorded))

    async def ListEligibleHats(
        self, request: ac.ListEligibleHatsRequest, context: Context
    ) -> ac.ListEligibleHatsResponse:
        found = await self._hats.list_eligible(
            m.invocation(context), request.user_id, request.scope_id
        )
        return ac.ListEligibleHatsResponse(hats=[m.eligible_pb(e) for e in found])

    async def SelectActiveHat(
        self, request: ac.SelectActiveHatRequest, context: Context
    ) -> ac.SelectActiveHatResponse:
        active = await self._hats.select(
            m.invocation(context, request.request_id),
            c.SelectActiveHat(request.user_id, request.hat_id),
        )
        return ac.SelectActiveHatResponse(active_context=m.active_context_pb(active))

    async def ClearActiveHat(
        self, request: ac.ClearActiveHatRequest, context: Context
    ) -> ac.ClearActiveHatResponse:
        result = await self._hats.clear(
            m.invocation(context, request.request_id),
            c.ClearActiveHat(request.user_id, request.reason),
        )
        return ac.ClearActiveHatResponse(cleared=result.cleared)

    async def RequestHatApproval(
        self, request: ac.RequestHatApprovalRequest, context: Context
    ) -> ac.RequestHatApprovalResponse:
        approval = await self._hats.request_approval(
            m.invocation(context, request.request_id),
            c.RequestHatApproval(
                request.user_id,
                request.hat_id,
                request.justification,
                m.from_duration(request, "requested_duration"),
            ),
        )
        return ac.RequestHatApprovalResponse(approval=m.approval_pb(approval))

    async def DecideHatApproval(
        self, request: ac.DecideHatApprovalRequest, context: Context
    ) -> ac.DecideHatApprovalResponse:
        decision = m.from_enum(
            ApprovalState,
            ac.HatApprovalState,
            "HAT_APPROVAL_STATE_",
            request.decision,
            "decision",
        )
        if decision is None:
            raise InvalidArgument.for_field("decision", "is required")
        approval = await self._hats.decide_approval(
            m.invocation(context, request.request_id),
            c.DecideHatApproval(
                request.approval_id,
                decision,
                m.from_duration(request, "valid_for"),
                request.comment,
                request.etag,
            ),
        )
        return ac.DecideHatApprovalResponse(approval=m.approval_pb(approval))

    async def GetIdentityContext(
        self, request: ac.GetIdentityContextRequest, context: Context
    ) -> ac.GetIdentityContextResponse:
        found = await self._contexts.get(m.invocation(context), request.user_id)
        return ac.GetIdentityContextResponse(identity_context=m.identity_context_pb(found))

    async def ProjectClaims(
        self, request: ac.ProjectClaimsRequest, context: Context
    ) -> ac.ProjectClaimsResponse:
        found = await self._contexts.claims(
            m.invocation(context), request.user_id, request.audience
        )
        return m.claims_pb(found)


class FactExportServicer(fact_export_pb2_grpc.FactExportServiceServicer):
    """identitycontext.v1.FactExportService."""

    def __init__(self, facts: FactStream | None) -> None:
        self._facts = facts

    def _stream(self) -> FactStream:
        if self._facts is None:
            raise NotImplementedError("this server has no fact feed")
        return self._facts

    async def ExportFacts(
        self, request: fx.ExportFactsRequest, context: Context
    ) -> AsyncIterator[bytes]:
        """Yields serialized messages (the server registers this method with a pass-through
        serializer: the facts come encoded from the store)."""
        facts = self._stream()
        mode = m.export_mode(request.mode)
        filt = m.fact_filter(request.filter)
        async for batch in facts.export(
            m.invocation(context), mode, filt, request.batch_size, request.resume_cursor
        ):
            yield m.export_batch_bytes(batch)

    async def WatchFacts(
        self, request: fx.WatchFactsRequest, context: Context
    ) -> AsyncIterator[fx.WatchFactsResponse]:
        facts = self._stream()
        mode = m.export_mode(request.mode)
        filt = m.fact_filter(request.filter)
        seconds = m.from_duration(request, "heartbeat_interval")
        interval = None if seconds is None else dt.timedelta(seconds=seconds)
        async for event in facts.watch(
            m.invocation(context), mode, filt, request.facts_token, interval
        ):
            yield m.watch_event_pb(event)

    async def GetFactsToken(
        self, request: fx.GetFactsTokenRequest, context: Context
    ) -> fx.GetFactsTokenResponse:
        facts = self._stream()
        token, seq = await facts.token(
            m.invocation(context), m.export_mode(request.mode), m.fact_filter(request.filter)
        )
        return fx.GetFactsTokenResponse(facts_token=token, seq=seq)
