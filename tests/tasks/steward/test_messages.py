"""Messages for senders, actions for stewards, on SQLite and PostgreSQL: what goes back to a sender (the export's
pop_problems, the batch report's "what to fix" and draft note) is in their column names and plain words, with every
allowed value and no instruction about our registry; what a steward can do about it is on the steward's page."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import yaml

from pop.registry import Registry, load_registry
from schemas.vocabulary import vocabulary
from tasks.steward.actions import export_batch, submit_correction
from tasks.steward.reporting import refresh_reports
from tests.helpers import helpline_source, write_file
from tests.tasks.ingest.test_ingest_file import run_ingest

# a German helpline's own column names: none is one of our field names
COLUMNS = {
    "Zeitraum": "period",
    "Land": "country",
    "Art": "contact_type",
    "Kanal": "channel",
    "Anliegen": "reason",
    "Alter": "age_band",
    "Geschlecht": "gender",
    "Anzahl": "contacts",
}
ROWS = [
    "2023-Q1,Kenya,counselling,TEL,bullying,13-15,girl,12",  # row 2: loads
    "2023-Q1,Kenya,counselling,chat,Cybermobbing,13-15,girl,5",  # row 3: the sender's own code for a reason
    "2023-Q1,Narnia,counselling,chat,bullying,16-17,boy,3",  # row 4: no such country
    "2023-Q1,Kenya,counselling,Telefonie,bullying,16-17,girl,4",  # row 5: the sender's own code for a channel
]
INSTRUCTIONS_FOR_US = re.compile(r"registry|registration|POP team|value mapping|pop vocab|pop batch", re.IGNORECASE)


def ingest(tmp_path: Path, url: str, **entry: object):  # type: ignore[no-untyped-def]
    source = helpline_source(tmp_path, columns=COLUMNS, **entry)
    write_file(tmp_path, "2023_q1.csv", "\n".join([",".join(COLUMNS), *ROWS]) + "\n")
    [batch] = [b for b in run_ingest(tmp_path, url, source) if b]
    return source, batch


def every_code(vocab: str) -> str:
    return ", ".join(vocabulary(vocab).codes)


def test_what_goes_back_to_the_sender_is_in_their_words(tmp_path: Path, database_url: str) -> None:
    source, batch = ingest(tmp_path, database_url)
    assert (batch.rows_loaded, batch.rows_quarantined) == (1, 3)
    exported = export_batch(database_url, Registry(sources=[source]), batch.batch_id, tmp_path / "fix.csv", "amina")
    problems = pd.read_csv(exported, dtype=str).set_index("pop_row")["pop_problems"]
    assert problems["3"] == f"'Anliegen' must be one of: {every_code('harm_type')}. (sent: Cybermobbing)"
    assert problems["5"] == f"'Kanal' must be one of: {every_code('channel')}. (sent: Telefonie)"
    assert problems["4"].startswith("'Land' is not a country we recognise")
    assert len(vocabulary("harm_type").codes) > 12 and "…" not in "".join(problems)  # every code, none cut
    assert not any(INSTRUCTIONS_FOR_US.search(text) for text in problems)
    assert not any(text.startswith(("reason", "channel", "country")) for text in problems)  # not our field names

    page = refresh_reports(database_url, tmp_path / "reports", []).parent / "batches" / f"{batch.batch_id}.html"
    html = page.read_text(encoding="utf-8")
    draft = html.split('<div class="draft">')[1].split("</div>")[0]
    fixes = re.findall(r"<td>([^<]*)</td>\n</tr>", html.split('id="checks"')[1].split('id="steward"')[0])
    for sent in (draft, *fixes):
        assert not INSTRUCTIONS_FOR_US.search(sent), sent
    assert 'Column "Anliegen"' in draft and every_code("harm_type") in draft
    assert len(fixes) == 3 and all(
        fix.startswith(("&#39;Anliegen&#39;", "&#39;Kanal&#39;", "&#39;Land&#39;")) for fix in fixes
    )


def test_the_steward_page_says_what_the_steward_can_do(tmp_path: Path, database_url: str) -> None:
    _, batch = ingest(tmp_path, database_url)
    refresh_reports(database_url, tmp_path / "reports", [])
    html = (tmp_path / "reports" / "batches" / f"{batch.batch_id}.html").read_text(encoding="utf-8")
    steward = html.split('id="steward"')[1].split('id="draft"')[0]
    assert "<code>values: reason:</code>" in steward and "<code>test_helpline</code>" in steward
    assert f"<code>pop batch export {batch.batch_id}</code>" in steward and "Cybermobbing" in steward
    assert "<code>values: channel:</code>" in steward and "<code>values: country:</code>" in steward
    index = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    waiting = index.split('id="steward-actions"')[1].split('id="files"')[0]
    assert "Anliegen" in waiting and "<code>values: reason:</code>" in waiting  # the batch awaits review


def test_a_code_the_steward_maps_loads_its_rows_without_the_sender(tmp_path: Path, database_url: str) -> None:
    """What the steward page says works: map the sender's code in the registry's `values`, export the held rows and
    take the file back as the batch's correction; the mapped rows load, the others stay held."""
    source, batch = ingest(tmp_path, database_url)
    mapped = {**source.values, "reason": {"Cybermobbing": "online.cyberbullying"}, "channel": {"Telefonie": "phone"}}
    registry_file = tmp_path / "sources.yaml"
    entry = yaml.safe_load(registry_file.read_text(encoding="utf-8"))["sources"][0]
    registry_file.write_text(yaml.safe_dump({"sources": [{**entry, "values": mapped}]}), encoding="utf-8")
    registry = load_registry(registry_file)
    exported = export_batch(database_url, registry, batch.batch_id, tmp_path / "held.csv", "amina")
    outcome = submit_correction(
        database_url,
        registry,
        batch.batch_id,
        exported,
        landing_dir=tmp_path / "landing",
        chunk_rows=100,
        actor="amina",
    )
    assert (outcome.correction.rows_loaded, outcome.correction.rows_quarantined) == (2, 1)
    assert (outcome.reconciliation.loaded_by_correction, outcome.reconciliation.open) == (2, 1)
