"""Settings from the environment; production refuses the local issuer."""

from __future__ import annotations

import pytest

from identity_context.config import ConfigError, Mode, Settings

PROD_DB = {"IDENTITY_CONTEXT_MODE": "production", "IDENTITY_CONTEXT_DATABASE_URL": "postgresql://x"}


def test_development_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.mode is Mode.DEVELOPMENT
    assert settings.local_issuer and settings.migrate_on_start and settings.embedded_store
    assert settings.listen == "127.0.0.1:50051"


def test_production_turns_local_issuer_and_auto_migration_off() -> None:
    settings = Settings.from_env(PROD_DB)
    assert not settings.local_issuer and not settings.migrate_on_start


def test_production_with_local_issuer_on_is_refused() -> None:
    with pytest.raises(ConfigError, match="not allowed in production"):
        Settings.from_env({**PROD_DB, "IDENTITY_CONTEXT_LOCAL_ISSUER": "on"})


def test_production_serving_needs_the_runtime_url() -> None:
    settings = Settings.from_env({"IDENTITY_CONTEXT_MODE": "production"})
    with pytest.raises(ConfigError, match="IDENTITY_CONTEXT_DATABASE_URL"):
        settings.runtime_store_url()
    owner_only = Settings.from_env(
        {"IDENTITY_CONTEXT_MODE": "production", "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL": "o"}
    )
    with pytest.raises(ConfigError, match="IDENTITY_CONTEXT_DATABASE_URL"):
        owner_only.runtime_store_url()


def test_migrating_needs_only_the_owner_url_and_never_embeds_when_one_is_set() -> None:
    owner_only = Settings.from_env(
        {"IDENTITY_CONTEXT_MODE": "production", "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL": "o"}
    )
    assert owner_only.migration_store_url() == "o" and not owner_only.embedded_store
    development = Settings.from_env({"IDENTITY_CONTEXT_MIGRATION_DATABASE_URL": "o"})
    assert development.migration_store_url() == "o" and not development.embedded_store
    with pytest.raises(ConfigError, match="IDENTITY_CONTEXT_MIGRATION_DATABASE_URL"):
        Settings.from_env({"IDENTITY_CONTEXT_MODE": "production"}).migration_store_url()
    assert Settings.from_env({}).migration_store_url() is None  # embedded


@pytest.mark.parametrize(
    "env",
    [
        {"IDENTITY_CONTEXT_MODE": "staging"},
        {"IDENTITY_CONTEXT_LOCAL_ISSUER": "maybe"},
        {"IDENTITY_CONTEXT_SHUTDOWN_GRACE_S": "-1"},
        {"IDENTITY_CONTEXT_SHUTDOWN_GRACE_S": "soon"},
        {"IDENTITY_CONTEXT_LOG_FORMAT": "xml"},
        {"IDENTITY_CONTEXT_DB_POOL_MIN": "5", "IDENTITY_CONTEXT_DB_POOL_MAX": "2"},
    ],
)
def test_invalid_values_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_the_remote_engine_settings() -> None:
    remote = {"IDENTITY_CONTEXT_AUTHZ": "authzen", "IDENTITY_CONTEXT_AUTHZEN_URL": "http://pdp"}
    settings = Settings.from_env(remote)
    assert settings.authzen_preset == "generic" and settings.authz_selftest
    settings = Settings.from_env(
        {
            **remote,
            "IDENTITY_CONTEXT_AUTHZEN_PRESET": "Cerbos",
            "IDENTITY_CONTEXT_AUTHZEN_TOKEN": "s3cret",
            "IDENTITY_CONTEXT_AUTHZ_SELFTEST": "off",
        }
    )
    assert settings.authzen_preset == "cerbos" and settings.authzen_token == "s3cret"
    assert not settings.authz_selftest
    with pytest.raises(ConfigError, match="must be generic or cerbos"):
        Settings.from_env({**remote, "IDENTITY_CONTEXT_AUTHZEN_PRESET": "opa"})
    with pytest.raises(ConfigError, match="needs IDENTITY_CONTEXT_AUTHZEN_URL"):
        Settings.from_env({"IDENTITY_CONTEXT_AUTHZ": "authzen"})


def test_an_unusable_mapping_file_is_a_configuration_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from identity_context.bootstrap import build_authorization

    bad = tmp_path / "mapping.toml"
    bad.write_text('[facts]\nroles = "nowhere"\n')
    settings = Settings.from_env(
        {
            "IDENTITY_CONTEXT_AUTHZ": "authzen",
            "IDENTITY_CONTEXT_AUTHZEN_URL": "http://pdp",
            "IDENTITY_CONTEXT_AUTHZEN_MAPPING": str(bad),
        }
    )
    with pytest.raises(ConfigError, match="facts.roles"):
        build_authorization(settings)
