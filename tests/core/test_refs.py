"""``name@vN`` references: parsing, formatting, and the one rule that tells them from paths."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.refs import Ref, RefError, format_ref, is_path, parse_ref


@pytest.mark.parametrize(("text", "ref"), [
    ("support", Ref("support")),
    ("support@v3", Ref("support", 3)),
    ("acme-grounded@v12", Ref("acme-grounded", 12)),
    ("all-MiniLM-L6-v2", Ref("all-MiniLM-L6-v2")),
    ("a.b_c-d@v0007", Ref("a.b_c-d", 7)),
])
def test_references_parse(text, ref):
    assert parse_ref(text) == ref


@pytest.mark.parametrize("text", [
    "out/support", "out/support@v3", "/abs/adapter", "./support", "../up", ".hidden",
    "~/adapters/support", "~support@v1",
])
def test_separators_and_leading_dot_or_tilde_are_paths(text):
    assert is_path(text) and is_path(text, on_disk=False)
    assert parse_ref(text) is None and parse_ref(text, on_disk=False) is None


def test_an_existing_file_or_folder_is_a_path_unless_the_disk_is_not_asked(tmp_path,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "support-lora").mkdir()
    (tmp_path / "tuned@v1").mkdir()
    assert parse_ref("support-lora") is None and parse_ref("tuned@v1") is None
    assert parse_ref("support-lora", on_disk=False) == Ref("support-lora")
    assert parse_ref("tuned@v1", on_disk=False) == Ref("tuned", 1)
    assert parse_ref("elsewhere") == Ref("elsewhere")


@pytest.mark.parametrize(("text", "match"), [
    ("", "empty"),
    ("support@", "write NAME or NAME@vN"),
    ("support@3", r"e\.g\. support@v1"),
    ("support@vx", "write NAME or NAME@vN"),
    ("support@V3", "write NAME or NAME@vN"),
    ("@v3", r"e\.g\. name@v1"),
    ("bad name", "not a valid name"),
    ("a@b@v1", "not a valid name"),
    ("-lead@v1", "not a valid name"),
    ("x" * 65, "not a valid name"),
])
def test_malformed_references_are_config_errors(text, match):
    with pytest.raises(RefError, match=match) as info:
        parse_ref(text, on_disk=False)
    assert isinstance(info.value, ConfigError)


def test_ref_checks_its_fields():
    with pytest.raises(RefError, match="not a valid name"):
        Ref("no/slash")
    for version in (-1, True, "3", 1.0):
        with pytest.raises(RefError, match="version"):
            Ref("ok", version)


def test_format_round_trips():
    assert format_ref("support", 3) == "support@v3" == str(Ref("support", 3))
    assert format_ref("support") == "support" == str(Ref("support"))
    for ref in (Ref("support"), Ref("support", 0), Ref("x.y-z", 1234)):
        assert parse_ref(format_ref(ref.name, ref.version), on_disk=False) == ref


def test_refs_are_frozen_and_hashable():
    ref = Ref("support", 3)
    with pytest.raises(AttributeError):
        ref.version = 4  # type: ignore[misc]
    assert {ref, Ref("support", 3)} == {ref}
