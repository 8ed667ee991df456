"""Settings from the environment: a bad ``ASSISTANT_*`` value is a ``ConfigError`` naming
the variable (the command line prints it as one line and exits 2)."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.settings import get_settings


@pytest.fixture(autouse=True)
def _fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(("name", "value", "message"), [
    ("ASSISTANT_SERVER_PORT", "abc", r"ASSISTANT_SERVER_PORT: .*valid integer.* \(got 'abc'\)"),
    ("ASSISTANT_SERVER_PORT", "70000", r"ASSISTANT_SERVER_PORT: .*less than or equal to 65535"),
    ("ASSISTANT_SEARCH_FUSION", "sum", r"ASSISTANT_SEARCH_FUSION: .*'convex' or 'rrf'"),
    ("ASSISTANT_ANSWER_GENERATE", "maybe", r"ASSISTANT_ANSWER_GENERATE: .*boolean"),
    ("ASSISTANT_SERVER_ADAPTERS", "{\"a\": 5}", r"ASSISTANT_SERVER_ADAPTERS\['a'\]: "),
    ("ASSISTANT_SERVER_API_KEYS", "k1,k2", r"ASSISTANT_SERVER_API_KEYS is not valid JSON"),
])
def test_a_bad_variable_is_named(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        get_settings()


def test_a_bad_key_list_does_not_echo_the_keys(monkeypatch):
    monkeypatch.setenv("ASSISTANT_SERVER_API_KEYS", '["secret-key-1", {"x": "secret-key-2"}]')
    with pytest.raises(ConfigError, match=r"ASSISTANT_SERVER_API_KEYS\[1\]") as caught:
        get_settings()
    assert "secret-key" not in str(caught.value)
