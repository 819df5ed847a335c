"""A large, clean helpline CSV for benchmarks: every row a distinct natural key, written in bounded chunks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["period", "country", "contact_type", "channel", "reason", "age_band", "gender", "contacts"]
PERIODS = [f"{year}-{month:02d}" for year in range(2019, 2027) for month in range(1, 13)]
COUNTRIES = [
    "KEN",
    "UGA",
    "TZA",
    "RWA",
    "ETH",
    "NGA",
    "GHA",
    "ZAF",
    "ZMB",
    "ZWE",
    "BRA",
    "ARG",
    "CHL",
    "COL",
    "PER",
    "MEX",
    "CAN",
    "USA",
    "GBR",
    "IRL",
    "DEU",
    "FRA",
    "ESP",
    "ITA",
    "NLD",
    "SWE",
    "NOR",
    "FIN",
    "POL",
    "ROU",
    "IND",
    "PAK",
    "BGD",
    "LKA",
    "PHL",
    "IDN",
    "VNM",
    "THA",
    "JPN",
    "AUS",
]
CONTACT_TYPES = ["counselling", "non_counselling"]
CHANNELS = [
    "phone",
    "sms",
    "web_chat",
    "email",
    "messaging_app",
    "social_media",
    "mobile_app",
    "in_person",
    "outreach",
    "unknown",
]
REASONS = [
    "violence.bullying",
    "violence.physical",
    "violence.sexual",
    "violence.mental_emotional",
    "violence.neglect",
    "violence.online_sexual_abuse",
    "violence.online_sexual_exploitation",
    "violence.info_osa_ose",
    "violence.other",
    "online.cyberbullying",
    "online.sextortion",
    "online.grooming",
    "online.hacking",
    "online.impersonation",
    "online.pornography_exposure",
    "online.nonconsensual_image_sharing",
    "online.privacy_invasion",
    "online.addiction",
    "online.harmful_content",
    "mental_health",
    "physical_health",
    "access_to_services",
    "discrimination_exclusion",
    "family_relationships",
    "peer_relationships",
    "education_occupation",
    "sexuality",
    "missing_children",
    "non_counselling",
    "other",
]
AGE_BANDS = ["0-6", "7-9", "10-12", "13-15", "16-17", "18-25", "25+", "unknown"]
GENDERS = ["girl", "boy", "nonbinary", "unknown"]
# key columns from the fastest-varying digit to the slowest
DIGITS = [
    ("gender", GENDERS),
    ("age_band", AGE_BANDS),
    ("reason", REASONS),
    ("channel", CHANNELS),
    ("contact_type", CONTACT_TYPES),
    ("country", COUNTRIES),
    ("period", PERIODS),
]
KEY_SPACE = math.prod(len(values) for _, values in DIGITS)
STEP = 7**9  # coprime with KEY_SPACE (whose prime factors are 2, 3 and 5), so i → i·STEP mod KEY_SPACE is one-to-one


def keys(positions: np.ndarray) -> dict[str, np.ndarray]:
    """The natural-key columns of the given positions in the key space (mixed-radix digits)."""
    columns: dict[str, np.ndarray] = {}
    rest = positions.copy()
    for name, values in DIGITS:
        columns[name] = np.asarray(values)[rest % len(values)]
        rest //= len(values)
    return columns


def chunk(start: int, stop: int, offset: int, rng: np.random.Generator) -> pd.DataFrame:
    """Rows start..stop-1: distinct keys spread over the whole key space, geometric-ish counts."""
    index = np.arange(start, stop, dtype=np.int64)
    positions = (index * STEP + offset) % KEY_SPACE
    columns = keys(positions)
    columns["contacts"] = rng.negative_binomial(1, 0.03, size=len(index))
    return pd.DataFrame(columns)[COLUMNS]


def write_helpline_bench(out: Path, rows: int, seed: int, chunk_rows: int = 100_000) -> None:
    """Write `rows` clean rows to `out`, `chunk_rows` at a time, so memory stays bounded."""
    if not 0 < rows <= KEY_SPACE:
        raise ValueError(f"rows must be between 1 and {KEY_SPACE:,} (the number of distinct natural keys)")
    rng = np.random.default_rng([seed, 99])
    offset = int(rng.integers(KEY_SPACE))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        for start in range(0, rows, chunk_rows):
            frame = chunk(start, min(rows, start + chunk_rows), offset, rng)
            frame.to_csv(handle, index=False, header=start == 0, lineterminator="\n")
