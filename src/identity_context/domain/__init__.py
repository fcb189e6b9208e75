"""Pure domain model: identifiers, value objects, rules and errors (stdlib only)."""
