"""Demo protection-community submissions: case studies, evaluations and research with free-text summaries.
Organisations are fictional; one summary carries a fictional e-mail and phone number for the PII scan to find."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from demo.common import GroundTruth, Table, csv_bytes, spoil, write

SOURCE = "community_submissions"
FILE = "submissions_round1.csv"
COLUMNS = [
    "Submission ID",
    "Organisation",
    "Organisation type",
    "Countries",
    "Evidence type",
    "Harm types",
    "Intervention",
    "Title",
    "Summary",
    "Audiences",
    "Consent",
    "Licence",
    "Link",
    "Date submitted",
    "Form version",
]
ORGS = [
    ("Youth Voices Network (demo)", "youth-led", ["Kenya;Uganda", "Kenya", "Uganda;Tanzania"]),
    ("Safer Childhood Research Institute (demo)", "university", ["Brazil;Peru", "Philippines", "WLD"]),
    ("Child Rights Coalition East Africa (demo)", "CSO/NGO", ["Kenya;Uganda;Tanzania", "Rwanda"]),
    ("Ministry of Family Affairs of Demoland (demo)", "ministry", ["Philippines"]),
    ("Digital Guardians Foundation (demo)", "charity", ["Germany;Austria", "Sweden;Norway"]),
    ("Regional Child Helpline Forum (demo)", "child helpline", ["Brazil;Colombia;Mexico", "Kenya;Ghana"]),
    ("UN Demo Agency for Children", "UN agency", ["WLD", "Philippines;Viet Nam;Thailand"]),
    ("Open Platform Safety Lab (demo)", "tech company", ["WLD"]),
]
THEMES = [  # intervention, evidence type, harm types, audiences, title, paragraphs
    (
        "peer support",
        "case study",
        "online grooming;sextortion",
        "children & youth;helplines",
        "Peer moderators in an evening youth chat",
        [
            "Young people told us they were more likely to write to someone close to their own age, especially late in "
            "the evening when adult services were closed.",
            "We trained {n} peer moderators aged 18 to 24, who answered first messages and passed conversations about "
            "grooming or sextortion to a counsellor within ten minutes.",
            "Over the pilot, {pct}% of first-time users came back for a second conversation. Moderators needed weekly "
            "supervision, and clear scripts for when to hand over.",
        ],
    ),
    (
        "reporting tool",
        "evaluation",
        "non-consensual image sharing;sextortion",
        "tech;helplines;children",
        "Evaluation of an in-app report button for intimate images",
        [
            "The report button lets a child flag an intimate image of themselves without describing it in words.",
            "We compared {n} reports made through the button with reports made through a web form in the year before.",
            "Reports through the button reached a reviewer {pct}% faster, but many children did not know it existed. "
            "Visibility in the app matters as much as the process behind it.",
        ],
    ),
    (
        "education",
        "research",
        "cyberbullying;harmful content",
        "policy makers;children & youth;cso",
        "What children say stops them asking for help online",
        [
            "We ran {n} focus groups with children aged 11 to 17 in schools and community centres.",
            "Shame and fear of losing their phone were the reasons given most often for telling no one; many did not "
            "know that helplines answer chat messages.",
            "Children asked for short, practical guidance inside the apps they already use, and for adults who listen "
            "before they act.",
        ],
    ),
    (
        "helpline",
        "dataset",
        "online sexual exploitation;grooming",
        "helplines;un agencies",
        "Helpline contacts about online sexual exploitation, two-year series",
        [
            "This dataset counts helpline contacts about online sexual exploitation by month, channel and age band.",
            "Contacts through messaging apps grew to {pct}% of the total, while phone contacts stayed flat.",
            "We share the series so that others can compare; counts below five are suppressed.",
        ],
    ),
    (
        "policy",
        "policy",
        "online sexual abuse;sextortion",
        "policy makers;tech",
        "Duty of care provisions for platforms used by children",
        [
            "The paper reviews duty-of-care provisions in {n} national laws and their effect on reporting routes.",
            "Where platforms must link to a national helpline, referrals from platforms rose by about {pct}%.",
            "We recommend that laws name the helpline and require platforms to report how often the link is used.",
        ],
    ),
    (
        "platform feature",
        "case study",
        "grooming;privacy invasion",
        "tech;children & youth",
        "Default private accounts for under-16s",
        [
            "Accounts of users under 16 were made private by default and unknown adults could no longer message them.",
            "In the {n} weeks after the change, messages from unknown adults to young users fell by {pct}%.",
            "Some young creators found the change limiting; clear explanations inside the app helped.",
        ],
    ),
    (
        "other",
        "testimony",
        "cyberbullying;mental health",
        "children & youth;cso",
        "Young people's testimonies on getting help after online bullying",
        [
            "Testimonies were collected with consent from {n} young people who had asked for help after online "
            "bullying.",
            "Most had first told a friend; only a few had used a helpline or the platform's report tool.",
            "The testimonies are paraphrased and stripped of names and places.",
        ],
    ),
]
PII_SUMMARY = (
    "Peer supporters ran a weekly online drop-in for young people in two towns.\n\n"
    "For the evaluation, write to the peer coordinator at peer.coordinator@example.org or call "
    "+1 202 555 0147 during office hours.\n\n"
    "Attendance grew each month and most participants said they would recommend it to a friend."
)
LICENCES = ["CC-BY-4.0", "CC-BY-4.0", "CC-BY-NC-4.0", "All rights reserved"]


def submission(rng: np.random.Generator, number: int) -> dict[str, object]:
    """One submission with a summary of a few paragraphs."""
    org, org_type, countries = ORGS[int(rng.integers(len(ORGS)))]
    intervention, evidence, harms, audiences, title, paragraphs = THEMES[int(rng.integers(len(THEMES)))]
    summary = "\n\n".join(p.format(n=int(rng.integers(6, 60)), pct=int(rng.integers(10, 45))) for p in paragraphs)
    day = np.datetime64("2023-09-01") + np.timedelta64(int(rng.integers(0, 60)), "D")
    return {
        "Submission ID": f"PC-{number:04d}",
        "Organisation": org,
        "Organisation type": org_type,
        "Countries": countries[int(rng.integers(len(countries)))],
        "Evidence type": evidence,
        "Harm types": harms,
        "Intervention": intervention,
        "Title": title,
        "Summary": summary,
        "Audiences": audiences,
        "Consent": "yes" if rng.random() < 0.85 else "no",
        "Licence": LICENCES[int(rng.integers(len(LICENCES)))],
        "Link": f"https://example.org/pop/submissions/{number:04d}",
        "Date submitted": str(day),
        "Form version": "v1.2",
    }


def write_community(inbox: Path, truth: GroundTruth, seed: int) -> None:
    """The round-one CSV (summaries hold line breaks inside quoted cells) with its seeded defects."""
    rng = np.random.default_rng([seed, 5])
    table = Table(COLUMNS)
    for number in range(1, 33):
        table.add(submission(rng, number))
    table.rows[6].values.update(
        {
            "Summary": PII_SUMMARY,
            "Title": "Online drop-in run by peer supporters",
            "Intervention": "peer support",
            "Evidence type": "case study",
        }
    )
    table.rows[6].locked = True  # keep the PII example clean, so it loads and reaches the PII scan
    spoil(table, rng, {"Countries": "Kenya;Atlantis"}, ["countries"])
    spoil(table, rng, {"Consent": "maybe"}, ["consent"])
    spoil(table, rng, {"Title": None}, ["title"])
    spoil(table, rng, {"Date submitted": "14/09/2023"}, ["submitted_on"])
    write(inbox / SOURCE / FILE, csv_bytes(table))
    truth.loaded(SOURCE, FILE, table, first_row=2)
