"""Demo service-provider reports: a network's yearly CSV and a web portal's half-yearly JSON export."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demo.common import GroundTruth, Table, csv_bytes, json_bytes, spoil, write
from demo.helplines import PLATFORMS_SEEN


@dataclass(frozen=True)
class Provider:
    """A fictional organisation and the size of its caseload per year."""

    name: str
    org_type: str
    country: str
    channels: str
    yearly_contacts: int
    online_share: float
    ages: tuple[int, int]
    harms: str


NETWORK = [
    Provider(
        "Nairobi Child Support Centre (demo)",
        "Social services",
        "Kenya",
        "WhatsApp;SMS",
        4_800,
        0.35,
        (6, 17),
        "Sexual abuse;Online grooming;Neglect",
    ),
    Provider(
        "Lakeside Youth Helpline (demo)",
        "Child helpline",
        "Uganda",
        "Web chat;WhatsApp;SMS",
        21_000,
        0.42,
        (8, 24),
        "Sextortion;Cyberbullying;Mental health",
    ),
    Provider(
        "Safe Click Reporting Hotline (demo)",
        "Reporting hotline",
        "Brazil",
        "Web chat;E-mail",
        36_000,
        0.97,
        (0, 17),
        "CSAM;Non-consensual image sharing;Sextortion",
    ),
    Provider(
        "Manila Family Care Network (demo)",
        "NGO",
        "Philippines",
        "Facebook;Web chat",
        2_900,
        0.55,
        (5, 18),
        "Online sexual exploitation;Physical abuse;Neglect",
    ),
    Provider(
        "Kinder Digital Beratung (demo)",
        "Referral",
        "Germany",
        "Web chat;E-mail;App",
        11_500,
        0.68,
        (10, 21),
        "Cyberbullying;Pornography;Mental health",
    ),
    Provider(
        "Accra Cyber Crime Desk (demo)",
        "Police",
        "Ghana",
        "E-mail;WhatsApp",
        1_300,
        0.6,
        (0, 17),
        "Sextortion;Hacking;Impersonation",
    ),
    Provider(
        "Mekong Youth Health Clinic (demo)",
        "Health service",
        "Viet Nam",
        "Messenger;Web chat",
        7_400,
        0.3,
        (10, 24),
        "Mental health;Sexual health;Online addiction",
    ),
    Provider(
        "Andean Child Rights Centre (demo)",
        "NGO",
        "Perú",
        "WhatsApp;Facebook",
        3_200,
        0.4,
        (6, 17),
        "Online grooming;Physical abuse;Discrimination",
    ),
    Provider(
        "Cape Safe Spaces (demo)",
        "Social services",
        "South Africa",
        "WhatsApp;Web chat;SMS",
        9_800,
        0.5,
        (6, 24),
        "Cyberbullying;Sexual abuse;Family",
    ),
]

PORTAL = [
    Provider(
        "Dhaka Online Safety Desk (demo)",
        "hotline",
        "BGD",
        "web_chat;email",
        5_200,
        0.9,
        (10, 24),
        "online.sextortion;violence.online_sexual_exploitation",
    ),
    Provider(
        "Tbilisi Teen Line (demo)",
        "helpline",
        "GEO",
        "phone;web_chat;messaging_app",
        6_100,
        0.38,
        (10, 18),
        "online.cyberbullying;mental_health",
    ),
    Provider(
        "Lima Youth Counselling Service (demo)",
        "social_services",
        "PER",
        "messaging_app;social_media",
        2_600,
        0.51,
        (12, 24),
        "online.grooming;family_relationships",
    ),
    Provider(
        "Mombasa Coast Child Protection Unit (demo)",
        "law_enforcement",
        "KEN",
        "phone;messaging_app",
        900,
        0.22,
        (0, 17),
        "violence.sexual;online.sextortion",
    ),
    Provider(
        "Nordic Youth Chat (demo)",
        "ngo",
        "SWE",
        "web_chat;mobile_app",
        14_000,
        0.93,
        (12, 25),
        "mental_health;online.nonconsensual_image_sharing",
    ),
    Provider(
        "Abidjan Child Help Centre (demo)",
        "ngo",
        "Côte d'Ivoire",
        "phone;messaging_app;sms",
        3_700,
        0.27,
        (5, 18),
        "violence.physical;online.pornography_exposure",
    ),
]

CHALLENGES = [
    "Night-time chat demand exceeds the number of trained counsellors on shift.",
    "Children switch platforms mid-conversation, so cases are hard to follow up.",
    "Referral partners outside the capital have long waiting lists.",
    "Sextortion cases rose sharply and need fast takedown support from platforms.",
    "Funding is project-based, so trained staff leave when grants end.",
    "Young people in rural areas share phones with parents and cannot talk privately.",
    "Platforms answer our escalations slowly; some never confirm removal.",
    "Counsellors need more training on image-based abuse and gaming platforms.",
]
GOOD_PRACTICE = [
    "WhatsApp triage by trained volunteers, with a counsellor call-back within two hours.",
    "A trusted-flagger agreement lets us escalate harmful content to two platforms directly.",
    "Peer supporters aged 18-24 co-moderate the evening chat under counsellor supervision.",
    "Joint case conferences with police and social services every fortnight.",
    "Short safety-planning scripts in local languages for online grooming cases.",
    "Schools distribute the chat link on student ID cards.",
    "A follow-up message one week after the chat asks whether the help helped.",
]


def _report(provider: Provider, period: str, scale: float, rng: np.random.Generator) -> dict[str, object]:
    """One report's numbers and texts, in our own field names."""
    total = int(rng.normal(provider.yearly_contacts * scale, provider.yearly_contacts * scale * 0.08))
    online = int(total * min(0.99, max(0.01, rng.normal(provider.online_share, 0.04))))
    return {
        "org_name": provider.name,
        "org_type": provider.org_type,
        "country": provider.country,
        "period": period,
        "digital_channels": provider.channels,
        "contacts_total": total,
        "contacts_online": online,
        "referrals_in": int(total * rng.uniform(0.01, 0.06)),
        "referrals_out": int(total * rng.uniform(0.02, 0.1)),
        "age_served_min": provider.ages[0],
        "age_served_max": provider.ages[1],
        "harm_types": provider.harms,
        "challenges": str(rng.choice(CHALLENGES)),
        "good_practice": str(rng.choice(GOOD_PRACTICE)),
    }


NETWORK_COLUMNS = {
    "record_id": "Report ID",
    "org_name": "Organisation",
    "org_type": "Type",
    "country": "Country",
    "period": "Year",
    "digital_channels": "Digital channels",
    "contacts_total": "Total contacts",
    "contacts_online": "Online contacts",
    "referrals_in": "Referrals received",
    "referrals_out": "Referrals made",
    "age_served_min": "Min age",
    "age_served_max": "Max age",
    "harm_types": "Harms seen",
    "platforms_seen": "Platforms seen",
    "challenges": "Challenges",
    "good_practice": "Good practice",
}


def write_network(inbox: Path, truth: GroundTruth, rng: np.random.Generator) -> None:
    """The network's CSV: each member organisation for 2022 and 2023."""
    table = Table(list(NETWORK_COLUMNS.values()))
    platforms = rng.spawn(1)[0]  # its own stream: the seeded defects stay where they were
    names, weights = list(PLATFORMS_SEEN), np.array(list(PLATFORMS_SEEN.values())) / sum(PLATFORMS_SEEN.values())
    for year in (2022, 2023):
        for number, provider in enumerate(NETWORK, start=1):
            report = _report(provider, str(year), 1.0 + 0.12 * (year - 2022), rng)
            report["record_id"] = f"NET-{year}-{number:02d}"
            seen = platforms.choice(names, size=int(platforms.integers(1, 4)), replace=False, p=weights)
            report["platforms_seen"] = ";".join(sorted(str(name) for name in seen))
            table.add({NETWORK_COLUMNS[k]: v for k, v in report.items()})
    bad = spoil(table, rng, {}, ["contacts_online"])
    bad.values["Online contacts"] = int(bad.values["Total contacts"]) + 850
    spoil(table, rng, {"Total contacts": "approx. 5000"}, ["contacts_total"])
    write(inbox / "sp_network" / "network_reports_2022_2023.csv", csv_bytes(table))
    truth.loaded("sp_network", "network_reports_2022_2023.csv", table, first_row=2)


PORTAL_COLUMNS = {
    "record_id": "id",
    "org_name": "organisation",
    "org_type": "organisation_type",
    "country": "country",
    "period": "period",
    "digital_channels": "digital_channels",
    "contacts_total": "contacts_total",
    "contacts_online": "contacts_online",
    "referrals_in": "referrals_in",
    "referrals_out": "referrals_out",
    "age_served_min": "age_min",
    "age_served_max": "age_max",
    "harm_types": "harm_types",
    "challenges": "challenges",
    "good_practice": "good_practice",
    "submitted_via": "submitted_via",
}


def write_portal(inbox: Path, truth: GroundTruth, rng: np.random.Generator) -> None:
    """The portal's JSON export {"exported": ..., "reports": [...]}: each organisation for 2023-H2 and 2024-H1."""
    table = Table(list(PORTAL_COLUMNS.values()))
    for period in ("2023-H2", "2024-H1"):
        for provider in PORTAL:
            report = _report(provider, period, 0.5, rng)
            report["record_id"] = f"P-{len(table.rows) + 1:04d}"
            report["submitted_via"] = "web form"
            if rng.random() < 0.25:
                report["referrals_in"] = None  # not every organisation counts referrals it receives
            table.add({PORTAL_COLUMNS[k]: v for k, v in report.items()})
    bad = spoil(table, rng, {}, ["contacts_online"])
    bad.values["contacts_online"] = int(bad.values["contacts_total"]) * 2
    spoil(table, rng, {"period": "FY2024"}, ["period"])
    spoil(table, rng, {"referrals_out": -3}, ["referrals_out"])
    name = "portal_export_2024-07.json"
    write(inbox / "sp_portal" / name, json_bytes(table, "reports", {"exported": "2024-07-15", "schema_version": 2}))
    truth.loaded("sp_portal", name, table, first_row=1)


def write_providers(inbox: Path, truth: GroundTruth, seed: int) -> None:
    """Both service-provider sources."""
    write_network(inbox, truth, np.random.default_rng([seed, 3, 0]))
    write_portal(inbox, truth, np.random.default_rng([seed, 3, 1]))
