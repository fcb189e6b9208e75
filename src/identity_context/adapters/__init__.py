"""Adapters of the application ports: PostgreSQL, policy engines, JWT, telemetry."""
