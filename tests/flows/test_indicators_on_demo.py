"""Every indicator in sql/indicators, computed in the demo warehouse (SQLite and PostgreSQL, every loaded batch
approved), equals what this test computes on its own from the raw files of demo/inbox with pandas.

The oracle never calls the pipeline (no tasks.extract / convert / harmonise / ingest). It reads the sent files as
the registry (config/sources.yaml) describes them: encodings, delimiters, the xlsx sheet and header row, the JSON
records path, the column names and the registry's own value mappings. It leaves out the seeded defective rows of
demo/expected_defects.yaml, the duplicate and the refused file, applies config/errata.yaml, and turns the senders'
labels into our codes with the small explicit tables below. Dimension facts (which channels are online, harm-type
parents) come from schemas/vocab."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from fnmatch import fnmatch
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import BACKENDS, demo_settings, warehouse  # tests/conftest.py, as pytest imports it
from openpyxl import load_workbook

from pop import paths
from pop.db import get_engine
from tasks.ledger.review import pending_loaded_batches, review_batch
from tasks.snapshot.indicators import IndicatorResult, compute_indicators, load_indicators

INBOX = paths.DEMO_INBOX
REL = 1e-9
ALL = "all"


def _yaml(*parts: str) -> dict:
    """A YAML file of the project, read."""
    return yaml.safe_load(paths.ROOT.joinpath(*parts).read_text(encoding="utf-8"))


SOURCES = {s["id"]: s for s in _yaml("config", "sources.yaml")["sources"]}
DEFECTS = _yaml("demo", "expected_defects.yaml")
ERRATA = _yaml("config", "errata.yaml")["errata"]
DROPPED_ROWS = {(r["source"], r["file"], r["row"]) for r in DEFECTS["rows"]}
SKIPPED_FILES = {(f["source"], f["file"]) for f in DEFECTS["files"]}  # the duplicate and the refused file
ONLINE = {c["code"]: c["online"] for c in _yaml("schemas", "vocab", "channels.yaml")["values"]}
HARMS = {h["code"]: h for h in _yaml("schemas", "vocab", "harm_types.yaml")["values"]}


def same(*codes: str) -> dict[str, str]:
    """Codes a sender (or the registry's value mapping) already writes our way."""
    return {code: code for code in codes}


# ---------------------------------------------------------------- senders' labels → our codes (keys lower-case)
COUNTRIES = {
    "kenya": "KEN",
    "brasil": "BRA",
    "phl": "PHL",
    "deutschland": "DEU",  # helplines
    "ke": "KEN",
    "ph": "PHL",
    "br": "BRA",
    "de": "DEU",
}  # youth survey (ISO alpha-2)
REGIONS = {"KEN": "Africa", "BRA": "Americas", "PHL": "Asia", "DEU": "Europe"}  # UN M49
CONTACT_TYPES = {"non-counselling": "non_counselling"} | same("counselling", "non_counselling")
CHANNELS = {"whatsapp": "messaging_app", "web chat": "web_chat"} | same(
    "phone", "sms", "web_chat", "messaging_app", "email", "social_media", "in_person"
)
REASONS = {
    "physical abuse": "violence.physical",
    "sexual abuse": "violence.sexual",
    "neglect": "violence.neglect",
    "emotional abuse": "violence.mental_emotional",
    "cyberbullying": "online.cyberbullying",
    "sextortion": "online.sextortion",
    "online grooming": "online.grooming",
    "grooming": "online.grooming",
    "mental health": "mental_health",
    "family relationships": "family_relationships",
    "peer relationships": "peer_relationships",
    "education": "education_occupation",
    "sexuality": "sexuality",
    "non-counselling": "non_counselling",
    "online sexual exploitation": "violence.online_sexual_exploitation",
    "information seeking about osa/ose": "violence.info_osa_ose",
} | same(*HARMS)
HELPLINE_BANDS = {
    "7-9": "0-9",
    "10-12": "10-12",
    "13-15": "13-15",
    "16-17": "16-17",
    "18-25": "mixed",
    "unknown": "unknown",
}  # the POP band holding the helpline's band; 18-25 spans two
GENDERS = {"female": "girl", "male": "boy", "non-binary": "nonbinary"} | same("girl", "boy", "nonbinary", "unknown")
RESPONDENT_GENDERS = {"1": "boy", "2": "girl", "3": "other", "9": "prefer_not_to_say"}
YOUTH_BANDS = [(8, 9, "0-9"), (10, 12, "10-12"), (13, 15, "13-15"), (16, 17, "16-17"), (18, 24, "18-24")]
YES_NO = {"yes": True, "1": True, "no": False, "0": False}
OUTCOMES = {"dont_know": "unknown"} | same("helped", "partly", "not_helped")
HELP_TOOLS = same(
    "helpline_chat_or_app",
    "helpline_phone",
    "platform_report_or_block",
    "messaging_app",
    "social_media_peer",
    "search_engine",
    "ai_chatbot",
    "online_counselling",
    "youth_led_platform",
    "other",
)
BARRIERS = same("shame", "fear_trouble", "didnt_know_where", "not_serious", "no_access", "distrust", "other")
PLATFORMS = {"twitter": "x", "x (twitter)": "x"} | same(
    "facebook", "instagram", "whatsapp", "youtube", "tiktok", "snapchat", "discord", "roblox", "x", "all", "other"
)
PROVIDER_TYPES = {
    "social services": "social_services",
    "child helpline": "helpline",
    "reporting hotline": "hotline_reporting",
    "hotline": "hotline_reporting",
    "referral": "referral_service",
    "police": "law_enforcement",
    "health service": "health",
} | same("social_services", "helpline", "law_enforcement", "ngo")
COMPANIES = {
    "facebook": "meta",
    "meta": "meta",
    "meta platforms, inc.": "meta",
    "tiktok": "bytedance",
    "google llc": "alphabet",
    "snapchat": "snap",
    "snap inc.": "snap",
    "twitter": "x_corp",
    "x corp.": "x_corp",
}
REPORTERS = {"self-reported": "company", "ncmec": "ncmec", "eu dsa transparency database": "regulator"}
METRICS = {
    "content actioned": "content_actioned",
    "content removed": "content_actioned",
    "proactive rate": "proactive_rate",
    "accounts actioned": "accounts_actioned",
    "accounts suspected under 13 removed": "underage_accounts_removed",
    "safety tool users": "safety_tool_users",
    "reports to ncmec": "cybertipline_reports",
    "cybertipline reports": "cybertipline_reports",
}
UNITS = {"%": "percent"} | same("count")
EVIDENCE = {"case study": "case_study"} | same("evaluation", "research", "testimony", "dataset", "policy")
INTERVENTIONS = {
    "reporting tool": "reporting_tool",
    "peer support": "peer_support",
    "platform feature": "platform_feature",
    "policy": "policy_law",
} | same("education", "helpline", "other")
THEMES = {
    "non-consensual image sharing": "online.nonconsensual_image_sharing",
    "sextortion": "online.sextortion",
    "cyberbullying": "online.cyberbullying",
    "harmful content": "online.harmful_content",
    "online grooming": "online.grooming",
    "grooming": "online.grooming",
    "privacy invasion": "online.privacy_invasion",
    "mental health": "mental_health",
    "online sexual exploitation": "violence.online_sexual_exploitation",
    "online sexual abuse": "violence.online_sexual_abuse",
}
AUDIENCES = {
    "tech": "tech_ict_industry",
    "helplines": "helplines_online_services",
    "children": "children_youth",
    "children & youth": "children_youth",
    "policy makers": "policy_makers",
    "cso": "cso_other",
    "un agencies": "un_agencies",
}


def coded(values: pd.Series, table: dict[str, str], what: str) -> pd.Series:
    """Sender labels → our codes; a label the table lacks fails the oracle loudly."""
    keys = values.astype(str).str.strip().str.lower()
    unmapped = sorted(set(keys[~keys.isin(table)]))
    assert not unmapped, f"the oracle has no code for {what} {unmapped}"
    return keys.map(table)


def coded_lists(values: pd.Series, table: dict[str, str], what: str) -> pd.Series:
    """';'-separated sender labels → a list of distinct codes per cell."""
    lists = values.fillna("").astype(str).map(lambda cell: [t.strip() for t in cell.split(";") if t.strip()])
    coded(pd.Series([t for cell in lists for t in cell], dtype=object), table, what)
    return lists.map(lambda cell: list(dict.fromkeys(table[t.lower()] for t in cell)))


def whole(values: pd.Series) -> pd.Series:
    """Whole numbers as sent ('8,900,000', 62); missing stays missing."""
    return pd.to_numeric(values.map(lambda v: str(v).replace(",", "") if pd.notna(v) else None)).astype("Int64")


# ---------------------------------------------------------------- reading the sent files
def read_sent(path: Path, source: dict) -> pd.DataFrame:
    """A sent file as the sender wrote it, indexed by the row number a spreadsheet shows (JSON: record index)."""
    if source["format"] == "csv":
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding=source["encoding"], sep=source["delimiter"]
        )
        return frame.set_axis(range(2, len(frame) + 2))
    if source["format"] == "xlsx":
        workbook = load_workbook(path, read_only=True, data_only=True)
        rows = list(workbook[source["sheet"]].iter_rows(min_row=source["header_row"], values_only=True))
        workbook.close()
        first = source["header_row"] + 1
        return pd.DataFrame(rows[1:], columns=rows[0], index=range(first, first + len(rows) - 1)).dropna(how="all")
    records = json.loads(path.read_text(encoding=source["encoding"]))[source["records_path"]]
    return pd.DataFrame(records, index=range(1, len(records) + 1))


def apply_errata(frame: pd.DataFrame, source_id: str, file_name: str) -> pd.DataFrame:
    """config/errata.yaml on one file: overrides write their values, drops remove rows, flags change nothing."""
    for erratum in ERRATA:
        if erratum["source"] != source_id or not fnmatch(file_name, erratum.get("file", "*")):
            continue
        hit = pd.Series(True, index=frame.index)
        for name, value in erratum["where"].items():
            hit &= frame[name].astype(str).str.strip().str.lower() == str(value).lower()
        assert hit.any(), f"erratum {erratum['id']} matches no row of {file_name}"
        if erratum["action"] == "override":
            frame = frame.assign(**{name: frame[name].where(~hit, value) for name, value in erratum["set"].items()})
        elif erratum["action"] == "drop":
            frame = frame[~hit]
    return frame


@cache
def sent_rows(source_id: str) -> pd.DataFrame:
    """Every row of a source that should load, in our column names with the registry's value mappings and errata."""
    source = SOURCES[source_id]
    frames = []
    for path in sorted(INBOX.glob(source["files"])):
        if (source_id, path.name) in SKIPPED_FILES:
            continue
        frame = read_sent(path, source)
        frame = frame[[(source_id, path.name, int(row)) not in DROPPED_ROWS for row in frame.index]]
        frame = frame.rename(columns=source["columns"])
        for name, codes in source.get("values", {}).items():
            frame[name] = frame[name].map(lambda value, codes=codes: codes.get(value, value))
        frames.append(apply_errata(frame, source_id, path.name).assign(file=path.name))
    return pd.concat(frames, ignore_index=True)


def year_of(periods: pd.Series) -> pd.Series:
    """The year of a period label: 2023, 2023-H1, 2023-Q2, Q2 2023, 2023-05."""
    return periods.astype(str).str.extract(r"(\d{4})", expand=False)


def platform_column(raw: pd.DataFrame) -> pd.Series | None:
    """The platform column of helpline files (platform) or provider reports (platforms_seen), if the file has one."""
    names = [c for c in raw.columns if str(c).strip().lower() in ("platform", "platforms_seen")]
    return raw[names[0]] if names else None


def platform_lists(raw: pd.DataFrame) -> pd.Series:
    """The platforms each row names (empty lists for files without a platform column)."""
    column = platform_column(raw)
    if column is None:
        return pd.Series([[] for _ in range(len(raw))], index=raw.index, dtype=object)
    return coded_lists(column, PLATFORMS, "platform")


# ---------------------------------------------------------------- the warehouse rows, rebuilt from the files
@cache
def helpline_cells() -> pd.DataFrame:
    """Helpline cells of the four demo helplines, in our codes, with the POP age band."""
    raw = pd.concat(
        [sent_rows(s).assign(source=s) for s in ("helpline_ke", "helpline_br", "helpline_ph", "helpline_de")],
        ignore_index=True,
    )
    return pd.DataFrame(
        {
            "source": raw["source"],
            "country_iso3": coded(raw["country"], COUNTRIES, "country"),
            "year": year_of(raw["period"]),
            "contact_type": coded(raw["contact_type"], CONTACT_TYPES, "contact type"),
            "channel": coded(raw["channel"], CHANNELS, "channel"),
            "reason": coded(raw["reason"], REASONS, "reason"),
            "age_band": coded(raw["age_band"], HELPLINE_BANDS, "age band"),
            "gender": coded(raw["gender"], GENDERS, "gender"),
            "contacts": whole(raw["contacts"]).astype("int64"),
            "platforms": platform_lists(raw),
        }
    )


@cache
def youth() -> pd.DataFrame:
    """Youth survey respondents: answers in our codes, multi-select answers as lists of codes."""
    raw = sent_rows("youth_survey")
    told = SOURCES["youth_survey"]["multi_select_columns"]["told_whom"]
    age = pd.to_numeric(raw["age"]).astype("int64")
    return pd.DataFrame(
        {
            "country_iso3": coded(raw["country"], COUNTRIES, "country"),
            "age": age,
            "age_band": age.map(lambda a: next(band for low, high, band in YOUTH_BANDS if low <= a <= high)),
            "gender": coded(raw["gender"], RESPONDENT_GENDERS, "gender"),
            "felt_unsafe": raw["felt_unsafe_context"],
            "sought_help": raw["sought_help"].map(YES_NO).astype("boolean"),
            "used_online_help": raw["used_online_help"].map(YES_NO).astype(bool),
            "outcome": raw["help_outcome"].map(lambda v: OUTCOMES[v] if v else None),
            "weight": raw["weight"].astype(float),
            "help_tools_used": coded_lists(raw["help_tools_used"], HELP_TOOLS, "help tool"),
            "platforms_named": coded_lists(raw["platforms_named"], PLATFORMS, "platform"),
            "told_whom": raw[list(told)].apply(lambda r: [told[c] for c in told if r[c] == "1"], axis=1),
            "barriers": coded_lists(raw["barriers"], BARRIERS, "barrier"),
        }
    )


@cache
def provider_reports() -> pd.DataFrame:
    """Service provider reports of the network and the portal, with our org types and the report's year."""
    raw = pd.concat([sent_rows("sp_network"), sent_rows("sp_portal")], ignore_index=True)
    return pd.DataFrame(
        {
            "org_type": coded(raw["org_type"], PROVIDER_TYPES, "org type"),
            "year": year_of(raw["period"]),
            "platforms": platform_lists(raw),
            **{c: whole(raw[c]) for c in ("contacts_total", "contacts_online", "referrals_in", "referrals_out")},
        }
    )


@cache
def tech_metrics() -> pd.DataFrame:
    """Transparency metrics with canonical companies, products, reporters, metrics, units and period labels."""
    raw = sent_rows("tech_transparency")
    return pd.DataFrame(
        {
            "company": coded(raw["company"], COMPANIES, "company"),
            "product": coded(raw["product"], PLATFORMS, "product"),
            "reporter": coded(raw["reporter"], REPORTERS, "reporter"),
            "metric": coded(raw["metric"], METRICS, "metric"),
            "unit": coded(raw["unit"], UNITS, "unit"),
            "value_quality": raw["value_quality"],
            "period": raw["period"].str.replace(r"^(\d{4}) Q([1-4])$", r"\1-Q\2", regex=True),
            "year": year_of(raw["period"]),
            "value": pd.to_numeric(raw["value"].str.replace(",", "")),
            "is_total_row": raw["is_total_row"].str.strip().str.lower().eq("yes"),
        }
    )


@cache
def submissions() -> pd.DataFrame:
    """Protection community submissions: types in our codes, themes and audiences as lists of codes."""
    raw = sent_rows("community_submissions")
    return pd.DataFrame(
        {
            "evidence_type": coded(raw["evidence_type"], EVIDENCE, "evidence type"),
            "intervention_type": coded(raw["intervention_type"], INTERVENTIONS, "intervention"),
            "theme": coded_lists(raw["harm_types"], THEMES, "harm type"),
            "audience": coded_lists(raw["audiences"], AUDIENCES, "audience"),
            "consent": raw["consent"].map(YES_NO).astype(int),
        }
    )


# ---------------------------------------------------------------- small aggregation helpers
def with_totals(frame: pd.DataFrame, *dims: str) -> pd.DataFrame:
    """The rows again with each of `dims` set to 'all' (every combination), so that sums give the margins."""
    for dim in dims:
        frame = pd.concat([frame, frame.assign(**{dim: ALL})], ignore_index=True)
    return frame


def one_way(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows once per one-way breakdown: by country, by age band, by gender, and all (others set to 'all')."""
    dims = ["country_iso3", "age_band", "gender"]
    return pd.concat([frame.assign(**{d: ALL for d in dims if d != kept}) for kept in (*dims, None)], ignore_index=True)


def answer_shares(asked: pd.DataFrame, field: str) -> pd.DataFrame:
    """Weighted share of respondents giving each answer of a multi-select field among `asked`, one way by country,
    age band and gender, and all."""
    by = ["country_iso3", "age_band", "gender"]
    asked = one_way(asked)
    picked = asked[[*by, "weight", field]].explode(field).dropna(subset=[field])
    num = picked.groupby([field, *by]).agg(weight=("weight", "sum"), cases=("weight", "size"))
    den = asked.groupby(by).agg(asked=("weight", "sum"), base=("weight", "size"))
    out = num.join(den, on=by).reset_index().rename(columns={field: "answer"})
    return out.assign(value=out["weight"] / out["asked"])[["answer", *by, "value", "cases", "base"]]


def online_cells(cells: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Online contacts (cases) and contacts of a known channel (base) of helpline cells, by `by`."""
    known = cells[cells["channel"] != "unknown"]
    known = known.assign(cases=known["contacts"].where(known["channel"].map(ONLINE), 0), base=known["contacts"])
    return known.groupby(by, as_index=False)[["cases", "base"]].sum()


# ---------------------------------------------------------------- the oracle, one function per indicator
def expected_helpline_online_share() -> pd.DataFrame:
    """Online share of helpline contacts per region, country and year, with region and world totals."""
    cells = online_cells(helpline_cells(), ["country_iso3", "year"]).assign(
        region=lambda f: f["country_iso3"].map(REGIONS)
    )
    regions = cells.assign(country_iso3=ALL)
    world = regions.assign(region=ALL).groupby(["region", "country_iso3", "year"], as_index=False).sum()
    out = pd.concat([cells, regions, world], ignore_index=True)
    return out.assign(value=out["cases"] / out["base"])


def expected_helpline_online_share_trend() -> pd.DataFrame:
    """Percentage-point change of each country's online share from the year before."""
    years = online_cells(helpline_cells(), ["country_iso3", "year"]).assign(share=lambda f: f["cases"] / f["base"])
    before = years.assign(year=(years["year"].astype(int) + 1).astype(str)).rename(
        columns={"share": "previous_share", "cases": "previous_cases", "base": "previous_base"}
    )
    out = years.merge(before, on=["country_iso3", "year"])
    return out.assign(value=100 * (out["share"] - out["previous_share"]))


def reason_group(reason: str) -> str:
    """An online-related reason keeps its own line; any other counts under its parent category."""
    harm = HARMS[reason]
    return reason if harm["online_related"] else harm["parent"] or reason


def expected_helpline_reasons() -> pd.DataFrame:
    """Share of counselling contacts per reason within each age band and gender, with the 'all' reasons row."""
    cells = helpline_cells()
    counselling = cells[(cells["contact_type"] == "counselling") & (cells["reason"] != "non_counselling")]
    counselling = counselling.assign(reason=counselling["reason"].map(reason_group))
    by_reason = counselling.groupby(["reason", "age_band", "gender"], as_index=False)["contacts"].sum()
    totals = by_reason.groupby(["age_band", "gender"], as_index=False)["contacts"].sum()
    out = pd.concat([by_reason, totals.assign(reason=ALL)], ignore_index=True).rename(columns={"contacts": "cases"})
    out = out.merge(totals.rename(columns={"contacts": "base"}), on=["age_band", "gender"])
    online = out["reason"].map(lambda r: None if r == ALL else ("yes" if HARMS[r]["online_related"] else "no"))
    return out.assign(value=out["cases"] / out["base"], online_related=online)


def expected_youth_help_seeking() -> pd.DataFrame:
    """Weighted shares who sought help / used online help among those who felt unsafe, one breakdown at a time."""
    unsafe = youth()[youth()["felt_unsafe"] != "none"]
    dims = ["country_iso3", "age_band", "gender"]
    parts = []
    for measure in ("sought_help", "used_online_help"):
        answered = unsafe[unsafe[measure].notna()]
        yes = answered[measure].astype(int)
        parts.append(one_way(answered.assign(measure=measure, yes=yes, weighted_yes=yes * answered["weight"])))
    out = (
        pd.concat(parts)
        .groupby(["measure", *dims])
        .agg(weight=("weight", "sum"), weighted_yes=("weighted_yes", "sum"), cases=("yes", "sum"), base=("yes", "size"))
    )
    return out.assign(value=out["weighted_yes"] / out["weight"]).reset_index()


def expected_youth_choices() -> pd.DataFrame:
    """Weighted share giving each answer of the four multiple-choice questions, each among those it was asked of:
    help tools and platforms of those who used online help, whom they told of those who felt unsafe, barriers of
    those who felt unsafe and (answered that they) did not seek help."""
    people = youth()
    unsafe = people["felt_unsafe"] != "none"
    asked = {
        "help_tools_used": people["used_online_help"],
        "platforms_named": people["used_online_help"],
        "told_whom": unsafe,
        "barriers": unsafe & people["sought_help"].eq(False),
    }
    return pd.concat(
        [answer_shares(people[who], question).assign(question=question) for question, who in asked.items()],
        ignore_index=True,
    )


def expected_youth_help_outcome() -> pd.DataFrame:
    """Weighted share of each outcome among those who sought help and answered, one way by country, age band and
    gender, with the outcome totals."""
    people = youth()
    sought = people[people["sought_help"].eq(True) & people["outcome"].notna()]
    by = ["country_iso3", "age_band", "gender"]
    cells = (
        with_totals(one_way(sought), "outcome")
        .groupby(["outcome", *by])
        .agg(weight=("weight", "sum"), cases=("weight", "size"))
        .reset_index()
    )
    totals = cells[cells["outcome"] == ALL][[*by, "weight", "cases"]]
    out = cells.merge(totals, on=by, suffixes=("", "_all"))
    return out.assign(value=out["weight"] / out["weight_all"], base=out["cases_all"])


def expected_provider_online_referrals() -> pd.DataFrame:
    """Online share of provider contacts (reports giving both numbers) and referrals, per org type and year."""
    reports = provider_reports()
    has_online = reports["contacts_online"].notna()
    reports = reports.assign(
        cases=reports["contacts_online"].where(has_online, 0), base=reports["contacts_total"].where(has_online, 0)
    )
    out = (
        with_totals(reports, "org_type")
        .groupby(["org_type", "year"])
        .agg(
            cases=("cases", "sum"),
            base=("base", "sum"),
            referrals_in=("referrals_in", "sum"),
            referrals_out=("referrals_out", "sum"),
            reports=("cases", "size"),
        )
        .reset_index()
    )
    out = out.astype(dict.fromkeys(("cases", "base", "referrals_in", "referrals_out"), "int64"))
    return out.assign(value=out["cases"] / out["base"])


def expected_tech_reports_actions() -> pd.DataFrame:
    """Count metrics summed per company, product, reporter, metric and year, with the periods reported; a source's
    own total rows are left out (they repeat the products it lists)."""
    metrics = tech_metrics()
    counts = metrics[(metrics["unit"] == "count") & ~metrics["is_total_row"]]
    out = (
        counts.groupby(["company", "product", "reporter", "metric", "year"])
        .agg(value=("value", "sum"), periods_reported=("period", "nunique"))
        .reset_index()
    )
    return out.astype({"value": "int64"})


def expected_protection_evidence() -> pd.DataFrame:
    """Submissions (and those with consent) per theme, audience, type of intervention and type of evidence."""
    subs = submissions()
    parts = [
        subs[[b, "consent"]].explode(b).rename(columns={b: "category"}).assign(breakdown=b)
        for b in ("theme", "audience", "intervention_type", "evidence_type")
    ]
    return (
        pd.concat(parts)
        .groupby(["breakdown", "category"])
        .agg(submissions=("consent", "size"), with_consent=("consent", "sum"))
        .reset_index()
    )


def helpline_platform_contacts() -> pd.Series:
    """Helpline contacts per platform recorded in the helplines' platform column."""
    named = helpline_cells()[["platforms", "contacts"]].explode("platforms").dropna(subset=["platforms"])
    return named.groupby("platforms")["contacts"].sum()


def expected_platform_triangulation() -> pd.DataFrame:
    """Per platform: youth share naming it among online-help users, helpline contacts, provider reports, NCMEC."""
    used = youth()[youth()["used_online_help"]]
    named = (
        used[["weight", "platforms_named"]]
        .explode("platforms_named")
        .dropna()
        .groupby("platforms_named")
        .agg(weight=("weight", "sum"), cases=("weight", "size"))
    )
    metrics = tech_metrics()
    ncmec = (
        metrics[
            (metrics["reporter"] == "ncmec")
            & (metrics["metric"] == "cybertipline_reports")
            & ~metrics["product"].isin([ALL, "other"])
        ]
        .groupby("product")["value"]
        .sum()
    )
    providers = provider_reports()["platforms"].explode().dropna().value_counts()
    helplines = helpline_platform_contacts()
    sides = {
        "children_youth": named["cases"],
        "helplines_services": helplines,
        "service_providers": providers,
        "tech_companies": ncmec,
    }
    platforms = sorted(set().union(*(side.index for side in sides.values())) - {"other"})
    out = pd.DataFrame({"platform": platforms})
    return out.assign(
        value=out["platform"].map(named["weight"]).fillna(0) / used["weight"].sum(),
        cases=out["platform"].map(named["cases"]).fillna(0).astype("int64"),
        base=len(used),
        helpline_contacts=out["platform"].map(helplines).fillna(0).astype("int64"),
        provider_reports=out["platform"].map(providers).fillna(0).astype("int64"),
        ncmec_reports=out["platform"].map(ncmec).fillna(0).astype("int64"),
        groups_seeing=sum(out["platform"].isin(side.index).astype("int64") for side in sides.values()),
    )


ORACLES: dict[str, Callable[[], pd.DataFrame]] = {
    "helpline_online_share": expected_helpline_online_share,
    "helpline_online_share_trend": expected_helpline_online_share_trend,
    "helpline_reasons": expected_helpline_reasons,
    "platform_triangulation": expected_platform_triangulation,
    "protection_evidence": expected_protection_evidence,
    "provider_online_referrals": expected_provider_online_referrals,
    "tech_reports_actions": expected_tech_reports_actions,
    "youth_help_outcome": expected_youth_help_outcome,
    "youth_help_seeking": expected_youth_help_seeking,
    "youth_choices": expected_youth_choices,
}


# ---------------------------------------------------------------- comparing the warehouse's cells with the oracle's
def _same(got: object, want: object, exact: bool) -> bool:
    """Equal values: exactly (counts, missing values) or within REL (shares, weighted values)."""
    if want is None or (isinstance(want, float) and pd.isna(want)):
        return got is None or (isinstance(got, float) and pd.isna(got))
    if got is None:
        return False
    return got == want if exact else got == pytest.approx(want, rel=REL)


def mismatches(result: IndicatorResult, expected: pd.DataFrame) -> list[str]:
    """Every cell and column where the indicator differs from the oracle, in words."""
    dims = list(result.indicator.dimensions)
    actual = result.cells.set_index(dims)
    expected = expected.astype(dict.fromkeys(dims, str)).set_index(dims)
    problems = [f"missing cell {key}" for key in expected.index.difference(actual.index)]
    problems += [f"unexpected cell {key}" for key in actual.index.difference(expected.index)]
    columns = [c for c in result.indicator.columns if c not in dims]
    for key in expected.index.intersection(actual.index):
        for column in columns:
            got, want = actual.at[key, column], expected.at[key, column]
            exact = pd.api.types.is_integer_dtype(expected[column]) or not isinstance(want, float)
            if not _same(got, want, exact):
                problems.append(f"{key} {column}: warehouse {got}, oracle {want}")
    return problems


# ---------------------------------------------------------------- the demo warehouse, once per backend
@pytest.fixture(scope="module", params=BACKENDS)
def computed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, IndicatorResult]]:
    """The demo inbox ingested into a fresh warehouse, every loaded batch approved, every indicator computed."""
    from flows.ingest import ingest

    folder = tmp_path_factory.mktemp(f"indicators-{request.param}")
    with warehouse(request.param, folder) as url, demo_settings(folder / "outputs", url):
        ingest(return_state=True)  # fails on purpose: helpline_de/kontakte_2021.csv lacks its contacts column
        engine = get_engine(url)
        with engine.begin() as conn:
            for batch_id in pending_loaded_batches(conn):
                review_batch(conn, batch_id, "approved", "oracle test", "approved to compute the indicators")
        with engine.connect() as conn:
            results = compute_indicators(conn, load_indicators())
        yield results


def test_every_indicator_file_has_an_oracle() -> None:
    assert set(ORACLES) == {indicator.id for indicator in load_indicators()}


@pytest.mark.parametrize("indicator_id", sorted(ORACLES))
def test_indicator_equals_the_oracle(computed: dict[str, IndicatorResult], indicator_id: str) -> None:
    expected = ORACLES[indicator_id]()
    assert len(expected) > 0, f"the oracle found no cell of {indicator_id}"
    problems = mismatches(computed[indicator_id], expected)
    assert not problems, f"{indicator_id}: {len(problems)} difference(s):\n" + "\n".join(problems[:40])


def cell(frame: pd.DataFrame, **dims: str) -> pd.Series:
    """The one row of `frame` with the given dimension values."""
    [row] = frame.loc[(frame[list(dims)] == pd.Series(dims)).all(axis=1)].to_dict("records")
    return pd.Series(row)


SPOT_REASONS = [
    ("online.cyberbullying", "13-15", "girl"),
    ("violence", "10-12", "boy"),
    ("all", "13-15", "girl"),
    ("mental_health", "mixed", "unknown"),
    ("online.sextortion", "16-17", "girl"),
    ("all", "0-9", "boy"),
]


def test_helpline_reasons_spot_cells_and_totals(computed: dict[str, IndicatorResult]) -> None:
    cells, expected = computed["helpline_reasons"].cells, expected_helpline_reasons()
    for reason, band, gender in SPOT_REASONS:
        got, want = (cell(f, reason=reason, age_band=band, gender=gender) for f in (cells, expected))
        assert (got["cases"], got["base"]) == (want["cases"], want["base"])
        assert got["value"] == pytest.approx(want["value"], rel=REL)
    raw = helpline_cells()
    counselling = raw[(raw["contact_type"] == "counselling") & (raw["reason"] != "non_counselling")]
    by_reason, totals = cells[cells["reason"] != ALL], cells[cells["reason"] == ALL]
    assert by_reason["cases"].sum() == totals["cases"].sum() == counselling["contacts"].sum()


def test_platform_triangulation_sees_platforms_from_four_groups(computed: dict[str, IndicatorResult]) -> None:
    cells = computed["platform_triangulation"].cells.set_index("platform")
    assert helpline_platform_contacts().sum() == cells["helpline_contacts"].sum() > 0
    assert provider_reports()["platforms"].explode().dropna().size == cells["provider_reports"].sum() > 0
    assert set(cells.index[cells["ncmec_reports"] > 0]) == {
        "facebook",
        "instagram",
        "whatsapp",
        "snapchat",
        "tiktok",
        "x",
    }
    seen_by_all = cells.index[cells["groups_seeing"] == 4]
    assert {"instagram", "whatsapp", "snapchat", "tiktok", "facebook"} & set(seen_by_all)
