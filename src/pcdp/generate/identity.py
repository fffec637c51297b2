"""Identifier strings for a chunk of people: clean (normalised) values and messy raw variants.

Each chunk gets Arrow dictionaries whose entries are laid out so that an identifier's index
is computable: anonymous ids ``(person * 3 + device) * 2 + variant``, user ids
``person * 2 + variant``, emails ``(person * 2 + which) * 3 + variant``, phones
``person * 4 + variant``. The planted shared identifiers and an empty string follow the
person entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._text import hex_ids, int_strings, join, mix64, seed_key
from .catalog import EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES
from .population import Population

SHARED_EMAIL = "null@example.com"
SHARED_USER = "u_test"
ANON_VARIANTS = 2
USER_VARIANTS = 2
EMAIL_VARIANTS = 3
PHONE_VARIANTS = 4


def kiosk_anonymous_id(seed: int) -> str:
    # device slot 3 of person 0 is never a real device, so this cannot collide
    return hex_ids("anon_", mix64(np.array([seed_key(seed, 1) + np.uint64(3)])))[0].as_py()


def _interleave(*arrays: pa.Array) -> pa.Array:
    """[a0, b0, c0, a1, b1, c1, ...]"""
    k = len(arrays)
    n = len(arrays[0])
    idx = (np.arange(n * k) % k) * n + np.arange(n * k) // k
    return pa.concat_arrays([a.cast(pa.string()) for a in arrays]).take(pa.array(idx))


def _pad(a: pa.Array) -> pa.Array:
    return join(" ", a, " ")


@dataclass
class ChunkIds:
    lo: int
    m: int
    anon_clean: pa.Array  # (m * 3)
    user_clean: pa.Array  # (m)
    email_clean: pa.Array  # (m * 2)
    phone_clean: pa.Array  # (m)
    anon_dict: pa.Array
    user_dict: pa.Array
    email_dict: pa.Array
    phone_dict: pa.Array

    @property
    def kiosk(self) -> int:
        return self.m * 3 * ANON_VARIANTS

    @property
    def anon_empty(self) -> int:
        return self.kiosk + 2

    @property
    def user_test(self) -> int:
        return self.m * USER_VARIANTS

    @property
    def user_empty(self) -> int:
        return self.user_test + 2

    @property
    def email_null(self) -> int:
        return self.m * 2 * EMAIL_VARIANTS

    @property
    def email_empty(self) -> int:
        return self.email_null + 3

    @property
    def phone_empty(self) -> int:
        return self.m * PHONE_VARIANTS


def build_chunk_ids(pop: Population, lo: int, hi: int, seed: int) -> ChunkIds:
    m = hi - lo
    people = np.arange(lo, hi, dtype=np.uint64)
    dev_keys = (people[:, None] * np.uint64(4) + np.arange(3, dtype=np.uint64)[None, :]).ravel()
    anon_clean = hex_ids("anon_", mix64(dev_keys + seed_key(seed, 1)))
    kiosk = kiosk_anonymous_id(seed)
    anon_dict = pa.concat_arrays(
        [_interleave(anon_clean, _pad(anon_clean)), pa.array([kiosk, f" {kiosk}", ""])]
    )

    user_clean = join("u_", int_strings(pop.user_num[lo:hi]))
    user_dict = pa.concat_arrays(
        [
            _interleave(user_clean, _pad(user_clean)),
            pa.array([SHARED_USER, f" {SHARED_USER} ", ""]),
        ]
    )

    first = pa.array(FIRST_NAMES).take(pa.array(pop.first_name[lo:hi]))
    last = pa.array(LAST_NAMES).take(pa.array(pop.last_name[lo:hi]))
    num = int_strings(pop.user_num[lo:hi])
    dom = pa.array(EMAIL_DOMAINS).take(pa.array(pop.domain[lo:hi]))
    dom2 = pa.array(EMAIL_DOMAINS).take(pa.array(pop.domain2[lo:hi]))
    e1 = join(first, ".", last, num, "@", dom)
    e2 = join(first, pc.utf8_slice_codeunits(last, 0, 1), num, "@", dom2)
    email_clean = _interleave(e1, e2)
    email_dict = pa.concat_arrays(
        [
            _interleave(email_clean, pc.utf8_upper(email_clean), _pad(email_clean)),
            pa.array([SHARED_EMAIL, "NULL@example.com", f" {SHARED_EMAIL} ", ""]),
        ]
    )

    # phones: US numbers for US/EU people, UK London numbers for UK people; unique by person
    idx = np.arange(lo, hi, dtype=np.int64)
    us = 2_000_000_000 + (idx * 2_654_435_761) % (1 << 31)
    uk8 = (idx * 7919 + 12_345_678) % 100_000_000
    is_uk = pop.country[lo:hi] == 2
    us_s = int_strings(us)
    a, e, ln = (pc.utf8_slice_codeunits(us_s, s, s + w) for s, w in ((0, 3), (3, 3), (6, 4)))
    uk_s = pc.utf8_lpad(int_strings(uk8), width=8, padding="0")
    x, y = pc.utf8_slice_codeunits(uk_s, 0, 4), pc.utf8_slice_codeunits(uk_s, 4, 8)
    mask = pa.array(is_uk)
    phone_clean = pc.if_else(mask, join("4420", uk_s), join("1", us_s))
    variants = [
        pc.if_else(mask, join("+44 20 ", x, " ", y), join("+1 (", a, ") ", e, "-", ln)),
        pc.if_else(mask, join("0044 20 ", x, " ", y), join(a, "-", e, "-", ln)),
        pc.if_else(mask, join("+4420", uk_s), join("(", a, ") ", e, "-", ln)),
        pc.if_else(mask, join("004420", uk_s), join("001 ", a, " ", e, " ", ln)),
    ]
    phone_dict = pa.concat_arrays([_interleave(*variants), pa.array([""])])
    return ChunkIds(
        lo=lo,
        m=m,
        anon_clean=anon_clean,
        user_clean=user_clean,
        email_clean=email_clean,
        phone_clean=phone_clean,
        anon_dict=anon_dict,
        user_dict=user_dict,
        email_dict=email_dict,
        phone_dict=phone_dict,
    )
