"""Natural keys seen across the chunks of a file: the sorted key store against a plain dict, for any keys and
any chunking (a key repeated within a chunk, across chunks, or already in the warehouse)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.ingest.validate import SeenKeys

keys = st.lists(st.integers(min_value=0, max_value=40), max_size=120)


@settings(max_examples=200, deadline=None)
@given(
    loaded=st.lists(st.integers(min_value=0, max_value=40), unique=True, max_size=20),
    sent=keys,
    cuts=st.lists(st.integers(min_value=0, max_value=120), max_size=6),
)
def test_seen_keys_agree_with_a_dict(loaded: list[int], sent: list[int], cuts: list[int]) -> None:
    existing = pd.DataFrame({"batch_id": 9, "row_number": [100 + i for i in range(len(loaded))], "k": loaded})
    seen = SeenKeys.loaded(existing, ["k"])
    model = {h: (100 + i, 9) for i, h in enumerate(seen.hashes[np.argsort(seen.rows)])}  # hash → (row, batch)
    hashes = pd.util.hash_pandas_object(pd.DataFrame({"k": sent}), index=False).to_numpy()
    bounds = sorted({0, len(sent), *[c for c in cuts if c <= len(sent)]})
    for start, stop in itertools.pairwise(bounds):
        chunk, rows = hashes[start:stop], np.arange(start, stop, dtype=np.int64) + 2
        position, found = seen.find(chunk)
        assert found.tolist() == [h in model for h in chunk]
        for h, p, f in zip(chunk, position, found, strict=True):
            if f:
                assert (seen.rows[p], seen.batches[p]) == model[h]
        new = ~found & ~pd.Series(chunk).duplicated().to_numpy()
        seen = seen.with_new(chunk[new], rows[new], position[new])
        for h, r in zip(chunk[new], rows[new], strict=True):
            model[h] = (int(r), 0)
        assert np.all(seen.hashes[:-1] < seen.hashes[1:]) and len(seen.hashes) == len(model)
        stored = zip(seen.rows.tolist(), seen.batches.tolist(), strict=True)
        assert dict(zip(seen.hashes.tolist(), stored, strict=True)) == model
