"""An entry a source added that a steward finds is one we know under another name: its names, its rows and its
multi-select answers move to the known entry, and the added entry goes (pop vocab map NAME --to CODE)."""

from __future__ import annotations

from sqlalchemy import Connection, Table, delete, func, select, update

from pop.models import FACT_TABLES, FactChoice, ObservationScope, VocabularyEntry, VocabularyName
from schemas.spec import GROUPS, SourceSchema, load_schema
from tasks.reference.dimensions import DIMENSION_OF

ENTRIES, NAMES = VocabularyEntry.__table__, VocabularyName.__table__
CHOICES, SCOPES = FactChoice.__table__, ObservationScope.__table__


class MergeError(ValueError):
    """The entry cannot be merged; the message says why and what to do first."""


def code_columns(vocabulary: str) -> list[tuple[SourceSchema, str]]:
    """(schema, fact column) of every single-value field whose codes come from the vocabulary."""
    return [
        (schema, spec.stored_column)
        for schema in map(load_schema, GROUPS)
        for spec in schema.fields.values()
        if spec.field_kind.takes_new_names and spec.field_kind.vocab(spec) == vocabulary
    ]


def choice_fields(vocabulary: str) -> list[str]:
    """The multi-select fields whose options come from the vocabulary."""
    return [
        spec.name
        for schema in map(load_schema, GROUPS)
        for spec in schema.fields.values()
        if spec.field_kind.multi and spec.vocab == vocabulary
    ]


def _colliding_batches(conn: Connection, schema: SourceSchema, column: str, old: str, new: str) -> list[int]:
    """Batches with rows under both codes that would then share a natural key (one would count twice)."""
    table: Table = FACT_TABLES[schema.fact_table]
    key = [table.c[c] for c in schema.natural_key_columns if c != column]
    query = (
        select(table.c.batch_id)
        .where(table.c[column].in_([old, new]))
        .group_by(table.c.batch_id, *key)
        .having(func.count(func.distinct(table.c[column])) > 1)
    )
    return sorted(set(conn.execute(query).scalars()))


def merge_entry(conn: Connection, vocabulary: str, old: str, new: str) -> int:
    """Move what stands for `old` to `new` and drop `old`: the number of fact rows moved. A MergeError when a batch
    has rows under both that would share a key."""
    columns = code_columns(vocabulary)
    for schema, column in columns:
        if batches := _colliding_batches(conn, schema, column, old, new):
            raise MergeError(
                f"batch(es) {', '.join(map(str, batches))} of {schema.group} hold rows under both {old!r} and "
                f"{new!r} for the same key; reject the batch or send it corrected, then map the name"
            )
    moved = 0
    for schema, column in columns:
        table = FACT_TABLES[schema.fact_table]
        moved += conn.execute(update(table).where(table.c[column] == old).values({column: new})).rowcount or 0
        if column in schema.observation_scope_columns:
            _move_scopes(conn, "scope_1" if schema.observation_scope_columns[0] == column else "scope_2", old, new)
    for field in choice_fields(vocabulary):
        other = CHOICES.alias("other")
        chosen_too = (
            select(other.c.code)
            .where(
                other.c.batch_id == CHOICES.c.batch_id,
                other.c.row_number == CHOICES.c.row_number,
                other.c.field == field,
                other.c.code == new,
            )
            .exists()
        )
        conn.execute(delete(CHOICES).where(CHOICES.c.field == field, CHOICES.c.code == old, chosen_too))
        conn.execute(update(CHOICES).where(CHOICES.c.field == field, CHOICES.c.code == old).values(code=new))
    if vocabulary == "company":  # the platforms of the company go with it
        platforms = DIMENSION_OF["platform"]
        conn.execute(
            update(ENTRIES)
            .where(ENTRIES.c.vocabulary == "platform", ENTRIES.c.company_code == old)
            .values(company_code=new)
        )
        conn.execute(update(platforms).where(platforms.c.company_code == old).values(company_code=new))
    conn.execute(update(NAMES).where(NAMES.c.vocabulary == vocabulary, NAMES.c.code == old).values(code=new))
    conn.execute(delete(ENTRIES).where(ENTRIES.c.vocabulary == vocabulary, ENTRIES.c.code == old))
    dimension = DIMENSION_OF[vocabulary]
    conn.execute(delete(dimension).where(dimension.c.code == old))
    return moved


def _move_scopes(conn: Connection, position: str, old: str, new: str) -> None:
    """The observation scopes that named `old` in `position` name `new` (one row where a batch had both)."""
    other, keep = SCOPES.alias("other"), "scope_2" if position == "scope_1" else "scope_1"
    both = (
        select(other.c.batch_id)
        .where(other.c.batch_id == SCOPES.c.batch_id, other.c[position] == new, other.c[keep] == SCOPES.c[keep])
        .exists()
    )
    conn.execute(delete(SCOPES).where(SCOPES.c[position] == old, both))
    conn.execute(update(SCOPES).where(SCOPES.c[position] == old).values({position: new}))
