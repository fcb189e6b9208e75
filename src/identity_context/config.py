"""Settings read from ``IDENTITY_CONTEXT_*`` environment variables, validated once."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ConfigError", "Mode", "Settings"]


class ConfigError(ValueError):
    """The configuration is invalid; the service refuses to start."""


class Mode(enum.StrEnum):
    """Development (local issuer, auto-migrate, embedded store) or production."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


_TRUE = {"on", "true", "1", "yes"}
_FALSE = {"off", "false", "0", "no"}


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be on or off, not {raw!r}")


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def _keys(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return ()
    keys = tuple(k.strip() for k in raw.split(","))
    if any(len(k) < 32 for k in keys):
        raise ConfigError(f"{name}: every key must be at least 32 characters")
    return keys


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the composition root needs; see the README's table of variables."""

    mode: Mode = Mode.DEVELOPMENT
    listen: str = "127.0.0.1:50051"
    data_dir: Path = Path(".identity-context")
    database_url: str | None = None
    migration_database_url: str | None = None
    issuers_file: Path | None = None
    local_issuer: bool = True
    migrate_on_start: bool = True
    shutdown_grace_s: float = 10.0
    shutdown_pause_s: float = 0.5
    page_token_keys: tuple[str, ...] = ()
    access_log: bool = True
    token_leeway_s: float = 30.0
    log_level: str = "INFO"
    log_format: str = "json"
    max_message_bytes: int = 4 * 1024 * 1024
    max_metadata_bytes: int = 16 * 1024
    max_concurrent_rpcs: int = 1000
    pool_min_size: int = 2
    pool_max_size: int = 10
    authz: str = "embedded"
    authzen_url: str | None = None
    authz_timeout_s: float = 2.0
    authzen_preset: str = "generic"
    authzen_mapping_file: Path | None = None
    authzen_token: str | None = None
    authz_selftest: bool = True
    hat_sweep_s: float = 5.0
    # The fact stream (issue: access-control facts).
    fact_streams_per_tenant: int = 8
    fact_stream_max_s: float = 3600.0
    fact_retention_s: float = 7 * 86_400.0
    fact_job_s: float = 1.0
    fact_poll_s: float = 1.0
    export_resume_s: float = 60.0

    @property
    def embedded_store(self) -> bool:
        """True when no database URL is set: the embedded PostgreSQL in the data directory.

        Any database URL, the owner's alone included, means an external store:
        nothing embedded is ever started then.
        """
        return self.database_url is None and self.migration_database_url is None

    def runtime_store_url(self) -> str | None:
        """The runtime role's URL for serving, None for the embedded store.

        Raise ConfigError when serving cannot know its database: production
        without IDENTITY_CONTEXT_DATABASE_URL (the embedded PostgreSQL is for
        development), or an owner URL without a runtime URL.
        """
        if self.database_url is not None:
            return self.database_url
        if self.mode is Mode.PRODUCTION:
            raise ConfigError(
                "refusing to start: production mode needs IDENTITY_CONTEXT_DATABASE_URL "
                "(the embedded PostgreSQL is for development)"
            )
        if self.migration_database_url is not None:
            raise ConfigError(
                "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL is set without "
                "IDENTITY_CONTEXT_DATABASE_URL: serving needs the runtime role's URL"
            )
        return None

    def migration_store_url(self) -> str | None:
        """The owner's URL for migrating, None for the embedded store.

        Migrating needs only the owner: IDENTITY_CONTEXT_MIGRATION_DATABASE_URL,
        else IDENTITY_CONTEXT_DATABASE_URL. Raise ConfigError in production when
        neither is set.
        """
        url = self.migration_database_url or self.database_url
        if url is None and self.mode is Mode.PRODUCTION:
            raise ConfigError(
                "production mode migrates the database named by "
                "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL (the owner role); it is not set"
            )
        return url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the settings.

        Raise ConfigError on any invalid value, and when production mode is
        combined with the local development issuer.
        """
        env = os.environ if environ is None else environ
        raw_mode = env.get("IDENTITY_CONTEXT_MODE", "development").strip().lower()
        try:
            mode = Mode(raw_mode)
        except ValueError:
            raise ConfigError(
                f"IDENTITY_CONTEXT_MODE must be development or production, not {raw_mode!r}"
            ) from None
        production = mode is Mode.PRODUCTION
        local_issuer = _flag(env, "IDENTITY_CONTEXT_LOCAL_ISSUER", not production)
        if production and local_issuer:
            raise ConfigError(
                "refusing to start: IDENTITY_CONTEXT_LOCAL_ISSUER=on is not allowed in production "
                "mode; configure trusted issuers with IDENTITY_CONTEXT_ISSUERS_FILE instead"
            )
        database_url = env.get("IDENTITY_CONTEXT_DATABASE_URL") or None
        issuers_file = env.get("IDENTITY_CONTEXT_ISSUERS_FILE") or None
        log_format = env.get("IDENTITY_CONTEXT_LOG_FORMAT", "json").strip().lower()
        if log_format not in {"json", "text"}:
            raise ConfigError("IDENTITY_CONTEXT_LOG_FORMAT must be json or text")
        pool_min = int(_number(env, "IDENTITY_CONTEXT_DB_POOL_MIN", 2, minimum=1))
        pool_max = int(_number(env, "IDENTITY_CONTEXT_DB_POOL_MAX", 10, minimum=1))
        if pool_max < pool_min:
            raise ConfigError(
                "IDENTITY_CONTEXT_DB_POOL_MAX must be >= IDENTITY_CONTEXT_DB_POOL_MIN"
            )
        authz = env.get("IDENTITY_CONTEXT_AUTHZ", "embedded").strip().lower()
        if authz not in {"embedded", "authzen"}:
            raise ConfigError("IDENTITY_CONTEXT_AUTHZ must be embedded or authzen")
        authzen_url = env.get("IDENTITY_CONTEXT_AUTHZEN_URL") or None
        if authz == "authzen" and not authzen_url:
            raise ConfigError("IDENTITY_CONTEXT_AUTHZ=authzen needs IDENTITY_CONTEXT_AUTHZEN_URL")
        preset = env.get("IDENTITY_CONTEXT_AUTHZEN_PRESET", "generic").strip().lower()
        if preset not in {"generic", "cerbos"}:
            raise ConfigError("IDENTITY_CONTEXT_AUTHZEN_PRESET must be generic or cerbos")
        mapping_file = env.get("IDENTITY_CONTEXT_AUTHZEN_MAPPING") or None
        return cls(
            authz=authz,
            authzen_url=authzen_url,
            authzen_preset=preset,
            authzen_mapping_file=Path(mapping_file) if mapping_file else None,
            authzen_token=env.get("IDENTITY_CONTEXT_AUTHZEN_TOKEN") or None,
            authz_selftest=_flag(env, "IDENTITY_CONTEXT_AUTHZ_SELFTEST", True),
            hat_sweep_s=_number(env, "IDENTITY_CONTEXT_HAT_SWEEP_S", 5.0, minimum=0.05),
            fact_streams_per_tenant=int(
                _number(env, "IDENTITY_CONTEXT_FACT_STREAMS_PER_TENANT", 8, minimum=1)
            ),
            fact_stream_max_s=_number(env, "IDENTITY_CONTEXT_FACT_STREAM_MAX_S", 3600.0, minimum=1),
            fact_retention_s=_number(
                env, "IDENTITY_CONTEXT_FACT_RETENTION_S", 7 * 86_400.0, minimum=1
            ),
            fact_job_s=_number(env, "IDENTITY_CONTEXT_FACT_JOB_S", 1.0, minimum=0.05),
            fact_poll_s=_number(env, "IDENTITY_CONTEXT_FACT_POLL_S", 1.0, minimum=0.05),
            export_resume_s=_number(env, "IDENTITY_CONTEXT_EXPORT_RESUME_S", 60.0, minimum=0),
            authz_timeout_s=_number(env, "IDENTITY_CONTEXT_AUTHZ_TIMEOUT_S", 2.0, minimum=0.01),
            mode=mode,
            listen=env.get("IDENTITY_CONTEXT_LISTEN", "127.0.0.1:50051").strip(),
            data_dir=Path(env.get("IDENTITY_CONTEXT_DATA_DIR") or ".identity-context"),
            database_url=database_url,
            migration_database_url=env.get("IDENTITY_CONTEXT_MIGRATION_DATABASE_URL") or None,
            issuers_file=Path(issuers_file) if issuers_file else None,
            local_issuer=local_issuer,
            migrate_on_start=_flag(env, "IDENTITY_CONTEXT_MIGRATE_ON_START", not production),
            shutdown_grace_s=_number(env, "IDENTITY_CONTEXT_SHUTDOWN_GRACE_S", 10.0, minimum=0),
            shutdown_pause_s=_number(
                env, "IDENTITY_CONTEXT_SHUTDOWN_PAUSE_S", 5.0 if production else 0.5, minimum=0
            ),
            page_token_keys=_keys(env, "IDENTITY_CONTEXT_PAGE_TOKEN_KEYS"),
            access_log=_flag(env, "IDENTITY_CONTEXT_ACCESS_LOG", True),
            token_leeway_s=_number(env, "IDENTITY_CONTEXT_TOKEN_LEEWAY_S", 30.0, minimum=0),
            log_level=env.get("IDENTITY_CONTEXT_LOG_LEVEL", "INFO").strip().upper(),
            log_format=log_format,
            max_message_bytes=int(
                _number(env, "IDENTITY_CONTEXT_MAX_MESSAGE_BYTES", 4 * 1024 * 1024, minimum=1024)
            ),
            max_metadata_bytes=int(
                _number(env, "IDENTITY_CONTEXT_MAX_METADATA_BYTES", 16 * 1024, minimum=1024)
            ),
            max_concurrent_rpcs=int(
                _number(env, "IDENTITY_CONTEXT_MAX_CONCURRENT_RPCS", 1000, minimum=1)
            ),
            pool_min_size=pool_min,
            pool_max_size=pool_max,
        )
