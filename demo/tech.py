"""Demo tech-company transparency metrics in long format, with company aliases, rounded values and NCMEC counts.
Facebook's 2023 child-sexual-exploitation actions and TikTok's under-13 removals follow the published reports (as in
DOMAIN.md); NCMEC's per-platform counts are as recalled from its yearly CyberTipline tables (check before citing);
every other figure is illustrative, of a realistic size. Demo data: never cite it as evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from demo.common import GroundTruth, Table, csv_bytes, duplicate, spoil, write

SOURCE = "tech_transparency"
FILE = "transparency_metrics_2022_2023.csv"
COLUMNS = [
    "Company",
    "Service",
    "Reported by",
    "Metric",
    "Policy area",
    "DSA category",
    "Period",
    "Unit",
    "Value",
    "Precision",
    "Total row",
    "Source document",
]
QUARTERS = [f"2023 Q{q}" for q in range(1, 5)]
META_CSE = "Child Endangerment: Sexual Exploitation"
SELF = "self-reported"

# NCMEC CyberTipline reports received per platform, and each company's own count of reports it sent (yearly).
CYBERTIPLINE = [  # company alias, product, year, NCMEC's count, company's own count (None: not published)
    ("Facebook", "Facebook", 2022, 21_165_208, 21_100_000),
    ("Meta Platforms, Inc.", "Instagram", 2022, 5_007_902, None),
    ("Meta Platforms, Inc.", "WhatsApp", 2022, 1_017_555, None),
    ("Google LLC", "all", 2022, 2_174_548, 2_180_000),
    ("Snapchat", "Snapchat", 2022, 551_086, 550_000),
    ("TikTok", "TikTok", 2022, 288_125, 290_000),
    ("Twitter", "Twitter", 2022, 98_050, 120_000),
    ("Facebook", "Facebook", 2023, 17_838_422, 17_800_000),
    ("Meta Platforms, Inc.", "Instagram", 2023, 11_430_007, None),
    ("Meta Platforms, Inc.", "WhatsApp", 2023, 1_389_618, None),
    ("Google LLC", "all", 2023, 1_470_958, 1_460_000),
    ("Snapchat", "Snapchat", 2023, 713_055, 690_000),
    ("TikTok", "TikTok", 2023, 590_376, 600_000),
    ("X Corp.", "X", 2023, 597_087, 870_000),
]


def _row(
    company: str,
    product: str,
    reporter: str,
    metric: str,
    policy: str,
    period: str,
    unit: str,
    value: object,
    precision: str = "exact",
    document: str = "",
    dsa: str = "",
    total: str = "no",
) -> dict[str, object]:
    return {
        "Company": company,
        "Service": product,
        "Reported by": reporter,
        "Metric": metric,
        "Policy area": policy,
        "DSA category": dsa,
        "Period": period,
        "Unit": unit,
        "Value": value,
        "Precision": precision,
        "Total row": total,
        "Source document": document,
    }


def _grouped(value: float) -> str:
    """A value as published: rounded to 100,000s and written with thousands separators."""
    return f"{round(value, -5):,.0f}"


def meta_rows() -> list[dict[str, object]]:
    """Meta's quarterly enforcement figures (rounded as published) and proactive rates."""
    doc = "Community Standards Enforcement Report"
    fb = [8.9e6, 7.2e6, 16.9e6, 16.2e6]
    ig = [1.7e6, 1.6e6, 2.1e6, 1.9e6]
    rate = ["98.9", "99.0", "99.2", "99.1"]
    rows = []
    for quarter, f, i, r in zip(QUARTERS, fb, ig, rate, strict=True):
        rows.append(
            _row(
                "Facebook", "Facebook", SELF, "Content actioned", META_CSE, quarter, "count", _grouped(f), "approx", doc
            )
        )
        rows.append(
            _row(
                "Meta Platforms, Inc.",
                "Instagram",
                SELF,
                "Content actioned",
                META_CSE,
                quarter,
                "count",
                _grouped(i),
                "approx",
                doc,
            )
        )
        rows.append(_row("Facebook", "Facebook", SELF, "Proactive rate", META_CSE, quarter, "%", r, "exact", doc))
    return rows


def tiktok_rows(rng: np.random.Generator) -> list[dict[str, object]]:
    """TikTok's under-13 removals (exact, as published) and youth-safety removals (illustrative)."""
    doc = "Community Guidelines Enforcement Report"
    under13 = [16_947_484, 18_823_040, 20_864_857, 19_848_855]
    rows = []
    for quarter, n in zip(QUARTERS, under13, strict=True):
        rows.append(
            _row(
                "TikTok",
                "TikTok",
                SELF,
                "Accounts suspected under 13 removed",
                "Minor safety",
                quarter,
                "count",
                f"{n:,}",
                "exact",
                doc,
            )
        )
        removed = rng.normal(7.5e6, 0.6e6)
        rows.append(
            _row(
                "TikTok",
                "TikTok",
                SELF,
                "Content removed",
                "Youth exploitation and abuse",
                quarter,
                "count",
                _grouped(removed),
                "approx",
                doc,
            )
        )
    return rows


def other_company_rows(rng: np.random.Generator) -> list[dict[str, object]]:
    """YouTube and Snapchat enforcement, safety-tool use, and the EU DSA database's monthly counts."""
    rows = []
    for quarter in QUARTERS:
        videos = rng.normal(1.1e6, 0.15e6)
        rows.append(
            _row(
                "Google LLC",
                "YouTube",
                SELF,
                "Content removed",
                "Child safety",
                quarter,
                "count",
                _grouped(videos),
                "approx",
                "YouTube Community Guidelines enforcement",
            )
        )
    for half in ("2023-H1", "2023-H2"):
        accounts = int(rng.normal(230_000, 20_000))
        rows.append(
            _row(
                "Snapchat",
                "Snapchat",
                SELF,
                "Accounts actioned",
                "Child sexual exploitation",
                half,
                "count",
                f"{accounts:,}",
                "exact",
                "Snap Transparency Report",
            )
        )
        users = rng.normal(400_000, 50_000)
        rows.append(
            _row(
                "Snap Inc.",
                "Snapchat",
                SELF,
                "Safety tool users",
                "Family Center",
                half,
                "count",
                _grouped(users),
                "est",
                "POP questionnaire to companies",
            )
        )
    for month in ("2023-10", "2023-11", "2023-12"):
        for company, product in (("TikTok", "TikTok"), ("Meta", "Instagram")):
            n = int(rng.normal(60_000, 8_000))
            rows.append(
                _row(
                    company,
                    product,
                    "EU DSA transparency database",
                    "Content actioned",
                    "Protection of minors",
                    month,
                    "count",
                    n,
                    "exact",
                    "DSA Transparency Database",
                    dsa="STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
                )
            )
    return rows


def cybertipline_rows() -> list[dict[str, object]]:
    """For each platform and year: NCMEC's count next to the company's own count of reports it made."""
    rows = []
    for company, product, year, ncmec, own in CYBERTIPLINE:
        rows.append(
            _row(
                company,
                product,
                "NCMEC",
                "CyberTipline reports",
                "CyberTipline",
                str(year),
                "count",
                f"{ncmec:,}",
                "exact",
                f"NCMEC CyberTipline {year} reports by electronic service provider",
            )
        )
        if own is not None:
            rows.append(
                _row(
                    company,
                    product,
                    SELF,
                    "Reports to NCMEC",
                    "CyberTipline",
                    str(year),
                    "count",
                    f"{own:,}",
                    "approx",
                    "Company transparency report",
                )
            )
    meta_total = sum(n for c, p, y, n, _ in CYBERTIPLINE if y == 2023 and c in ("Facebook", "Meta Platforms, Inc."))
    rows.append(
        _row(
            "Meta",
            "all",
            "NCMEC",
            "CyberTipline reports",
            "CyberTipline",
            "2023",
            "count",
            f"{meta_total:,}",
            "derived",
            "Sum of Facebook, Instagram and WhatsApp",
            total="yes",
        )
    )
    return rows


def write_tech(inbox: Path, truth: GroundTruth, seed: int) -> None:
    """The long-format CSV with its seeded defects."""
    rng = np.random.default_rng([seed, 4])
    table = Table(COLUMNS)
    for values in [*meta_rows(), *tiktok_rows(rng), *other_company_rows(rng), *cybertipline_rows()]:
        table.add(values)
    table.add(
        _row(
            "Acme Social",
            "other",
            SELF,
            "Content actioned",
            "Child safety",
            "2023-H2",
            "count",
            "12,400",
            "approx",
            "Acme Social transparency note",
        )
    )
    spoil(table, rng, {}, ["company"], where=lambda values: values["Company"] == "Acme Social")
    spoil(
        table, rng, {"Value": "approx. 400k"}, ["value"], where=lambda values: values["Metric"] == "Safety tool users"
    )
    spoil(table, rng, {"Value": "130"}, ["value"], where=lambda values: values["Unit"] == "%")
    duplicate(table, rng)
    write(inbox / SOURCE / FILE, csv_bytes(table))
    truth.loaded(SOURCE, FILE, table, first_row=2)
