"""The inbox as a boundary, through real files on disk: only regular files inside it are taken (a link out, a pipe,
a folder named like a file are refused, never read); odd names are named escaped and never stop the rest of the
source; hidden and temporary files are listed as ignored; a file is taken only once complete (settled, or its
sender's completion marker there); the landed copy is exactly the bytes hashed; a file two sources match is loaded
once. On SQLite and PostgreSQL where the warehouse is involved."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from pop.contracts import IgnoredFile, NotTaken, SourceStatus
from pop.db import get_engine
from pop.models import FACT_TABLES, Batch
from pop.registry import Registry, Source
from tasks.ingest.inbox import (
    NotARegularFileError,
    NotTakenError,
    discover,
    land,
    shown,
    survey,
    take_file,
)
from tasks.ingest.sources import ingest_source
from tasks.reference.dimensions import sync_dimensions
from tests.helpers import HEADER, helpline_source, write_file
from tests.tasks.ingest.test_ingest_file import GOOD_ROWS, count

SECRET = "DB_PASSWORD=hunter2"
CSV = "\n".join([HEADER, *GOOD_ROWS]) + "\n"
HELPLINE = FACT_TABLES["fact_helpline_contacts"]


def verdicts(ignored: list[IgnoredFile]) -> dict[str, tuple[NotTaken, str]]:
    return {entry.name: (entry.verdict, entry.reason) for entry in ignored}


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A file outside the inbox whose first line is a secret, as /etc or a .env holds."""
    path = tmp_path / "outside" / "app.env"
    path.parent.mkdir()
    path.write_text(f"{SECRET}\nOTHER=1\n", encoding="utf-8")
    return path


def hostile_inbox(tmp_path: Path, secret_file: Path) -> Path:
    """The helpline folder holding two good files around everything the inbox must not take."""
    folder = tmp_path / "inbox" / "hl"
    write_file(tmp_path, "a_good.csv", CSV)
    (folder / "b_link_out.csv").symlink_to(secret_file)
    (folder / "c_link_in.csv").symlink_to(folder / "a_good.csv")
    os.mkfifo(folder / "d_pipe.csv")
    (folder / "e_folder.csv").mkdir()
    (folder / "e_folder.csv" / "inner.csv").write_text(CSV, encoding="utf-8")
    fd = os.open(os.fsencode(folder) + b"/f_caf\xe9.csv", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, CSV.encode())
    os.close(fd)
    write_file(tmp_path, "g_new\nline.csv", CSV)
    write_file(tmp_path, "z_" + "long" * 60 + ".csv", CSV.replace("2023-Q1", "2023-Q3"))  # 246 characters, taken
    return folder


def test_only_regular_files_inside_the_inbox_are_taken_and_odd_names_never_stop_the_rest(
    tmp_path: Path, secret_file: Path
) -> None:
    source = helpline_source(tmp_path)
    hostile_inbox(tmp_path, secret_file)
    scan = discover(source, tmp_path / "inbox", settle_seconds=0)

    long_name = "z_" + "long" * 60 + ".csv"
    assert [f.path.name for f in scan.files] == ["a_good.csv", long_name]  # the long name sorts after every odd one
    found = verdicts(scan.ignored)
    assert set(found) == {
        "hl/b_link_out.csv",
        "hl/c_link_in.csv",
        "hl/d_pipe.csv",
        "hl/e_folder.csv",
        "hl/f_caf\\xe9.csv",
        "hl/g_new\\nline.csv",
    }
    assert all(verdict == NotTaken.REFUSED for verdict, _ in found.values())
    assert "symbolic link (pointing outside the inbox)" in found["hl/b_link_out.csv"][1]
    assert "symbolic link (pointing inside the inbox)" in found["hl/c_link_in.csv"][1]
    assert found["hl/d_pipe.csv"][1].startswith("a named pipe (FIFO), not a regular file")
    assert found["hl/e_folder.csv"][1].startswith("a folder, not a file, though its name matches 'hl/*.csv'")
    assert "not UTF-8 text" in found["hl/f_caf\\xe9.csv"][1] and "rename" in found["hl/f_caf\\xe9.csv"][1]
    assert "control or invisible characters" in found["hl/g_new\\nline.csv"][1]
    assert SECRET not in repr(scan) and "hunter2" not in repr(scan)


def test_hidden_and_temporary_files_are_listed_as_ignored_with_why(tmp_path: Path) -> None:
    source = helpline_source(tmp_path)
    names = {
        ".~lock.q1.csv#": "a lock file of LibreOffice",
        "~$q1.csv": "an owner file of Microsoft Office",
        "q2.csv.part": "a partial download or upload",
        "q2.csv.crdownload": "a partial download of a browser",
        "q3.csv.tmp": "a temporary file",
        ".q1.csv.swp": "a swap file of an editor",
        "q1.csv~": "a backup copy of an editor",
        ".hidden.csv": "a hidden file",
    }
    for name in names:
        write_file(tmp_path, name, CSV)
    write_file(tmp_path, "q1.csv", CSV)
    write_file(tmp_path, "notes.txt", "not this source's: not listed")
    (tmp_path / "inbox" / "hl" / ".git").mkdir()

    scan = discover(source, tmp_path / "inbox", settle_seconds=0)
    assert [f.path.name for f in scan.files] == ["q1.csv"]
    found = verdicts(scan.ignored)
    assert set(found) == {f"hl/{name}" for name in names}
    for name, why in names.items():
        verdict, reason = found[f"hl/{name}"]
        assert verdict == NotTaken.IGNORED and reason.startswith(why), (name, reason)


def test_a_file_is_taken_once_it_has_settled_never_waited_for(tmp_path: Path) -> None:
    source = helpline_source(tmp_path)
    fresh = write_file(tmp_path, "q1.csv", CSV)
    started = time.monotonic()
    scan = discover(source, tmp_path / "inbox", settle_seconds=10)
    assert time.monotonic() - started < 5  # no sleeping through the interval
    assert scan.files == []
    [(name, (verdict, reason))] = verdicts(scan.ignored).items()
    assert (name, verdict) == ("hl/q1.csv", NotTaken.WAITING)
    assert "less than the 10 s a file must stay unchanged (POP_INBOX_SETTLE_SECONDS)" in reason
    assert "taken on a later run" in reason

    old = time.time() - 60
    os.utime(fresh, (old, old))
    [taken] = discover(source, tmp_path / "inbox", settle_seconds=10).files
    assert taken.path == fresh and taken.size_bytes == len(CSV.encode())

    future = time.time() + 86_400  # a wrong clock: its status change time is believed instead
    os.utime(fresh, (future, future))
    assert discover(source, tmp_path / "inbox", settle_seconds=10).files == []
    assert len(discover(source, tmp_path / "inbox", settle_seconds=10, now=time.time() + 30).files) == 1


def test_the_setting_gives_the_settle_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pop.settings import reset_settings

    source = helpline_source(tmp_path)
    write_file(tmp_path, "q1.csv", CSV)
    monkeypatch.setenv("POP_INBOX_SETTLE_SECONDS", "10")
    reset_settings()
    try:
        assert discover(source, tmp_path / "inbox").files == []
    finally:
        monkeypatch.setenv("POP_INBOX_SETTLE_SECONDS", "0")
        reset_settings()
    assert len(discover(source, tmp_path / "inbox").files) == 1


def test_a_completion_marker_says_when_a_file_is_complete(tmp_path: Path) -> None:
    source = helpline_source(tmp_path, files="hl/*", complete_marker=".done")
    write_file(tmp_path, "q1.csv", CSV)
    write_file(tmp_path, "q2.csv", CSV.replace("1,200", "1,300"))
    write_file(tmp_path, "q2.csv.done", "")

    scan = discover(source, tmp_path / "inbox", settle_seconds=3600)  # the marker, not the interval, decides
    assert [f.path.name for f in scan.files] == ["q2.csv"]
    found = verdicts(scan.ignored)
    assert found["hl/q1.csv"][0] == NotTaken.WAITING
    assert "waits for its completion marker q1.csv.done" in found["hl/q1.csv"][1]
    assert found["hl/q2.csv.done"] == (NotTaken.IGNORED, "the completion marker of q2.csv; not data")


def test_the_landed_copy_is_the_bytes_hashed_and_a_file_changed_meanwhile_is_not_landed(tmp_path: Path) -> None:
    source = helpline_source(tmp_path)
    path = write_file(tmp_path, "q1.csv", CSV)
    [incoming] = discover(source, tmp_path / "inbox", settle_seconds=0).files

    path.write_text(CSV.replace("1,200", "9,999"), encoding="utf-8")  # rewritten in place after it was found
    with pytest.raises(NotTakenError) as caught:
        land(incoming, source, tmp_path / "landing")
    assert caught.value.verdict == NotTaken.WAITING
    assert "q1.csv changed after it was found in the inbox" in caught.value.reason
    assert "taken on a later run" in caught.value.reason
    assert not (tmp_path / "landing" / source.id).exists() or not list((tmp_path / "landing" / source.id).iterdir())

    [again] = discover(source, tmp_path / "inbox", settle_seconds=0).files
    landed = land(again, source, tmp_path / "landing")
    assert landed.name == f"{again.sha256}.csv" and landed.read_bytes() == path.read_bytes()
    assert list(landed.parent.iterdir()) == [landed]  # no partial copy left behind


def test_a_steward_file_must_be_a_regular_file_itself(tmp_path: Path, secret_file: Path) -> None:
    link = tmp_path / "fixed.csv"
    link.symlink_to(secret_file)
    with pytest.raises(NotARegularFileError, match="is a symbolic link: give the file itself"):
        take_file(link)
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(NotARegularFileError, match=r"is a named pipe \(FIFO\), not a regular file"):
        take_file(tmp_path / "pipe.csv")
    with pytest.raises(NotARegularFileError, match="is a folder"):
        take_file(tmp_path)
    real = tmp_path / "real.csv"
    real.write_text(CSV, encoding="utf-8")
    assert take_file(real).size_bytes == len(CSV.encode())


def test_names_are_shown_escaped() -> None:
    assert shown(os.fsdecode(b"caf\xe9.csv")) == "caf\\xe9.csv"
    assert shown("a\nb\t.csv") == "a\\nb\\t.csv"
    assert shown("report\u202egnp.csv") == "report\\u202egnp.csv"  # a right-to-left override cannot disguise a name
    assert shown("café.csv") == "café.csv"
    assert shown("x" * 300).endswith("[cut by POP: 300 characters]")


def test_survey_does_not_read_and_does_not_follow_links(tmp_path: Path, secret_file: Path) -> None:
    source = helpline_source(tmp_path, files="**/*.csv")
    hostile_inbox(tmp_path, secret_file)
    (tmp_path / "inbox" / "linked_dir").symlink_to(secret_file.parent, target_is_directory=True)
    found = survey(source, tmp_path / "inbox")
    taken = [relative for _, relative in found.found]
    assert "hl/a_good.csv" in taken and "hl/e_folder.csv/inner.csv" in taken  # the folder is refused, its file found
    assert verdicts(found.ignored)["linked_dir"][0] == NotTaken.REFUSED


# --- through ingestion, into the warehouse ---------------------------------------------------------------------------


def secret_anywhere(database_url: str, *folders: Path) -> list[str]:
    """Where the secret appears: any text of the warehouse's batches, quarantine and facts, or any file."""
    found = []
    with get_engine(database_url).connect() as conn:
        for table in ("batches", "quarantine", "fact_helpline_contacts"):
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
            if "hunter2" in repr(rows):
                found.append(table)
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink() and b"hunter2" in path.read_bytes():
                found.append(str(path))
    return found


def test_a_hostile_inbox_loads_its_good_files_and_names_the_rest(
    tmp_path: Path, database_url: str, secret_file: Path
) -> None:
    source = helpline_source(tmp_path)
    hostile_inbox(tmp_path, secret_file)
    with get_engine(database_url).begin() as conn:
        sync_dimensions(conn, Registry(sources=[source]))

    outcome = ingest_source(source, tmp_path / "inbox", database_url, tmp_path / "landing", 1000)
    assert [b.original_name for b in outcome.batches] == ["a_good.csv", "z_" + "long" * 60 + ".csv"]
    assert count(database_url, HELPLINE) == 6
    assert outcome.files_seen == 2 and len(outcome.ignored) == 6
    assert outcome.status == SourceStatus.FAILED  # refused entries need someone to act
    for name in ("b_link_out.csv", "d_pipe.csv", "e_folder.csv", "f_caf\\xe9.csv", "g_new\\nline.csv"):
        assert f"not taken: hl/{name}: " in outcome.message
    assert "hunter2" not in outcome.model_dump_json()
    assert secret_anywhere(database_url, tmp_path / "landing") == []

    again = ingest_source(source, tmp_path / "inbox", database_url, tmp_path / "landing", 1000)
    assert again.batches == () and len(again.ignored) == 6 and count(database_url, HELPLINE) == 6


def test_a_file_changed_before_it_is_landed_waits_and_the_others_go_on(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.ingest.sources as sources_module

    source = helpline_source(tmp_path)
    first = write_file(tmp_path, "q1.csv", CSV)
    write_file(tmp_path, "q2.csv", CSV.replace("2023-Q1", "2023-Q2"))
    with get_engine(database_url).begin() as conn:
        sync_dimensions(conn, Registry(sources=[source]))
    found = sources_module.discover

    def found_then_rewritten(*args, **kwargs):  # type: ignore[no-untyped-def]
        scan = found(*args, **kwargs)
        first.write_text(CSV + GOOD_ROWS[0].replace("Kenya", "Uganda") + "\n", encoding="utf-8")
        return scan

    monkeypatch.setattr(sources_module, "discover", found_then_rewritten)
    outcome = ingest_source(source, tmp_path / "inbox", database_url, tmp_path / "landing", 1000)
    assert [b.original_name for b in outcome.batches] == ["q2.csv"]
    [waiting] = outcome.ignored
    assert (waiting.name, waiting.verdict) == ("hl/q1.csv", NotTaken.WAITING)
    assert "changed after it was found in the inbox" in waiting.reason
    assert outcome.status == SourceStatus.OK

    monkeypatch.setattr(sources_module, "discover", found)
    later = ingest_source(source, tmp_path / "inbox", database_url, tmp_path / "landing", 1000)
    [batch] = later.batches
    assert batch.original_name == "q1.csv" and batch.rows_in == 4
    assert Path(batch.landed_path).read_bytes() == first.read_bytes()


def test_a_file_two_sources_match_is_loaded_once(tmp_path: Path, database_url: str) -> None:
    """The registry refuses such globs; should two sources still meet on one file, the second does not load it."""
    first = helpline_source(tmp_path)
    second: Source = first.model_copy(update={"id": "test_helpline_again"})
    write_file(tmp_path, "q1.csv", CSV)
    with get_engine(database_url).begin() as conn:
        sync_dimensions(conn, Registry.model_construct(sources=[first, second]))

    taken = ingest_source(first, tmp_path / "inbox", database_url, tmp_path / "landing", 1000)
    again = ingest_source(second, tmp_path / "inbox", database_url, tmp_path / "landing", 1000)
    assert len(taken.batches) == 1 and again.batches == ()
    [refused] = again.ignored
    assert refused.verdict == NotTaken.REFUSED and "was taken by source 'test_helpline'" in refused.reason
    assert again.status == SourceStatus.FAILED
    assert count(database_url, HELPLINE) == 3
    with get_engine(database_url).connect() as conn:
        assert conn.execute(select(Batch.source_id)).scalars().all() == ["test_helpline"]
