"""Four demo child helplines (Kenya, Brazil, Philippines, Germany), each in its own columns, codes and file format."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demo.common import GroundTruth, Table, csv_bytes, duplicate, spoil, write, xlsx_bytes

FIELDS = ("period", "country", "contact_type", "channel", "reason", "age_band", "gender", "contacts")


@dataclass(frozen=True)
class HelplineSpec:
    """How one helpline counts and labels its contacts; shares are relative weights."""

    columns: dict[str, str]  # our field → the helpline's column name
    country: str
    contact_types: tuple[str, str]  # (counselling label, non-counselling label)
    channels: dict[str, float]
    reasons: dict[str, float]
    non_counselling_reason: str
    ages: dict[str, float]
    genders: dict[str, float]
    unknown_age: str
    unknown_gender: str
    counselling_per_period: int
    non_counselling_per_period: int
    cells_per_period: int
    extra: tuple[tuple[str, str | None], ...] = ()  # columns the helpline adds (ignored by POP)

    @property
    def header(self) -> list[str]:
        """The file's columns in the helpline's order."""
        return [self.columns[f] for f in FIELDS] + [name for name, _ in self.extra]


def _shares(weights: dict[str, float]) -> np.ndarray:
    values = np.array(list(weights.values()), dtype=float)
    return values / values.sum()


def counselling_cells(spec: HelplineSpec, rng: np.random.Generator) -> list[tuple[str, str, str, str, int]]:
    """A sample of non-empty counselling cells (channel, reason, age, gender, contacts), sorted as senders sort."""
    combos = list(itertools.product(spec.channels, spec.reasons, spec.ages, spec.genders))
    probs = np.array(
        [
            a * b * c * d
            for a, b, c, d in itertools.product(
                _shares(spec.channels), _shares(spec.reasons), _shares(spec.ages), _shares(spec.genders)
            )
        ]
    )
    chosen = np.sort(rng.choice(len(combos), size=spec.cells_per_period, replace=False, p=probs))
    counts = np.maximum(1, rng.poisson(spec.counselling_per_period * probs[chosen]))
    return [(*combos[i], int(n)) for i, n in zip(chosen, counts, strict=True)]


def period_rows(spec: HelplineSpec, period: str, rng: np.random.Generator) -> list[dict[str, object]]:
    """One period's rows: counselling cells plus one non-counselling cell per channel."""
    cols = spec.columns
    base = {cols["period"]: period, cols["country"]: spec.country, **dict(spec.extra)}
    rows = [
        {
            **base,
            cols["contact_type"]: spec.contact_types[0],
            cols["channel"]: ch,
            cols["reason"]: reason,
            cols["age_band"]: age,
            cols["gender"]: gender,
            cols["contacts"]: n,
        }
        for ch, reason, age, gender, n in counselling_cells(spec, rng)
    ]
    for channel, share in zip(spec.channels, _shares(spec.channels), strict=True):
        n = int(rng.poisson(spec.non_counselling_per_period * share)) + 1
        rows.append(
            {
                **base,
                cols["contact_type"]: spec.contact_types[1],
                cols["channel"]: channel,
                cols["reason"]: spec.non_counselling_reason,
                cols["age_band"]: spec.unknown_age,
                cols["gender"]: spec.unknown_gender,
                cols["contacts"]: n,
            }
        )
    return rows


def build_table(spec: HelplineSpec, periods: list[str], rng: np.random.Generator) -> Table:
    """All periods of one file."""
    table = Table(spec.header)
    for period in periods:
        for values in period_rows(spec, period, rng):
            table.add(values)
    return table


KENYA = HelplineSpec(
    columns={
        "period": "Quarter",
        "country": "Country",
        "contact_type": "Contact type",
        "channel": "Channel",
        "reason": "Reason",
        "age_band": "Age group",
        "gender": "Sex",
        "contacts": "Number of contacts",
    },
    country="Kenya",
    contact_types=("Counselling", "Non-counselling"),
    channels={"Phone": 60, "SMS": 8, "WhatsApp": 20, "Web chat": 12},
    reasons={
        "Physical abuse": 14,
        "Sexual abuse": 10,
        "Neglect": 16,
        "Emotional abuse": 8,
        "Cyberbullying": 6,
        "Sextortion": 3,
        "Online grooming": 3,
        "Online sexual exploitation": 2,
        "Mental health": 14,
        "Family relationships": 12,
        "Education": 7,
        "Sexuality": 5,
    },
    non_counselling_reason="Non-counselling",
    ages={"7-9": 8, "10-12": 20, "13-15": 32, "16-17": 22, "18-25": 10, "Unknown": 8},
    genders={"Female": 55, "Male": 40, "Unknown": 5},
    unknown_age="Unknown",
    unknown_gender="Unknown",
    counselling_per_period=9_000,
    non_counselling_per_period=42_000,
    cells_per_period=72,
    extra=(("Helpline", "Demo Child Helpline 116"),),
)

BRAZIL = HelplineSpec(
    columns={
        "period": "período",
        "country": "país",
        "contact_type": "tipo de atendimento",
        "channel": "canal",
        "reason": "motivo",
        "age_band": "faixa etária",
        "gender": "sexo",
        "contacts": "atendimentos",
    },
    country="Brasil",
    contact_types=("aconselhamento", "não aconselhamento"),
    channels={"TEL": 35, "CHAT": 40, "WPP": 20, "EMAIL": 5},
    reasons={
        "cyberbullying": 14,
        "extorsão sexual": 8,
        "aliciamento online": 7,
        "exposição de imagens íntimas": 9,
        "conteúdo nocivo": 6,
        "violência física": 10,
        "violência sexual": 8,
        "saúde mental": 20,
        "relações familiares": 12,
        "discriminação": 6,
    },
    non_counselling_reason="trote",
    ages={"10-12": 12, "13-15": 38, "16-17": 28, "18-25": 14, "não informado": 8},
    genders={"F": 62, "M": 33, "NI": 5},
    unknown_age="não informado",
    unknown_gender="NI",
    counselling_per_period=2_600,
    non_counselling_per_period=5_500,
    cells_per_period=22,
)

PHILIPPINES = HelplineSpec(
    columns={
        "period": "Reporting period",
        "country": "Country code",
        "contact_type": "Contact Type",
        "channel": "Channel",
        "reason": "Reason for contact",
        "age_band": "Age Band",
        "gender": "Gender",
        "contacts": "Contacts",
    },
    country="PHL",
    contact_types=("counselling", "non-counselling"),
    channels={"TEL": 45, "SMS": 10, "FB": 30, "CHAT": 10, "WALKIN": 5},
    reasons={
        "Online sexual exploitation": 10,
        "Sextortion": 6,
        "Grooming": 5,
        "Cyberbullying": 9,
        "Information seeking about OSA/OSE": 3,
        "Physical abuse": 14,
        "Neglect": 15,
        "Mental health": 16,
        "Family relationships": 14,
        "Peer relationships": 8,
    },
    non_counselling_reason="Non-counselling",
    ages={"10-12": 18, "13-15": 36, "16-17": 26, "18-25": 10, "Unknown": 10},
    genders={"Girl": 56, "Boy": 40, "Non-binary": 1, "Unknown": 3},
    unknown_age="Unknown",
    unknown_gender="Unknown",
    counselling_per_period=6_500,
    non_counselling_per_period=15_000,
    cells_per_period=65,
    extra=(("Remarks", None),),
)

GERMANY = HelplineSpec(
    columns={
        "period": "Zeitraum",
        "country": "Land",
        "contact_type": "Kontaktart",
        "channel": "Kanal",
        "reason": "Anliegen",
        "age_band": "Altersgruppe",
        "gender": "Geschlecht",
        "contacts": "Anzahl",
    },
    country="Deutschland",
    contact_types=("Beratung", "Keine Beratung"),
    channels={"Telefon": 70, "Chat": 18, "E-Mail": 12},
    reasons={
        "Cybermobbing": 8,
        "Sextortion": 3,
        "Cybergrooming": 3,
        "Pornografie": 3,
        "Körperliche Gewalt": 6,
        "Sexuelle Gewalt": 5,
        "Psychische Gesundheit": 22,
        "Familie": 20,
        "Freundschaft": 12,
        "Schule": 10,
        "Sexualität": 8,
    },
    non_counselling_reason="Schweigeanruf",
    ages={"7-9": 5, "10-12": 20, "13-15": 38, "16-17": 22, "18-25": 10, "unbekannt": 5},
    genders={"weiblich": 60, "männlich": 36, "divers": 2, "unbekannt": 2},
    unknown_age="unbekannt",
    unknown_gender="unbekannt",
    counselling_per_period=140_000,
    non_counselling_per_period=210_000,
    cells_per_period=140,
)


# Where the harm behind an online-related contact happened, as helplines and providers name the platforms
PLATFORMS_SEEN = {
    "Instagram": 22,
    "WhatsApp": 18,
    "TikTok": 16,
    "Facebook": 14,
    "Snapchat": 12,
    "Roblox": 7,
    "Discord": 6,
    "X (Twitter)": 5,
}


def name_platforms(
    table: Table, column: str, reason_column: str, online_reasons: set[str], rng: np.random.Generator
) -> None:
    """Add the helpline's platform column: the platform recorded for each cell of an online-related reason (the
    main one when there were several); other cells leave it empty."""
    names, weights = list(PLATFORMS_SEEN), _shares(PLATFORMS_SEEN)
    table.columns.append(column)
    for row in table.rows:
        online = row.values[reason_column] in online_reasons
        row.values[column] = str(rng.choice(names, p=weights)) if online else None


def write_kenya(inbox: Path, truth: GroundTruth, rng: np.random.Generator) -> None:
    """Quarterly CSVs with the platform of online-related cells; Q2 is re-sent byte for byte as a '_copy' file."""
    source, folder = "helpline_ke", inbox / "helpline_ke"
    tables = {q: build_table(KENYA, [f"Q{q} 2023"], rng) for q in range(1, 5)}
    platforms = rng.spawn(1)[0]  # its own stream: the seeded defects stay where they were
    for table in tables.values():
        name_platforms(
            table,
            "Platform",
            "Reason",
            {"Cyberbullying", "Sextortion", "Online grooming", "Online sexual exploitation"},
            platforms,
        )
    q1, q3 = tables[1], tables[3]
    spoil(q1, rng, {"Country": "Narnia"}, ["country"])
    spoil(q1, rng, {"Number of contacts": "twelve"}, ["contacts"])
    duplicate(q1, rng)
    spoil(q3, rng, {"Channel": "pigeon"}, ["channel"])
    spoil(q3, rng, {"Number of contacts": -4}, ["contacts"])
    for q, table in tables.items():
        write(folder / f"2023_q{q}.csv", csv_bytes(table))
        truth.loaded(source, f"2023_q{q}.csv", table, first_row=2)
    write(folder / "2023_q2_copy.csv", csv_bytes(tables[2]))
    truth.resent(source, "2023_q2_copy.csv", "2023_q2.csv")


def write_brazil(inbox: Path, truth: GroundTruth, rng: np.random.Generator) -> None:
    """One monthly CSV in Latin-1 with ';' and Windows line endings, as a Brazilian spreadsheet exports it, naming
    the platform of online-related cells."""
    table = build_table(BRAZIL, [f"2023-{m:02d}" for m in range(1, 13)], rng)
    name_platforms(
        table,
        "plataforma",
        "motivo",
        {"cyberbullying", "extorsão sexual", "aliciamento online", "exposição de imagens íntimas", "conteúdo nocivo"},
        rng.spawn(1)[0],
    )
    spoil(table, rng, {"período": "2023-13"}, ["period"])
    spoil(table, rng, {"sexo": None}, ["gender"])
    spoil(table, rng, {"motivo": "outros assuntos"}, ["reason"])
    write(
        inbox / "helpline_br" / "atendimentos_2023.csv",
        csv_bytes(table, delimiter=";", encoding="latin-1", newline="\r\n"),
    )
    truth.loaded("helpline_br", "atendimentos_2023.csv", table, first_row=2)


PH_ABOUT = [
    ("Demo Helpline Philippines: contacts by half-year", ""),
    ("Organisation", "Demo Helpline Philippines (fictional, for the POP demo)"),
    ("Coverage", "National, 2022-H1 to 2023-H2"),
    ("Data sheet", "Data (header in row 3)"),
    ("Channel codes", "TEL phone, SMS text, FB Facebook page, CHAT web chat, WALKIN walk-in"),
    ("Counting rule", "One contact = one conversation; non-counselling contacts have age and gender Unknown"),
    ("Contact", "data@example.org"),
]


def write_philippines(inbox: Path, truth: GroundTruth, rng: np.random.Generator) -> None:
    """One workbook: an 'About' cover sheet, then the 'Data' sheet with its header in row 3."""
    table = build_table(PHILIPPINES, ["2022-H1", "2022-H2", "2023-H1", "2023-H2"], rng)
    spoil(table, rng, {"Contacts": -12}, ["contacts"])
    spoil(table, rng, {"Channel": "FAX"}, ["channel"])
    spoil(table, rng, {"Age Band": "15-13"}, ["age_band"])
    duplicate(table, rng)
    for i in rng.choice(table.clean_indices(), size=3, replace=False):
        table.rows[int(i)].values["Remarks"] = "revised after audit"
    name = "PH_helpline_2022-2023.xlsx"
    write(inbox / "helpline_ph" / name, xlsx_bytes(PH_ABOUT, "Data", PH_ABOUT[0][0], table))
    truth.loaded("helpline_ph", name, table, first_row=4)


def write_germany(inbox: Path, truth: GroundTruth, rng: np.random.Generator) -> None:
    """Yearly CSVs; the 2021 file lacks the count column and is refused whole."""
    source, folder = "helpline_de", inbox / "helpline_de"
    for year in (2022, 2023):
        table = build_table(GERMANY, [str(year)], rng)
        if year == 2023:
            spoil(table, rng, {"Anzahl": "k.A."}, ["contacts"])
        write(folder / f"kontakte_{year}.csv", csv_bytes(table))
        truth.loaded(source, f"kontakte_{year}.csv", table, first_row=2)
    old = build_table(GERMANY, ["2021"], rng)
    old.columns = [c for c in old.columns if c != "Anzahl"]
    write(folder / "kontakte_2021.csv", csv_bytes(old))
    truth.refused(source, "kontakte_2021.csv", "contacts")


def write_helplines(inbox: Path, truth: GroundTruth, seed: int) -> None:
    """All four helplines, each from its own seeded stream."""
    for offset, writer in enumerate((write_kenya, write_brazil, write_philippines, write_germany)):
        writer(inbox, truth, np.random.default_rng([seed, 1, offset]))
