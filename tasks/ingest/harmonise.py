"""Harmonise: the sender's words → one shared language (ISO countries, canonical companies and platforms,
vocabulary codes, age bands with POP bands), as each field's kind says. What cannot be harmonised becomes a row
issue."""

from __future__ import annotations

import pandas as pd

from schemas.kinds import ParseOptions
from schemas.spec import SourceSchema
from tasks.ingest.convert import parse_field
from tasks.ingest.issues import RowIssues


def harmonise(typed: pd.DataFrame, schema: SourceSchema, issues: RowIssues, options: ParseOptions) -> pd.DataFrame:
    """The harmonised frame: every field in our codes, with the columns the warehouse stores (read as the source
    writes its values: multi-select delimiter, ...)."""
    parts = []
    for name, spec in schema.fields.items():
        if spec.field_kind.phase == "harmonise":
            parts.append(parse_field(typed[name], spec, issues, options))
        else:
            parts.append(typed[spec.output_columns()])
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=typed.index)
