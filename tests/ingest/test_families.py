"""Version families and status: how documents are grouped, which one is current, every
undecidable case kept visible, the acme corpus's four conflicts, and the metadata file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from core.errors import ConfigError
from ingest.discover import DiscoverConfig, discover
from ingest.families import DocFacts, name_key, resolve_families
from ingest.loaders import load_document
from ingest.metadata_file import MetadataRules, Override
from ingest.versions import VersionInfo

ACME = Path(__file__).resolve().parents[2] / "examples" / "acme" / "docs"
TODAY = date(2025, 8, 1)


def fact(source: str, title: str = "", **info) -> DocFacts:
    return DocFacts(source, title or Path(source).stem, VersionInfo(**info))


def resolve(*docs: DocFacts):
    return resolve_families(list(docs), today=TODAY)


def test_name_keys_drop_years_versions_and_status_words():
    assert name_key("Returns and Refunds Policy (2023)").key == "returns and refunds policy"
    assert name_key("Robot Firmware 3.x Release Notes | Acme").versions == ((3,),)
    assert name_key("Policy, version 2.1").key == "policy"
    assert name_key("Top 10 Tips") == name_key("Top 10 Tips")  # a plain number is a name
    assert not name_key("Top 10 Tips").marked
    stem = name_key("firmware 2", file_stem=True)
    assert (stem.key, stem.versions) == ("firmware", ((2,),))


def test_same_title_without_the_year_is_one_family_and_the_newest_is_current():
    out, problems = resolve(
        fact("a/refunds-2023.md", "Refund Policy (2023)", effective_date="2023-01-01"),
        fact("b/refunds.md", "Refund Policy", effective_date="2025-04-01"),
        fact("c/warranty.md", "Warranty"),
    )
    assert problems == []
    assert out["b/refunds.md"].status == "current"
    assert out["a/refunds-2023.md"].status == "superseded"
    assert out["a/refunds-2023.md"].superseded_by == "b/refunds.md"
    assert out["a/refunds-2023.md"].family == out["b/refunds.md"].family == "refund policy"
    assert out["c/warranty.md"].status == "current" and out["c/warranty.md"].family == "warranty"


def test_file_names_in_one_folder_order_by_version_when_no_dates():
    out, _ = resolve(fact("notes/firmware-2.txt"), fact("notes/firmware-3.html", "Firmware"),
                     fact("other/firmware-1.txt"))
    assert out["notes/firmware-3.html"].status == "current"
    assert out["notes/firmware-2.txt"].status == "superseded"
    assert out["other/firmware-1.txt"].status == "current"  # another folder: another line


def test_plain_same_titles_are_not_versions_of_each_other():
    out, problems = resolve(fact("en/faq.md", "FAQ"), fact("fr/faq.md", "FAQ"))
    assert problems == [] and {r.status for r in out.values()} == {"current"}
    assert out["en/faq.md"].family != out["fr/faq.md"].family  # never one family by name


def test_a_document_that_says_archived_stays_archived():
    out, _ = resolve(fact("old.md", "Price List 2023", status="archived",
                          effective_date="2023-02-01"),
                     fact("new.md", "Price List 2025", effective_date="2022-01-01"))
    # it says it is archived, so the other is current even with an older date
    assert (out["old.md"].status, out["new.md"].status) == ("archived", "current")


def test_explicit_supersedes_joins_differently_named_documents():
    out, problems = resolve(
        fact("plans/pricing.html", "Plans", supersedes=("plans/sheet.pdf",), explicit=True),
        fact("plans/sheet.pdf", "Rate card"),
        fact("x.md", "X", supersedes=("nowhere.md",), explicit=True),
    )
    assert out["plans/sheet.pdf"].status == "superseded"
    assert out["plans/sheet.pdf"].family == out["plans/pricing.html"].family
    assert problems == ["x.md: supersedes 'nowhere.md' names no document in the index; ignored"]


def test_prose_references_resolve_only_to_exactly_one_document():
    out, _ = resolve(
        fact("pricing.html", "Plans and Pricing", supersedes=("the 2023 price sheet",)),
        fact("price-sheet-2023.pdf", "Care Price Sheet 2023"),
        fact("guide.md", "Setup guide", supersedes=("the guide",)),  # one word: not enough
        fact("guide-old.md", "Setup notes"),
    )
    assert out["price-sheet-2023.pdf"].status == "superseded"
    assert out["guide-old.md"].status == "current"


def test_two_documents_that_say_current_both_stay_current_with_a_message():
    out, problems = resolve(fact("p/a.md", "Policy", status="current", family="policy"),
                            fact("p/b.md", "Policy", status="current", family="policy"))
    assert {r.status for r in out.values()} == {"current"}
    assert len(problems) == 1 and "say they are current" in problems[0]
    assert "p/a.md" in problems[0] and "p/b.md" in problems[0]


def test_a_supersedes_cycle_is_ignored_and_named():
    out, problems = resolve(
        fact("a.md", "A", supersedes=("b.md",), explicit=True, effective_date="2025-01-01"),
        fact("b.md", "B", supersedes=("a.md",), explicit=True, effective_date="2024-01-01"),
    )
    assert len(problems) == 1
    assert problems[0].startswith("supersedes cycle: a.md -> b.md -> a.md")
    assert (out["a.md"].status, out["b.md"].status) == ("current", "superseded")  # dates decide


def test_an_unordered_family_keeps_every_candidate_current():
    out, problems = resolve(fact("x.md", "Guide", family="guide"),
                            fact("y.md", "Guide", family="guide"))
    assert {r.status for r in out.values()} == {"current"}
    assert "cannot tell which" in problems[0]


def test_a_future_effective_date_is_not_in_force_yet():
    out, problems = resolve(fact("p-2025.md", "Policy 2025", effective_date="2025-01-01"),
                            fact("p-2026.md", "Policy 2026", effective_date="2026-01-01"))
    assert (out["p-2025.md"].status, out["p-2026.md"].status) == ("current", "upcoming")
    assert "in the future" in problems[0]


def acme_resolutions():
    entries, _ = discover([ACME], DiscoverConfig())
    facts = []
    for entry in entries:
        doc = load_document(entry)
        facts.append(DocFacts(doc.source, doc.title, doc.version_info))
    return resolve_families(facts, today=TODAY)


def test_acme_conflicts_resolve_as_the_readme_says():
    out, problems = acme_resolutions()
    assert problems == []
    pairs = [("policies/refunds-2023.md", "archived", "policies/refunds-2025.md"),
             ("plans/price-sheet-2023.pdf", "archived", "plans/pricing.html"),
             ("policies/security-policy-2022.txt", "superseded",
              "policies/security-whitepaper-2025.pdf"),
             ("release-notes/firmware-2.txt", "archived", "release-notes/firmware-3.html")]
    for old, status, new in pairs:
        assert (out[old].status, out[old].superseded_by) == (status, new)
        assert out[new].status == "current" and out[new].family == out[old].family
    stale = {s for s, r in out.items() if r.status != "current"}
    assert stale == {old for old, _, _ in pairs}
    assert len({r.family for r in out.values()}) == len(out) - len(pairs)


# -- the metadata file -------------------------------------------------------------------


def test_metadata_file_toml_and_json_agree(tmp_path):
    toml = tmp_path / "meta.toml"
    toml.write_text('["policies/*.md"]\nfamily = "policies"\naccess = ["staff"]\n\n'
                    '["policies/old.md"]\nstatus = "archived"\neffective = 2023-01-01\n')
    js = tmp_path / "meta.json"
    js.write_text(json.dumps({"policies/*.md": {"family": "policies", "access": ["staff"]},
                              "policies/old.md": {"status": "archived",
                                                  "effective": "2023-01-01"}}))
    for path in (toml, js):
        rules = MetadataRules.load(path)
        assert rules.for_source("policies/old.md") == Override(
            family="policies", status="archived", effective="2023-01-01", access=("staff",))
        assert rules.for_source("other.md") is None
        assert rules.unmatched(["policies/new.md"]) == ["policies/old.md"]
        assert MetadataRules.from_json(rules.to_json()) == rules


@pytest.mark.parametrize(("content", "message"), [
    ('["a.md"]\nstatuss = "archived"\n', "unknown key statuss"),
    ('["a.md"]\nstatus = "retired"\n', "status must be one of"),
    ('["a.md"]\neffective = "2025-02-30"\n', "impossible date"),
    ('["a.md"]\neffective = "someday"\n', "not a date"),
    ('["a.md"]\ntitle = ""\n', "title must be a non-empty string"),
    ('["a.md"\n', "not valid toml"),
    ('a = 1\n', "expected a table of keys"),
])
def test_bad_metadata_files_are_config_errors_naming_the_problem(tmp_path, content, message):
    path = tmp_path / "meta.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        MetadataRules.load(path)


def test_metadata_file_of_another_kind_or_missing_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=".toml or .json"):
        (tmp_path / "m.yaml").write_text("x: 1")
        MetadataRules.load(tmp_path / "m.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        MetadataRules.load(tmp_path / "missing.toml")


def test_overrides_state_what_the_documents_do_not():
    rules = MetadataRules.from_json({"rules": {
        "plans/sheet.pdf": {"family": "pricing", "status": "archived"},
        "plans/pricing.html": {"family": "pricing", "effective": "2025-03-01"},
    }})
    facts = [DocFacts(s, s, rules.for_source(s).apply(VersionInfo()))
             for s in ("plans/sheet.pdf", "plans/pricing.html")]
    out, problems = resolve_families(facts, today=TODAY)
    assert problems == []
    assert (out["plans/sheet.pdf"].status, out["plans/pricing.html"].status) == (
        "archived", "current")
    assert out["plans/pricing.html"].effective_date == "2025-03-01"
    assert out["plans/sheet.pdf"].family == "pricing"
