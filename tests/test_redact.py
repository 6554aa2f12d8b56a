"""Which env keys name secrets."""

from __future__ import annotations

import pytest

from driftcheck.redact import DEFAULT_SENSITIVE_WORDS, Redactor


@pytest.mark.parametrize(
    "key",
    [
        "HF_TOKEN",
        "api_key",
        "Db_Password",
        "MY_SECRET_X",
        "AUTH_HEADER",
        "PASSWD",
        "CREDENTIALS",
        "GOOGLE_APPLICATION_CREDENTIAL",
        "OPENAI_API_KEY",
        "hf_token",
        "x-auth",
    ],
)
def test_keys_naming_a_secret_are_sensitive_by_default(key: str) -> None:
    assert Redactor().is_sensitive(key)


@pytest.mark.parametrize(
    "key",
    ["MODEL", "MAX_MODEL_LEN", "GPU_MEMORY_UTILIZATION", "LOG_LEVEL", "PORT", ""],
)
def test_ordinary_keys_are_not_sensitive(key: str) -> None:
    assert not Redactor().is_sensitive(key)


def test_the_built_in_words() -> None:
    assert set(DEFAULT_SENSITIVE_WORDS) == {
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "KEY",
        "CREDENTIAL",
        "AUTH",
    }


def test_a_glob_marks_more_keys_sensitive() -> None:
    redactor = Redactor(["LICENSE_*"])

    assert redactor.is_sensitive("LICENSE_SERVER")
    assert redactor.is_sensitive("LICENSE_")
    assert not Redactor().is_sensitive("LICENSE_SERVER")


def test_a_glob_ignores_case() -> None:
    redactor = Redactor(["LICENSE_*"])

    assert redactor.is_sensitive("license_server")
    assert redactor.is_sensitive("License_Server")


def test_a_glob_must_match_the_whole_key() -> None:
    redactor = Redactor(["LICENSE_*"])

    assert not redactor.is_sensitive("MY_LICENSE_SERVER")
    assert not redactor.is_sensitive("LICENSE")


def test_several_globs_each_count() -> None:
    redactor = Redactor(["LICENSE_*", "*_DSN", "SENTRY?URL"])

    assert redactor.is_sensitive("LICENSE_SERVER")
    assert redactor.is_sensitive("DATABASE_DSN")
    assert redactor.is_sensitive("SENTRY_URL")
    assert not redactor.is_sensitive("SENTRY__URL")
    assert not redactor.is_sensitive("MODEL")


def test_a_glob_character_class() -> None:
    redactor = Redactor(["S3_[AB]*"])

    assert redactor.is_sensitive("S3_BUCKET")
    assert not redactor.is_sensitive("S3_REGION")


def test_globs_add_to_the_built_in_words_never_replace_them() -> None:
    redactor = Redactor(["LICENSE_*"])

    assert redactor.is_sensitive("HF_TOKEN")
    assert redactor.is_sensitive("DB_PASSWORD")


def test_exact_keys_are_sensitive_without_touching_others() -> None:
    redactor = Redactor(keys=["MODEL_URL"])

    assert redactor.is_sensitive("MODEL_URL")
    assert not redactor.is_sensitive("MODEL")
    assert not redactor.is_sensitive("MODEL_URL_FALLBACK")
