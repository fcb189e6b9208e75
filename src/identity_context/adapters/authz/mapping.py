"""Where the facts of a decision go in an AuthZEN request, and where the answer's go.

AuthZEN 1.0 fixes the envelope (subject, action, resource, context), not the
property names inside it: every PDP reads its own. A mapping names, for each
fact, every place it is written (``subject.<name>``, ``resource.<name>``,
``action.<name>`` or ``context.<name>``; the name may hold dots, as in
``subject.cerbos.roles``), and where a deny's reason and the deciding policies
are found in the answer. Two presets: ``generic`` (the documented default) and
``cerbos`` (roles also in ``cerbos.roles``, which Cerbos reads, prefixed by the
subject's type so every principal has a role; request-context facts copied
onto the subject, because Cerbos policies never see the request context).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FACTS", "PRESETS", "AuthZenMapping", "MappingError", "load_mapping"]

# The facts a decision has, with what each is.
FACTS: dict[str, str] = {
    "roles": "the actor's roles (platform roles and roles in the target tenant)",
    "principal_roles": "the subject's type followed by its roles (for engines that need a role)",
    "actor_tenant": "the tenant claim of the actor's token",
    "assurance_level": "0 none, 1..3 for aal1..aal3",
    "active_hat": "the hat the actor wears (empty: none)",
    "break_glass": "true when the request asked for break-glass",
    "break_glass_reason": "the break-glass reason of the request",
    "correlation_id": "the request's correlation id",
}
_ENTITIES = ("subject", "resource", "action", "context")

PRESETS: dict[str, dict[str, Any]] = {
    "generic": {
        "facts": {
            "roles": ["subject.roles"],
            "actor_tenant": ["subject.actor_tenant"],
            "assurance_level": ["subject.assurance_level"],
            "active_hat": ["subject.active_hat"],
            "break_glass": ["context.break_glass"],
            "break_glass_reason": ["context.break_glass_reason"],
            "correlation_id": ["context.correlation_id"],
        },
        "answers": {"reason": "context.reason", "policy_ids": "context.policy_ids"},
    },
    "cerbos": {
        "facts": {
            "roles": ["subject.roles"],
            "principal_roles": ["subject.cerbos.roles"],
            "actor_tenant": ["subject.actor_tenant"],
            "assurance_level": ["subject.assurance_level"],
            "active_hat": ["subject.active_hat"],
            "break_glass": ["subject.break_glass", "context.break_glass"],
            "break_glass_reason": ["subject.break_glass_reason", "context.break_glass_reason"],
            "correlation_id": ["context.correlation_id"],
        },
        "answers": {"reason": "context.reason", "policy_ids": "context.policy_ids"},
    },
}


class MappingError(ValueError):
    """The mapping configuration is unusable."""


@dataclass(frozen=True, slots=True)
class AuthZenMapping:
    """Targets per fact, answer paths, endpoints and extra headers of a remote PDP."""

    facts: Mapping[str, tuple[tuple[str, str], ...]]
    reason_path: tuple[str, ...] = ("context", "reason")
    policy_ids_path: tuple[str, ...] = ("context", "policy_ids")
    evaluation_path: str = "/access/v1/evaluation"
    evaluations_path: str = "/access/v1/evaluations"
    discover: bool = True
    batch_limit: int = 50
    headers: Mapping[str, str] = field(default_factory=dict)

    def place(self, body: dict[str, Any], facts: Mapping[str, Any]) -> None:
        """Write each fact of *facts* into every target the mapping names for it."""
        for fact, targets in self.facts.items():
            if fact not in facts:
                continue
            for entity, name in targets:
                section = body[entity]
                properties = section.setdefault("properties", {})
                properties[name] = facts[fact]

    def answer(self, answer: Mapping[str, Any], path: tuple[str, ...]) -> Any:
        """The value at *path* in *answer*, or None."""
        found: Any = answer
        for step in path:
            if not isinstance(found, Mapping):
                return None
            found = found.get(step)
        return found


def _target(text: str, where: str) -> tuple[str, str]:
    entity, _, name = text.partition(".")
    if entity not in _ENTITIES or not name:
        raise MappingError(f"{where}: {text!r} is not <subject|resource|action|context>.<name>")
    return entity, name


def _path(text: object, where: str) -> tuple[str, ...]:
    if not isinstance(text, str) or not text:
        raise MappingError(f"{where} must be a dotted path such as context.reason")
    return tuple(text.split("."))


def _batch_limit(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise MappingError(f"{where} must be an integer from 1 to 1000")
    return value


def build_mapping(document: Mapping[str, Any], where: str = "mapping") -> AuthZenMapping:
    """Build a mapping from a preset-shaped document; raise MappingError when invalid."""
    facts: dict[str, tuple[tuple[str, str], ...]] = {}
    raw = document.get("facts", {})
    if not isinstance(raw, Mapping):
        raise MappingError(f"{where}: 'facts' must be a table")
    for fact, given in raw.items():
        if fact not in FACTS:
            raise MappingError(f"{where}: unknown fact {fact!r}; known: {', '.join(FACTS)}")
        targets = [given] if isinstance(given, str) else given
        if not isinstance(targets, list):
            raise MappingError(f"{where}: facts.{fact} must be a list of targets")
        facts[fact] = tuple(_target(str(t), f"{where}: facts.{fact}") for t in targets)
    answers = document.get("answers", {})
    endpoints = document.get("endpoints", {})
    headers = document.get("headers", {})
    if not all(isinstance(x, Mapping) for x in (answers, endpoints, headers)):
        raise MappingError(f"{where}: 'answers', 'endpoints' and 'headers' must be tables")
    return AuthZenMapping(
        facts=facts,
        reason_path=_path(answers.get("reason", "context.reason"), f"{where}: answers.reason"),
        policy_ids_path=_path(
            answers.get("policy_ids", "context.policy_ids"), f"{where}: answers.policy_ids"
        ),
        evaluation_path=str(endpoints.get("evaluation", "/access/v1/evaluation")),
        evaluations_path=str(endpoints.get("evaluations", "/access/v1/evaluations")),
        discover=bool(endpoints.get("discover", True)),
        batch_limit=_batch_limit(
            endpoints.get("batch_limit", 50), f"{where}: endpoints.batch_limit"
        ),
        headers={str(k): str(v) for k, v in headers.items()},
    )


def load_mapping(preset: str, path: Path | None = None) -> AuthZenMapping:
    """The mapping of *preset*, with the tables of the TOML/JSON file at *path* on top.

    A table of the file replaces the preset's table of the same name, fact by
    fact for ``facts``. Raise MappingError on an unknown preset or a bad file.
    """
    if preset not in PRESETS:
        raise MappingError(f"unknown AuthZEN preset {preset!r}; known: {', '.join(PRESETS)}")
    document: dict[str, Any] = {k: dict(v) for k, v in PRESETS[preset].items()}
    if path is not None:
        try:
            text = path.read_text()
            given = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (OSError, ValueError) as exc:
            raise MappingError(f"cannot read AuthZEN mapping {path}: {exc}") from exc
        for table, values in given.items():
            if table == "facts" and isinstance(values, Mapping):
                document["facts"].update(values)
            else:
                document[table] = values
    return build_mapping(document, str(path or preset))
