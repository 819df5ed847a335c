"""Findings: rules as data turn published cells into statements with a corroboration level."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.snapshot.findings import FindingsError, build_findings, corroboration, load_rules, pct
from tasks.snapshot.indicators import load_indicators

RULES = """
findings:
  - id: online_matters
    theme: Channels
    statement: "{{ pct(helplines.value) }} of helpline contacts arrived online{% if children %}, and
      {{ pct(children.value) }} of children used online help{% endif %}."
    evidence:
      helplines: {indicator: share_h, cell: {country: all}, latest: year, group: helplines_services,
                  supports: value >= 0.25, contradicts: value < 0.1}
      providers: {indicator: share_p, cell: {org_type: all}, group: service_providers,
                  supports: value >= 0.25, contradicts: value < 0.1}
      children: {indicator: share_c, cell: {country: all}, group: children_youth,
                 supports: value >= 0.25, contradicts: value < 0.1}
"""


def only_finding(tmp_path: Path, rules: str, published: dict, label=str) -> dict:  # type: ignore[no-untyped-def]
    """The one finding the rules text makes from the published tables."""
    path = tmp_path / "f.yaml"
    path.write_text(rules, encoding="utf-8")
    [finding] = build_findings(load_rules(set(published), path), published, label=label)
    return finding


def table(*rows: dict, value: str = "value") -> dict:
    return {
        "rows": [{"disclosure": None, **r} for r in rows],
        "value": value,
        "unit": "share",
        "coverage": [{"source_id": "src", "country_iso3": "KEN", "first_period": "2023", "last_period": "2023"}],
    }


@pytest.fixture
def rules(tmp_path: Path) -> list:
    path = tmp_path / "findings.yaml"
    path.write_text(RULES, encoding="utf-8")
    return load_rules({"share_h", "share_p", "share_c"}, path)


def build(rules: list, h: float | None, p: float | None, c: float | None) -> dict:
    published = {
        "share_h": table(
            {"country": "all", "year": "2022", "value": 0.9},
            {"country": "all", "year": "2023", "value": h, "disclosure": None if h is not None else "[c]"},
        ),
        "share_p": table({"org_type": "all", "value": p}) if p is not None else table(),
        "share_c": table({"country": "all", "value": c}) if c is not None else table(),
    }
    [finding] = build_findings(rules, published, label=str)
    return finding


def test_three_groups_agreeing_give_the_highest_corroboration(rules: list) -> None:
    finding = build(rules, 0.4, 0.6, 0.3)
    assert finding.stated and finding.corroboration == "three or more groups"
    assert finding.supporting_groups == ("children_youth", "helplines_services", "service_providers")
    assert finding.statement == "40% of helpline contacts arrived online, and 30% of children used online help."
    assert [e.status for e in finding.evidence] == ["supports"] * 3
    assert finding.evidence[0].cell == {"country": "all"} and finding.evidence[0].values["year"] == "2023"


def test_a_contradicting_group_makes_the_finding_contested(rules: list) -> None:
    finding = build(rules, 0.4, 0.05, 0.3)
    assert finding.corroboration == "contested"
    assert finding.contradicting_groups == ("service_providers",)
    assert finding.supporting_groups == ("children_youth", "helplines_services")


def test_neutral_and_missing_evidence_do_not_count(rules: list) -> None:
    finding = build(rules, 0.4, 0.2, None)
    assert finding.corroboration == "single group" and finding.supporting_groups == ("helplines_services",)
    assert [e.status for e in finding.evidence] == ["supports", "neutral", "unavailable"]
    assert finding.statement == "40% of helpline contacts arrived online."


def test_two_groups(rules: list) -> None:
    assert build(rules, 0.4, 0.3, None).corroboration == "two groups"


def test_a_finding_whose_primary_evidence_is_hidden_is_not_stated(rules: list) -> None:
    finding = build(rules, None, 0.6, 0.3)
    assert not finding.stated and "hidden by disclosure control ([c])" in finding.reason
    assert "statement" not in finding


def test_a_finding_whose_primary_evidence_does_not_support_it_is_not_stated(rules: list) -> None:
    finding = build(rules, 0.2, 0.6, 0.3)
    assert not finding.stated and "value >= 0.25 is false" in finding.reason


def test_pick_takes_the_largest_published_value_and_skips_hidden_cells(tmp_path: Path) -> None:
    rules = """
findings:
  - id: top
    statement: "{{ label(top.answer) }} first at {{ pct(top.value) }}"
    evidence:
      top: {indicator: answers, cell: {country: all}, pick: max, group: children_youth, supports: value > 0}
"""
    published = {
        "answers": table(
            {"answer": "shame", "country": "all", "value": 0.3},
            {"answer": "secret", "country": "all", "value": None, "disclosure": "[c]"},
            {"answer": "fear", "country": "all", "value": 0.4},
            {"answer": "fear", "country": "KEN", "value": 0.9},
        )
    }
    assert only_finding(tmp_path, rules, published, label=str.upper).statement == "FEAR first at 40%"


def test_corroboration_levels() -> None:
    assert corroboration(set(), set()) == "unsupported"
    assert corroboration({"a"}, set()) == "single group"
    assert corroboration({"a", "b"}, set()) == "two groups"
    assert corroboration({"a", "b", "c", "d"}, set()) == "three or more groups"
    assert corroboration({"a", "b", "c"}, {"d"}) == "contested"


def test_pct_reads_like_a_person_writes() -> None:
    assert (pct(0.3083), pct(0.066), pct(1)) == ("31%", "6.6%", "100%")


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "findings:\n  - {id: a, statement: x, evidence: {e: {indicator: nope, group: children_youth, "
            "supports: 'true'}}}",
            "unknown indicator 'nope'",
        ),
        (
            "findings:\n  - {id: a, statement: x, evidence: {e: {indicator: ok, group: kids, supports: 'true'}}}",
            "unknown group 'kids'",
        ),
        (
            "findings:\n  - {id: a, statement: x, evidence: {e: {indicator: ok, group: children_youth}}}",
            "evidence 'e', field supports: Field required",
        ),
        (
            "findings:\n  - {id: a, statement: x, evidence: {e: {indicator: ok, group: children_youth, "
            "supports: 'true', pick: best}}}",
            "evidence 'e', field pick: Input should be 'max' or 'min'",
        ),
        (
            "findings:\n  - {id: a, statement: x, evidence: {e: {indicator: ok, group: children_youth, "
            "supports: 'true', colour: red}}}",
            "evidence 'e', field colour: Extra inputs are not permitted",
        ),
    ],
)
def test_wrong_rules_are_refused_with_what_to_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FindingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_rules({"ok"}, path)


def test_the_project_rules_name_existing_indicators() -> None:
    rules = load_rules({i.id for i in load_indicators()})
    assert len(rules) >= 5 and len({r.id for r in rules}) == len(rules)
    assert any(len({e.group for e in r.evidence}) >= 3 for r in rules)


def test_where_leaves_out_cells_that_do_not_qualify_before_the_latest_is_taken(tmp_path: Path) -> None:
    rules = """
findings:
  - id: providers
    statement: "{{ pct(p.value) }} in {{ p.year }}"
    evidence:
      p: {indicator: prov, cell: {org_type: all}, where: reports >= 5, latest: year, group: service_providers,
          supports: value > 0}
"""
    published = {
        "prov": table(
            {"org_type": "all", "year": "2023", "value": 0.6, "reports": 14},
            {"org_type": "all", "year": "2024", "value": 0.7, "reports": 3},
        )
    }
    assert only_finding(tmp_path, rules, published).statement == "60% in 2023"
