"""The reference policy set for Cerbos: the shipped Cedar policies, rule for rule, per resource.

``python -m identity_context.adapters.authz.cerbos_policies`` writes one
resource policy per resource kind into ``policies/cerbos/`` (JSON, which
Cerbos reads like YAML). The actions of each kind and their groups
(platform-root, tenant-plane) come from the Cedar schema, the manifest; the
rules have the names of the Cedar policies. Run Cerbos with that folder as its
disk store and the ``cerbos`` AuthZEN preset. A test keeps the files equal to
what this module renders, and a test against the real Cerbos keeps its
answers equal to Cedar's.
"""

from __future__ import annotations

import json
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from identity_context.adapters.authz.cedar import RESOURCE_TYPES, load_policy_texts
from identity_context.domain.roles import (
    BREAK_GLASS,
    FACT_CONSUMER,
    GATEWAY,
    PLATFORM_OPERATOR,
    RESERVED_PLATFORM_RELATIONS,
    TENANT_ADMIN,
)

__all__ = ["FOLDER", "folder", "manifest", "render"]

FOLDER = "policies/cerbos"
_PLATFORM = '"tenant:platform"'
_OPERATOR = f'"{PLATFORM_OPERATOR}" in P.roles'
# The onboarding and oversight a platform operator does in any tenant (Cedar
# policy "platform-operator.tenant-onboarding").
ONBOARDING = (
    "tenant.read",
    "tenant.diagnose",
    "tenant.application.list",
    "tenant.user.upsert",
    "tenant.user.read",
    "tenant.user.list",
    "tenant.account.set_state",
    "tenant.membership.list",
    "tenant.audit.list",
    "tenant.audit.verify",
)
_MEMBERSHIP_CHANGES = ("tenant.membership.grant", "tenant.membership.revoke")
# Cedar "self-service.own-hats" and "gateway.act-for-users".
_OWN_HATS = (
    "tenant.hat.list_eligible",
    "tenant.hat.select",
    "tenant.hat.clear",
    "tenant.hat_approval.request",
    "tenant.identity_context.read",
    "tenant.claims.project",
)
_GATEWAY_ACTIONS = ("tenant.evidence.record", *_OWN_HATS)
_OWN_SELECTION = ("tenant.hat.select", "tenant.hat_approval.request")
_DECIDE = "tenant.hat_approval.decide"
# Cedar "fact-consumer.read-facts".
_FACT_ACTIONS = ("tenant.facts.export", "tenant.facts.watch")
_FACT_CONSUMER = f'"{FACT_CONSUMER}" in P.roles'
_GATEWAY = f'"{GATEWAY}" in P.roles'
# With the cerbos preset a principal's roles start with its type (user / service).
_IS_USER, _IS_SERVICE = '"user" in P.roles', '"service" in P.roles'
_ONBOARDING_GRANTS = (TENANT_ADMIN, GATEWAY, FACT_CONSUMER)
_PLATFORM_ROOT_FORBIDS = {
    "platform-root.tenant-lifecycle": "platform.tenant.",
    "platform-root.application-catalog": "platform.application.",
    "platform-root.global-profile": "platform.profile.set_global",
}


def manifest() -> dict[str, dict[str, list[str]]]:
    """Resource kind -> group (``platform-root`` / ``tenant-plane``) -> its actions, from the
    Cedar schema."""
    schema, _ = load_policy_texts()
    by_cedar = {cedar: kind for kind, (cedar, _) in RESOURCE_TYPES.items()}
    found: dict[str, dict[str, list[str]]] = {}
    pattern = (
        r'action ((?:"[^"]+",?\s*)+)\s+in \["([a-z-]+)"\] appliesTo \{[^}]*resource: \[([^\]]+)\]'
    )
    for names, group, kinds in re.findall(pattern, schema):
        for cedar in (k.strip() for k in kinds.split(",")):
            actions = found.setdefault(by_cedar[cedar], {}).setdefault(group, [])
            actions += re.findall(r'"([^"]+)"', names)
    return found


def _rule(name: str, actions: list[str], effect: str, roles: list[str], expr: str = "") -> Any:
    rule: dict[str, Any] = {"name": name, "actions": actions, "effect": effect, "roles": roles}
    if expr:
        rule["condition"] = {"match": {"expr": expr}}
    return rule


def _policy(kind: str, groups: dict[str, list[str]]) -> dict[str, Any]:
    root, plane = groups.get("platform-root", []), groups.get("tenant-plane", [])
    every = root + plane
    allow, deny = "EFFECT_ALLOW", "EFFECT_DENY"
    rules = []
    if root:
        rules.append(_rule("platform-operator.platform-root", root, allow, [PLATFORM_OPERATOR]))
    if plane:
        rules.append(
            _rule(
                "platform-operator.platform-plane",
                plane,
                allow,
                [PLATFORM_OPERATOR],
                f"R.attr.tenant == {_PLATFORM}",
            )
        )
        onboarding = [a for a in plane if a in ONBOARDING]
        if onboarding:
            rules.append(
                _rule("platform-operator.tenant-onboarding", onboarding, allow, [PLATFORM_OPERATOR])
            )
        changes = [a for a in plane if a in _MEMBERSHIP_CHANGES]
        if changes:
            rules.append(
                _rule(
                    "platform-operator.onboarding-grants",
                    changes,
                    allow,
                    [PLATFORM_OPERATOR],
                    f"has(R.attr.relation) && R.attr.relation in {json.dumps(_ONBOARDING_GRANTS)}",
                )
            )
        rules.append(
            _rule(
                "tenant-admin", plane, allow, [TENANT_ADMIN], "R.attr.tenant == P.attr.actor_tenant"
            )
        )
        for action, name in (
            ("tenant.user.read", "self-service.read-own-account"),
            ("tenant.profile.read", "self-service.read-own-profile"),
        ):
            if action in plane:
                rules.append(
                    _rule(
                        name,
                        [action],
                        allow,
                        ["*"],
                        "R.attr.target_user == P.id && R.attr.tenant == P.attr.actor_tenant",
                    )
                )
        own = [a for a in plane if a in _OWN_HATS]
        if own:
            rules.append(
                _rule(
                    "self-service.own-hats",
                    own,
                    allow,
                    ["*"],
                    f"{_IS_USER} && R.attr.target_user == P.id"
                    " && R.attr.tenant == P.attr.actor_tenant",
                )
            )
        gateway = [a for a in plane if a in _GATEWAY_ACTIONS]
        if gateway:
            rules.append(
                _rule(
                    "gateway.act-for-users",
                    gateway,
                    allow,
                    [GATEWAY],
                    f"{_IS_SERVICE} && R.attr.tenant != {_PLATFORM}",
                )
            )
        facts = [a for a in plane if a in _FACT_ACTIONS]
        if facts:
            rules.append(
                _rule(
                    "fact-consumer.read-facts",
                    facts,
                    allow,
                    [FACT_CONSUMER],
                    f"{_IS_SERVICE} && R.attr.tenant != {_PLATFORM}",
                )
            )
        if _DECIDE in plane:
            rules.append(
                _rule(
                    "approver.decide",
                    [_DECIDE],
                    allow,
                    ["*"],
                    f"{_IS_USER} && R.attr.approver == true"
                    " && R.attr.tenant == P.attr.actor_tenant",
                )
            )
        rules.append(
            _rule(
                "break-glass",
                plane,
                allow,
                [BREAK_GLASS],
                f"P.attr.actor_tenant == {_PLATFORM} && P.attr.break_glass == true"
                ' && P.attr.break_glass_reason != "" && P.attr.assurance_level >= 2'
                f" && R.attr.tenant != {_PLATFORM}",
            )
        )
    for name, prefix in _PLATFORM_ROOT_FORBIDS.items():
        matched = [a for a in root if a.startswith(prefix)]
        if matched:
            rules.append(_rule(name, matched, deny, ["*"], f"!({_OPERATOR})"))
    rules.append(
        _rule(
            "platform-root.platform-tenant",
            every,
            deny,
            ["*"],
            f"R.attr.tenant == {_PLATFORM} && !({_OPERATOR})",
        )
    )
    changes = [a for a in plane if a in _MEMBERSHIP_CHANGES]
    if changes:
        reserved = json.dumps(sorted(RESERVED_PLATFORM_RELATIONS))
        rules.append(
            _rule(
                "platform-root.reserved-relations",
                changes,
                deny,
                ["*"],
                f"has(R.attr.relation) && R.attr.relation in {reserved} && !({_OPERATOR})",
            )
        )
    selection = [a for a in plane if a in _OWN_SELECTION]
    if selection:
        rules.append(
            _rule(
                "hats.own-selection",
                selection,
                deny,
                ["*"],
                f"!(R.attr.target_user == P.id || {_GATEWAY})",
            )
        )
    if "tenant.evidence.record" in plane:
        rules.append(
            _rule(
                "hats.evidence-from-gateways",
                ["tenant.evidence.record"],
                deny,
                ["*"],
                f"!({_GATEWAY})",
            )
        )
    if _DECIDE in plane:
        rules.append(
            _rule("hats.approvers-only", [_DECIDE], deny, ["*"], "!(R.attr.approver == true)")
        )
        rules.append(
            _rule("hats.no-self-approval", [_DECIDE], deny, ["*"], "R.attr.target_user == P.id")
        )
    rules.append(
        _rule(
            "cross-tenant",
            every,
            deny,
            ["*"],
            f"R.attr.tenant != P.attr.actor_tenant && !({_OPERATOR})"
            " && !(has(P.attr.break_glass) && P.attr.break_glass == true)"
            f" && !({_GATEWAY}) && !({_FACT_CONSUMER})",
        )
    )
    return {
        "apiVersion": "api.cerbos.dev/v1",
        "description": f"identity-context reference policies for {kind} (generated)",
        "resourcePolicy": {"version": "default", "resource": kind, "rules": rules},
    }


def render() -> dict[str, str]:
    """File name -> content of every policy of the reference set."""
    return {
        f"{kind}.json": json.dumps(_policy(kind, groups), indent=2) + "\n"
        for kind, groups in sorted(manifest().items())
    }


def folder() -> Path:
    """Where the shipped reference set is (point Cerbos's disk store here)."""
    return Path(str(resources.files(__package__) / FOLDER))


def main(argv: list[str] | None = None) -> int:
    """Write the reference set next to the Cedar policies; ``--where`` prints its folder."""
    if (argv if argv is not None else sys.argv[1:]) == ["--where"]:
        print(folder())
        return 0
    target = folder()
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob("*.json"):
        stale.unlink()
    for name, text in render().items():
        (target / name).write_text(text)
    print(f"wrote {len(render())} Cerbos policies to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
