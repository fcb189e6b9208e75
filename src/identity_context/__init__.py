"""identity-context: a gRPC identity-context service for a multi-tenant platform."""

__version__ = "0.1.0"
