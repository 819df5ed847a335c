"""Record keys for the cell-key method of disclosure control (as the ABS and the ONS use it): every fact row carries
a record key, a number in 0..255 that looks random; a published cell's key is the sum of its rows' keys mod 256, and
picks the cell's noise from a perturbation table. So that the noise of a cell stays the same whenever it is
published, and gives nothing away, a row's key is:

- fixed: assigned once, when the row is loaded, and stored in the row (`record_key` of every fact table); it never
  changes afterwards (a steward's merge moves a row with its key; a correction's rows are new rows with their own);
- secret: derived with a secret key, so that nobody outside can compute a cell's key, hence its noise, from what is
  published (each file's sha256 is in the snapshot, and row counts may be known);
- deterministic given the secret: the same file (same sha256) loaded into SQLite or PostgreSQL, or loaded again after
  a rebuild, gets the same keys, so snapshots stay byte-identical across backends and rebuilds.

The derivation: seed = the 8 bytes of blake2b(sha256 of the file, key=secret) as a little-endian 64-bit number; the
key of row n (its row number in the file) is the high 8 bits of splitmix64's mix of seed + n x 0x9E3779B97F4A7C15
(the n-th output of a splitmix64 generator seeded with seed), in wrapping 64-bit arithmetic.

The secret is the setting `record_key_secret` (POP_RECORD_KEY_SECRET), else the file `record-key.secret` in the
outputs folder, made on first use (readable by its owner only). Keep it: with another secret, rows loaded afterwards
get keys unrelated to those of rows loaded before, and a rebuild gives other keys. Its value is never printed or
logged."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pop.settings import Settings

log = logging.getLogger(__name__)

SECRET_FILE = "record-key.secret"
MIN_SECRET_BYTES = 16  # shorter could be guessed by trying
MAX_SECRET_BYTES = 64  # the longest key blake2b takes
GAMMA = np.uint64(0x9E3779B97F4A7C15)  # splitmix64's increment (2^64 / golden ratio)
MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
MIX_2 = np.uint64(0x94D049BB133111EB)


def _seed(secret: bytes, sha256: str) -> np.uint64:
    """The file's 64-bit seed: blake2b of its sha256, keyed with the secret."""
    digest = hashlib.blake2b(sha256.encode("ascii"), key=secret, digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def record_keys(secret: bytes, sha256: str, row_numbers: np.ndarray) -> np.ndarray:
    """The record key (0..255, int16) of each row number of the file whose checksum is `sha256`."""
    z = np.asarray(row_numbers).astype(np.uint64) * GAMMA + _seed(secret, sha256)  # wraps mod 2^64
    z = (z ^ (z >> np.uint64(30))) * MIX_1
    z = (z ^ (z >> np.uint64(27))) * MIX_2
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(56)).astype(np.int16)


def _checked(secret: bytes, where: str) -> bytes:
    """The secret, when its length is one blake2b can key with and not too short to guess (never echoed)."""
    if not MIN_SECRET_BYTES <= len(secret) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"the record-key secret ({where}) must be {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes long, "
            f"e.g. 64 hex digits (python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return secret


def _made_once(path: Path) -> None:
    """Write a new secret to `path` unless it exists: written whole to a file of its own readable by its owner only,
    then linked into place, so that a process running at the same time reads either none or all of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, secrets.token_hex(32).encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(draft, path)
        log.info("made a new record-key secret in %s: keep it with the warehouse", path)
    except FileExistsError:
        pass  # another process made it first: its secret is the one
    finally:
        with contextlib.suppress(FileNotFoundError):
            draft.unlink()


def key_secret(settings: Settings) -> bytes:
    """The secret record keys are derived with: the setting record_key_secret (POP_RECORD_KEY_SECRET), else the
    secret file in the outputs folder, made on first use."""
    if settings.record_key_secret is not None:
        return _checked(settings.record_key_secret.get_secret_value().encode("utf-8"), "POP_RECORD_KEY_SECRET")
    path = Path(settings.outputs_dir) / SECRET_FILE
    if not path.exists():
        _made_once(path)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("%s can be read by others than its owner: chmod 600 it", path)
    return _checked(path.read_bytes().strip(), str(path))
