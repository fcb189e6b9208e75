"""The AuthZEN property mapping: presets, the README's override file, and bad files refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import REPO

from identity_context.adapters.authz.authzen import AuthZenClient
from identity_context.adapters.authz.mapping import MappingError, load_mapping
from identity_context.application.actions import Action
from identity_context.application.authorization import Target, build_request
from identity_context.domain.actors import Actor, AssuranceLevel
from identity_context.domain.identifiers import ActorKind, TenantId

HOME = TenantId("acme")
ADMIN = Actor("user:adm", ActorKind.USER, HOME, "t", AssuranceLevel.AAL2)


def _request(reason: str = "") -> object:
    return build_request(
        ADMIN,
        frozenset({"tenant-admin"}),
        Action.TENANT_USER_READ,
        Target("tenant_user", "user:x", HOME, target_user="user:x"),
        break_glass_reason=reason,
        correlation_id="c-1",
    )


def _body(preset: str, path: Path | None = None, reason: str = "") -> dict[str, object]:
    client = AuthZenClient("http://127.0.0.1:9", mapping=load_mapping(preset, path))
    return client.body(_request(reason))  # type: ignore[arg-type]


def test_the_generic_preset_puts_roles_on_the_subject_and_break_glass_in_the_context() -> None:
    body = _body("generic", reason="INC-1")
    subject = body["subject"]
    assert subject == {
        "type": "user",
        "id": "user:adm",
        "properties": {
            "roles": ["tenant-admin"],
            "actor_tenant": "tenant:acme",
            "assurance_level": 2,
            "active_hat": "",
        },
    }
    assert body["context"] == {
        "break_glass": True,
        "break_glass_reason": "INC-1",
        "correlation_id": "c-1",
    }
    assert body["resource"] == {
        "type": "tenant_user",
        "id": "user:x",
        "properties": {"tenant": "tenant:acme", "plane": "tenant", "target_user": "user:x"},
    }
    assert body["action"] == {"name": "tenant.user.read"}


def test_the_cerbos_preset_gives_every_principal_a_role_and_copies_break_glass() -> None:
    body = _body("cerbos", reason="INC-1")
    props = body["subject"]["properties"]  # type: ignore[index]
    assert props["cerbos.roles"] == ["user", "tenant-admin"]
    assert props["roles"] == ["tenant-admin"]
    assert props["break_glass"] is True and props["break_glass_reason"] == "INC-1"
    assert body["context"]["break_glass"] is True  # type: ignore[index]


def test_the_readme_mapping_file_replaces_the_presets_tables(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    found = re.search(r"```toml\n(\[facts\].*?)```", readme, re.S)
    assert found, "README shows no mapping file"
    path = tmp_path / "mapping.toml"
    path.write_text(found.group(1))
    mapping = load_mapping("generic", path)
    body = _body("generic", path)
    assert body["resource"]["properties"]["caller_roles"] == ["tenant-admin"]  # type: ignore[index]
    assert body["subject"]["properties"]["roles"] == ["tenant-admin"]  # type: ignore[index]
    assert body["context"]["aal"] == 2  # type: ignore[index]
    assert "assurance_level" not in body["subject"]["properties"]  # type: ignore[index]
    # Facts the file does not name keep the preset's targets.
    assert body["subject"]["properties"]["actor_tenant"] == "tenant:acme"  # type: ignore[index]
    assert mapping.reason_path == ("context", "reason_admin", "code")
    assert mapping.policy_ids_path == ("context", "policies")
    assert mapping.batch_limit == 50 and mapping.discover
    assert dict(mapping.headers) == {"x-pdp-tenant": "identity"}
    answer = {"decision": False, "context": {"reason_admin": {"code": "CROSS_TENANT_DENIED"}}}
    assert mapping.answer(answer, mapping.reason_path) == "CROSS_TENANT_DENIED"
    assert mapping.answer({"decision": False}, mapping.reason_path) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[facts]\nsalary = "subject.salary"\n', "unknown fact 'salary'"),
        ('[facts]\nroles = "principal.roles"\n', "is not <subject|resource|action|context>"),
        ('[facts]\nroles = "subject."\n', "is not <subject|resource|action|context>"),
        ("[facts]\nroles = 3\n", "must be a list of targets"),
        ('[answers]\nreason = ""\n', "answers.reason must be a dotted path"),
        ("[endpoints]\nbatch_limit = 0\n", "batch_limit must be an integer from 1 to 1000"),
        ('[endpoints]\nbatch_limit = "50"\n', "batch_limit must be an integer from 1 to 1000"),
        ('answers = "x"\n', "must be tables"),
        ("[facts\n", "cannot read AuthZEN mapping"),
    ],
)
def test_a_bad_mapping_file_is_refused(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(text)
    with pytest.raises(MappingError, match=re.escape(says)):
        load_mapping("generic", path)


def test_an_unknown_preset_or_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="unknown AuthZEN preset 'opa'"):
        load_mapping("opa")
    with pytest.raises(MappingError, match="cannot read AuthZEN mapping"):
        load_mapping("generic", tmp_path / "absent.toml")
