"""Errata: known errors in upstream data, declared as data (config/errata.yaml) and applied during
harmonisation. Each erratum must keep matching something; one that no longer does fails loudly, so it is retired."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from sqlalchemy import Connection, func, select

from pop.config import load_config
from pop.contracts import BatchStatus, SourceOutcome
from pop.db import get_engine
from pop.models import Batch, ErratumApplication
from pop.registry import Registry, RegistryError
from schemas.vocabulary import normalise_text
from tasks.ingest.issues import RowIssues

ACTIVE = ("open", "reported")


class Erratum(BaseModel):
    """One known upstream error: which source and rows, what to do, why, and where it stands upstream."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    source: str
    file: str = "*"
    where: dict[str, str]
    action: Literal["drop", "override", "flag"]
    set: dict[str, str] = {}
    reason: str
    status: Literal["open", "reported", "fixed_upstream"] = "open"

    @model_validator(mode="after")
    def _override_sets_something(self) -> Erratum:
        if self.action == "override" and not self.set:
            raise ValueError("an override needs 'set': the fields and the values to write")
        if not self.where:
            raise ValueError("'where' is empty: say which rows (field: value as the sender wrote it)")
        return self

    @model_validator(mode="after")
    def _names_fields_of_its_source(self, info: ValidationInfo) -> Erratum:
        registry: Registry | None = (info.context or {}).get("registry")
        if registry is None:
            return self
        try:
            fields = registry.get(self.source).schema.fields
        except RegistryError as exc:
            raise ValueError(str(exc)) from None
        if unknown := [f for f in [*self.where, *self.set] if f not in fields]:
            raise ValueError(
                f"names {', '.join(unknown)}, not fields of source {self.source}; fields: {', '.join(fields)}"
            )
        return self

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def applies_to(self, source_id: str, file_name: str) -> bool:
        return self.active and self.source == source_id and fnmatch.fnmatch(file_name, self.file)

    def matches(self, mapped: pd.DataFrame) -> pd.Series:
        """Rows whose fields equal every `where` value (compared as normalised text)."""
        mask = pd.Series(True, index=mapped.index)
        for name, value in self.where.items():
            column = mapped[name].astype("string").fillna("").map(normalise_text)
            mask &= column == normalise_text(value)
        return mask


class ErrataLog(BaseModel):
    """config/errata.yaml: every known upstream error, each with its own id."""

    model_config = ConfigDict(extra="forbid")
    errata: list[Erratum] = []

    @model_validator(mode="before")
    @classmethod
    def _empty_file(cls, doc: Any) -> Any:
        return doc or {}

    @field_validator("errata")
    @classmethod
    def _ids_unique(cls, errata: list[Erratum]) -> list[Erratum]:
        ids = [e.id for e in errata]
        if repeated := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"every erratum needs its own id: {', '.join(repeated)} repeated")
        return errata


def load_errata(path: Path, registry: Registry) -> list[Erratum]:
    """Read and check the errata log (none when there is no file); a wrong entry is refused with what to fix."""
    if not Path(path).exists():
        return []
    log = load_config(
        Path(path),
        ErrataLog,
        what="errata",
        entries={"errata": "erratum"},
        context={"registry": registry},
        error=RegistryError,
    )
    return log.errata


def apply_errata(mapped: pd.DataFrame, errata: list[Erratum], issues: RowIssues) -> list[dict]:
    """Apply each erratum to a chunk (our field names, sender values): override values in place, hold dropped rows
    back as issues, and return every application (erratum, row, action)."""
    applications: list[dict] = []
    for erratum in errata:
        rows = mapped.index[erratum.matches(mapped)]
        if erratum.action == "override":
            for name, value in erratum.set.items():
                column = mapped[name].astype("string")
                column.loc[rows] = value
                mapped[name] = column.astype("category")
        elif erratum.action == "drop":
            issues.add(
                rows,
                "erratum",
                "erratum_drop",
                [erratum.id] * len(rows),
                f"Dropped by erratum {erratum.id}: {erratum.reason}",
            )
        applications += [{"erratum_id": erratum.id, "row_number": int(r), "action": erratum.action} for r in rows]
    return applications


def stale_errata(conn: Connection, errata: list[Erratum]) -> list[tuple[Erratum, str]]:
    """Active errata that match no row of any file they apply to (the upstream changed): retire or fix them."""
    applied = dict(
        conn.execute(select(ErratumApplication.erratum_id, func.count()).group_by(ErratumApplication.erratum_id)).all()
    )
    batch = Batch.__table__
    problems = []
    for erratum in errata:
        if not erratum.active or applied.get(erratum.id):
            continue
        names = (
            conn.execute(
                select(batch.c.original_name).where(
                    batch.c.source_id == erratum.source, batch.c.status == BatchStatus.LOADED
                )
            )
            .scalars()
            .all()
        )
        if any(fnmatch.fnmatch(name, erratum.file) for name in names):
            problems.append(
                (
                    erratum,
                    f"erratum {erratum.id} ({erratum.source}, {erratum.file}) matches no row of the files it "
                    f"applies to: check the upstream data, then set its status to fixed_upstream or correct "
                    f"its 'where' in config/errata.yaml",
                )
            )
    return problems


def flag_stale_errata(
    database_url: str, outcomes: Sequence[SourceOutcome], errata: list[Erratum]
) -> list[SourceOutcome]:
    """The sources' outcomes, with every source that has an erratum no longer matching anything failed, loudly, so
    that the erratum gets retired."""
    with get_engine(database_url).connect() as conn:
        stale = stale_errata(conn, errata)
    flagged = list(outcomes)
    for erratum, problem in stale:
        flagged = [o.failed_because(problem) if o.source_id == erratum.source else o for o in flagged]
    return flagged
