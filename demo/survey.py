"""A demo youth survey export (Global Kids Online style): one de-identified respondent per row."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from demo.common import GroundTruth, Table, csv_bytes, duplicate, spoil, write

SOURCE = "youth_survey"
FILE = "gko_demo_2023_export.csv"
COUNTRIES = {"KE": 800, "PH": 800, "BR": 800, "DE": 600}
TOLD = {
    "Q7_parent": 30,
    "Q7_sibling": 12,
    "Q7_friend": 40,
    "Q7_teacher": 8,
    "Q7_other_adult": 6,
    "Q7_helpline": 3,
    "Q7_police": 2,
    "Q7_platform": 4,
}
TOOLS = {
    "platform_report_or_block": 40,
    "helpline_chat_or_app": 10,
    "helpline_phone": 6,
    "messaging_app": 20,
    "social_media_peer": 14,
    "search_engine": 18,
    "ai_chatbot": 5,
    "online_counselling": 5,
    "youth_led_platform": 3,
    "other": 2,
}
PLATFORMS = {
    "Instagram": 20,
    "WhatsApp": 22,
    "TikTok": 18,
    "YouTube": 10,
    "Facebook": 14,
    "Snapchat": 6,
    "Discord": 3,
    "Roblox": 3,
    "X": 2,
}
BARRIERS = {
    "shame": 25,
    "fear_trouble": 20,
    "didnt_know_where": 22,
    "not_serious": 18,
    "no_access": 6,
    "distrust": 7,
    "other": 2,
}
OUTCOMES = {"helped": 45, "partly": 30, "not_helped": 15, "dont_know": 10}
UNSAFE = {"online": 30, "offline": 20, "both": 15, "none": 35}
GENDER_CODES = {"1": 48, "2": 48, "3": 2, "9": 2}  # the questionnaire's codes: 1 boy, 2 girl, 3 other, 9 no answer
COLUMNS = [
    "survey_id",
    "respondent",
    "fieldwork_year",
    "country_code",
    "Q1_age",
    "Q2_gender",
    "Q3_felt_unsafe",
    "Q4_sought_help",
    "Q5_used_online_help",
    "Q6_online_help_tools",
    *TOLD,
    "Q7_nobody",
    "Q8_platforms",
    "Q9_outcome",
    "Q10_barriers",
    "weight",
    "interview_mode",
]


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    options = list(weights)
    probs = np.array(list(weights.values()), dtype=float)
    return options[int(rng.choice(len(options), p=probs / probs.sum()))]


def _several(rng: np.random.Generator, weights: dict[str, float], most: int) -> list[str]:
    options = list(weights)
    probs = np.array(list(weights.values()), dtype=float)
    size = int(rng.integers(1, most + 1))
    chosen = rng.choice(len(options), size=size, replace=False, p=probs / probs.sum())
    return [options[i] for i in sorted(chosen)]


def _age(rng: np.random.Generator) -> int:
    return int(rng.integers(9, 18)) if rng.random() < 0.9 else int(rng.integers(18, 25))


def _help_answers(rng: np.random.Generator) -> dict[str, object]:
    """Answers of a respondent who felt unsafe: whom they told, whether and how they sought help."""
    told = dict.fromkeys([*TOLD, "Q7_nobody"], 0)
    if rng.random() < 0.2:
        told["Q7_nobody"] = 1
    else:
        told.update(dict.fromkeys(_several(rng, TOLD, 3), 1))
    sought = rng.random() < 0.6
    online = sought and rng.random() < 0.45
    return {
        **told,
        "Q4_sought_help": int(sought),
        "Q5_used_online_help": "yes" if online else "no",
        "Q6_online_help_tools": ";".join(_several(rng, TOOLS, 3)) if online else None,
        "Q8_platforms": ";".join(_several(rng, PLATFORMS, 2)) if online else None,
        "Q9_outcome": _pick(rng, OUTCOMES) if sought else None,
        "Q10_barriers": None if sought else ";".join(_several(rng, BARRIERS, 2)),
    }


def respondent(rng: np.random.Generator, country: str, number: int) -> dict[str, object]:
    """One respondent's row."""
    unsafe = _pick(rng, UNSAFE)
    answers = dict.fromkeys([*TOLD, "Q7_nobody"], 0) | {"Q5_used_online_help": "no"}
    if unsafe != "none":
        answers = _help_answers(rng)
    return {
        "survey_id": f"DEMO-YS-2023-{country}",
        "respondent": f"{country}-{number:05d}",
        "fieldwork_year": 2023,
        "country_code": country,
        "Q1_age": _age(rng),
        "Q2_gender": _pick(rng, GENDER_CODES),
        "Q3_felt_unsafe": unsafe,
        **answers,
        "weight": f"{rng.lognormal(0, 0.2):.4f}",
        "interview_mode": "online" if rng.random() < 0.3 else "CAPI",
    }


def write_survey(inbox: Path, truth: GroundTruth, seed: int) -> None:
    """The export with its seeded defects."""
    rng = np.random.default_rng([seed, 2])
    table = Table(COLUMNS)
    for country, size in COUNTRIES.items():
        for number in range(1, size + 1):
            table.add(respondent(rng, country, number))
    spoil(table, rng, {"Q1_age": 3}, ["age"])
    spoil(table, rng, {"Q1_age": 99}, ["age"])
    spoil(table, rng, {"Q2_gender": "7"}, ["gender"])
    spoil(table, rng, {"Q3_felt_unsafe": None}, ["felt_unsafe_context"])
    spoil(table, rng, {"weight": "0"}, ["weight"])
    duplicate(table, rng)
    write(inbox / SOURCE / FILE, csv_bytes(table))
    truth.loaded(SOURCE, FILE, table, first_row=2)
