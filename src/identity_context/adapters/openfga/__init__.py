"""Access-control facts as OpenFGA tuples, and the OpenFGA authorization model they fit.

The mapping (docs/facts.md):

- a fact is the tuple ``{user: subject, relation: relation, object: object}``,
  identifiers unchanged (``realm:acme/eu`` is type ``realm``, id ``acme/eu``);
- NATIVE mode: a group-held membership is a ``group:<slug>/<name>#member``
  userset, and every member is ``{user: user:<id>, relation: member, object:
  group:<slug>/<name>}``; FLATTENED mode: one tuple per member user instead;
- SCOPE facts are ``{user: <parent>, relation: parent, object: <scope>}``, and
  every relation of the model on a scope is inherited from its parent
  (``<relation> from parent``): a membership on a realm holds on its service
  areas and assets;
- the active hat is ``{user: user:<id>, relation: wears, object: <scope>}``;
- windows: the stream writes a tuple when its window opens and deletes it when
  it closes, so the tuples hold no conditions.

The model declares the relations it is given; ``model()`` with no argument is
the shipped model (``model.fga`` beside this module) for the standard relations.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from typing import Protocol

from identity_context.domain.roles import FACT_RELATIONS, PLATFORM_OPERATOR, TENANT_ADMIN

__all__ = ["STANDARD_RELATIONS", "model", "shipped_model", "shipped_model_path", "tuple_of"]

# The relations of the shipped model: the tenant plane's own and a common
# vocabulary; `identity-context export --format openfga-model` renders a model
# with a tenant's actual relations added.
STANDARD_RELATIONS: tuple[str, ...] = (
    "admin",
    "approver",
    "editor",
    "member",
    "owner",
    "viewer",
    PLATFORM_OPERATOR,
    TENANT_ADMIN,
)
_SCOPE_PARENTS = {"realm": "tenant", "service": "realm, service", "asset": "realm, service, asset"}
_MODEL_FILE = "model.fga"


class _Triple(Protocol):
    @property
    def subject(self) -> str: ...
    @property
    def relation(self) -> str: ...
    @property
    def object(self) -> str: ...


def tuple_of(fact: _Triple) -> dict[str, str]:
    """The OpenFGA tuple of *fact* (a domain Fact or an AccessControlFact message)."""
    return {"user": fact.subject, "relation": fact.relation, "object": fact.object}


def model(relations: Iterable[str] = ()) -> str:
    """The OpenFGA model (DSL, schema 1.1) with the standard and the given relations."""
    names = sorted((set(STANDARD_RELATIONS) | set(relations)) - FACT_RELATIONS)
    lines = [
        "model",
        "  schema 1.1",
        "",
        "type user",
        "",
        "type group",
        "  relations",
        "    define member: [user]",
        "",
        "type tenant",
        "  relations",
    ]
    lines += [f"    define {name}: [user, group#member]" for name in names]
    lines.append("    define wears: [user]")
    for kind, parents in _SCOPE_PARENTS.items():
        lines += ["", f"type {kind}", "  relations", f"    define parent: [{parents}]"]
        lines += [
            f"    define {name}: [user, group#member] or {name} from parent" for name in names
        ]
        lines.append("    define wears: [user] or wears from parent")
    return "\n".join(lines) + "\n"


def shipped_model_path() -> str:
    """Where the shipped model file is (``python -m identity_context.adapters.openfga``
    rewrites it)."""
    return str(resources.files(__package__) / _MODEL_FILE)


def shipped_model() -> str:
    """The shipped model file (a test keeps it equal to ``model()``)."""
    return (resources.files(__package__) / _MODEL_FILE).read_text()
