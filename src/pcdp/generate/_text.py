"""Vectorised string building: ids, ISO timestamps and Arrow string arrays from byte matrices.

Building tens of millions of Python strings is far too slow, so every high-cardinality text
column is assembled as a ``uint8`` matrix of characters and handed to Arrow without copies.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray | int) -> np.ndarray:
    """SplitMix64 finaliser: a bijection on uint64, so distinct inputs give distinct outputs."""
    z = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _C1
        z = (z ^ (z >> np.uint64(27))) * _C2
    return z ^ (z >> np.uint64(31))


def seed_key(seed: int, stream: int) -> np.uint64:
    """A per-seed, per-stream 64-bit key, used to make ids depend on the seed."""
    return mix64(np.uint64((seed * 1_000_003 + stream) % (1 << 64)))


_HEX_PAIRS16 = np.ascontiguousarray(
    _HEX[np.stack([np.arange(256) >> 4, np.arange(256) & 15], axis=1)]
).view(np.uint16)[:, 0]


def hex_matrix(x: np.ndarray) -> np.ndarray:
    """uint64 values as an (n, 16) matrix of lower-case hex characters."""
    be = np.asarray(x, dtype=np.uint64).astype(">u8").view(np.uint8).astype(np.intp)
    return _HEX_PAIRS16[be].view(np.uint8).reshape(-1, 16)


def prefixed(prefix: str, body: np.ndarray) -> np.ndarray:
    """Prepend a constant prefix to every row of a character matrix."""
    p = np.frombuffer(prefix.encode(), dtype=np.uint8)
    out = np.empty((body.shape[0], len(p) + body.shape[1]), dtype=np.uint8)
    out[:, : len(p)] = p
    out[:, len(p) :] = body
    return out


def strings(mat: np.ndarray, lengths: np.ndarray | None = None) -> pa.Array:
    """Arrow string array from a character matrix; rows may be cut to ``lengths``."""
    n, w = mat.shape
    if lengths is None:
        data = np.ascontiguousarray(mat).reshape(-1)
        offsets = np.arange(0, n * w + 1, w, dtype=np.int64)
    else:
        lengths = np.asarray(lengths, dtype=np.int64)
        data = mat[np.arange(w)[None, :] < lengths[:, None]]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] < 2**31 - 1:
        return pa.StringArray.from_buffers(
            n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data.tobytes())
        )
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data.tobytes()))


def hex_ids(prefix: str, x: np.ndarray) -> pa.Array:
    """``prefix`` + 16 hex digits for every value."""
    return strings(prefixed(prefix, hex_matrix(x)))


def _put(mat: np.ndarray, col: int, value: np.ndarray, width: int) -> None:
    v = value.astype(np.int64)
    for k in range(width - 1, -1, -1):
        mat[:, col + k] = _DIGITS[v % 10]
        v //= 10


def civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant)."""
    z = days.astype(np.int64) + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    return y + (m <= 2), m, d


# Timestamp text styles.
STYLE_Z = 0  # 2025-03-04T10:11:12Z
STYLE_OFFSET = 1  # 2025-03-04T12:11:12+02:00 (local time with its offset)
STYLE_NAIVE = 2  # 2025-03-04T10:11:12 (no offset: UTC by contract)


def iso_timestamps(
    secs: np.ndarray, style: np.ndarray | None = None, offset_min: np.ndarray | None = None
) -> pa.Array:
    """ISO 8601 text for UTC epoch seconds; rows in STYLE_OFFSET show local time + offset."""
    secs = np.asarray(secs, dtype=np.int64)
    n = secs.shape[0]
    if style is None:
        style = np.zeros(n, dtype=np.int8)
    if offset_min is None:
        offset_min = np.zeros(n, dtype=np.int64)
    off = np.where(style == STYLE_OFFSET, offset_min, 0).astype(np.int64)
    local = secs + off * 60
    days, sod = np.divmod(local, 86400)
    y, m, d = civil(days)
    mat = np.zeros((n, 25), dtype=np.uint8)
    _put(mat, 0, y, 4)
    mat[:, 4] = ord("-")
    _put(mat, 5, m, 2)
    mat[:, 7] = ord("-")
    _put(mat, 8, d, 2)
    mat[:, 10] = ord("T")
    _put(mat, 11, sod // 3600, 2)
    mat[:, 13] = ord(":")
    _put(mat, 14, (sod // 60) % 60, 2)
    mat[:, 16] = ord(":")
    _put(mat, 17, sod % 60, 2)
    mat[:, 19] = ord("Z")
    sign = np.where(off < 0, ord("-"), ord("+")).astype(np.uint8)
    a = np.abs(off)
    is_off = style == STYLE_OFFSET
    if is_off.any():
        sub = mat[is_off]
        sub[:, 19] = sign[is_off]
        _put(sub[:, 20:22], 0, a[is_off] // 60, 2)
        sub[:, 22] = ord(":")
        _put(sub[:, 23:25], 0, a[is_off] % 60, 2)
        mat[is_off] = sub
    lengths = np.where(is_off, 25, np.where(style == STYLE_NAIVE, 19, 20))
    return strings(mat, lengths)


def iso_dates(days: np.ndarray) -> pa.Array:
    """``YYYY-MM-DD`` for days since the epoch."""
    y, m, d = civil(np.asarray(days, dtype=np.int64))
    mat = np.zeros((len(y), 10), dtype=np.uint8)
    _put(mat, 0, y, 4)
    mat[:, 4] = ord("-")
    _put(mat, 5, m, 2)
    mat[:, 7] = ord("-")
    _put(mat, 8, d, 2)
    return strings(mat)


def int_strings(x: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(x, dtype=np.int64)).cast(pa.string())


def cents_text(cents: np.ndarray) -> pa.Array:
    """Integer cents to decimal text with two places (``-12.05``)."""
    cents = np.asarray(cents, dtype=np.int64)
    whole = int_strings(np.abs(cents) // 100)
    frac = pc.utf8_lpad(int_strings(np.abs(cents) % 100), width=2, padding="0")
    sign = pa.array(np.where(cents < 0, "-", ""))
    return pc.binary_join_element_wise(sign, whole, ".", frac, "")


def join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")
