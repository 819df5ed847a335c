"""Record keys (pop.record_keys): fixed by a file's sha256 and a row's number, unpredictable without the secret,
spread evenly over 0..255; and the secret: the setting, else a file of the outputs folder made once, never shown."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from pop.record_keys import SECRET_FILE, key_secret, record_keys
from pop.settings import Settings

SECRET = b"a-secret-of-the-tests-0123456789"
SHA256 = hashlib.sha256(b"a file").hexdigest()
ROWS = np.arange(2, 100_002, dtype=np.int64)  # row numbers as files number them (the header is row 1)
# chi-square with 255 degrees of freedom: outside [0.1 %, 99.9 %] the keys are too even or too uneven to be random
CHI2_LOW, CHI2_HIGH = 190.87, 330.52
MASK = (1 << 64) - 1


def splitmix64_high_byte(secret: bytes, sha256: str, n: int) -> int:
    """The derivation written out in plain integers: the top byte of splitmix64's n-th output from the file's seed."""
    seed = int.from_bytes(hashlib.blake2b(sha256.encode(), key=secret, digest_size=8).digest(), "little")
    z = (seed + n * 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return (z ^ (z >> 31)) >> 56


def chi_square(keys: np.ndarray) -> float:
    counts = np.bincount(keys, minlength=256)
    expected = len(keys) / 256
    return float(((counts - expected) ** 2 / expected).sum())


def test_keys_are_the_derivation_and_never_change() -> None:
    keys = record_keys(SECRET, SHA256, ROWS[:1000])
    assert keys.tolist() == [splitmix64_high_byte(SECRET, SHA256, int(n)) for n in ROWS[:1000]]
    # pinned: a change of derivation would change the keys of every row already loaded
    empty_file = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    pinned = record_keys(b"0123456789abcdef", empty_file, np.arange(1, 11))
    assert pinned.tolist() == [98, 12, 5, 138, 135, 116, 49, 254, 125, 214]


def test_keys_are_deterministic_and_lie_in_0_to_255() -> None:
    keys = record_keys(SECRET, SHA256, ROWS)
    assert keys.dtype == np.int16 and keys.shape == ROWS.shape
    assert keys.min() >= 0 and keys.max() <= 255
    assert np.array_equal(keys, record_keys(SECRET, SHA256, ROWS))
    assert np.array_equal(keys[5:9], record_keys(SECRET, SHA256, ROWS[5:9]))  # a row's key, whatever its chunk
    assert record_keys(SECRET, SHA256, np.array([], dtype=np.int64)).shape == (0,)


def test_another_secret_or_file_gives_other_keys() -> None:
    keys = record_keys(SECRET, SHA256, ROWS)
    other_secret = record_keys(SECRET.replace(b"a", b"b"), SHA256, ROWS)
    other_file = record_keys(SECRET, hashlib.sha256(b"another file").hexdigest(), ROWS)
    for other in (other_secret, other_file):
        assert (keys == other).mean() < 0.01  # as unrelated as two random draws (1/256 agree)


@pytest.mark.parametrize("content", [b"a file", b"another file", b""])
def test_keys_are_spread_evenly_and_independently(content: bytes) -> None:
    """Fixed inputs, so the outcome is fixed: bounds at 0.1 % and 99.9 % of chi-square(255) are a real test, not a
    flaky one. Also the keys of neighbouring rows, and the keys of cells of four rows (what a cell key sums)."""
    keys = record_keys(SECRET, hashlib.sha256(content).hexdigest(), ROWS).astype(np.int64)
    assert CHI2_LOW < chi_square(keys) < CHI2_HIGH
    assert CHI2_LOW < chi_square((keys[1:] - keys[:-1]) % 256) < CHI2_HIGH
    assert CHI2_LOW < chi_square(keys.reshape(-1, 4).sum(axis=1) % 256) < CHI2_HIGH


def test_a_million_keys_take_under_half_a_second() -> None:
    rows = np.arange(2, 1_000_002, dtype=np.int64)
    record_keys(SECRET, SHA256, rows[:10])
    started = time.perf_counter()
    record_keys(SECRET, SHA256, rows)
    assert time.perf_counter() - started < 0.5  # ~0.01 s measured on 2 cores


# --- the secret ------------------------------------------------------------------------------------------------


@pytest.fixture
def no_secret_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POP_RECORD_KEY_SECRET", raising=False)


def test_the_setting_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_text("f" * 64, encoding="ascii")
    settings = Settings(outputs_dir=tmp_path, record_key_secret=SecretStr("s" * 20))
    assert key_secret(settings) == b"s" * 20
    assert key_secret(Settings(outputs_dir=tmp_path / "other")) == os.environ["POP_RECORD_KEY_SECRET"].encode()
    assert not (tmp_path / "other").exists()  # the environment's setting (tests/conftest.py): no file made


@pytest.mark.usefixtures("no_secret_setting")
def test_without_the_setting_a_secret_file_is_made_once_readable_by_its_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tmp_path / "not" / "yet" / "outputs"
    caplog.set_level(logging.DEBUG)
    secret = key_secret(Settings(outputs_dir=outputs))
    path = outputs / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) == 64 and int(secret, 16) >= 0 and path.read_bytes() == secret
    assert key_secret(Settings(outputs_dir=outputs)) == secret  # made once, then read
    assert sorted(p.name for p in outputs.iterdir()) == [SECRET_FILE]  # no draft left behind
    assert key_secret(Settings(outputs_dir=tmp_path / "elsewhere")) != secret
    said = caplog.text + "".join(capsys.readouterr())
    assert secret.decode() not in said and str(path) in caplog.text  # where it is, never what it is


@pytest.mark.usefixtures("no_secret_setting")
def test_a_secret_file_kept_from_before_is_used_as_it_is(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    kept = tmp_path / SECRET_FILE
    kept.write_text("k" * 40 + "\n", encoding="ascii")
    kept.chmod(0o600)
    assert key_secret(Settings(outputs_dir=tmp_path)) == b"k" * 40
    assert not caplog.records
    kept.chmod(0o644)  # copied about carelessly: still the secret, and the steward is told
    assert key_secret(Settings(outputs_dir=tmp_path)) == b"k" * 40
    assert "can be read by others than its owner" in caplog.text and "k" * 40 not in caplog.text


@pytest.mark.parametrize("secret", ["too-short", "x" * 65])
def test_a_secret_blake2b_cannot_key_with_or_easy_to_guess_is_refused_without_showing_it(secret: str) -> None:
    with pytest.raises(ValueError, match="16 to 64 bytes") as refused:
        key_secret(Settings(record_key_secret=SecretStr(secret)))
    assert secret not in str(refused.value)


def test_the_secret_is_not_in_the_representations_that_get_logged() -> None:
    settings = Settings(record_key_secret=SecretStr("shown-nowhere-0123456789"))
    assert "shown-nowhere" not in repr(settings) and "shown-nowhere" not in settings.model_dump_json()
