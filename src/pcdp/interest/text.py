"""Tokenising and light stemming shared by the lexicon and the TF-IDF parts of the classifier.

Both sides (keywords and page text) go through exactly the same functions, so a stem only has to
be consistent, not linguistically correct: "recipes", "recipe" -> "recip"; "baking", "baked",
"bake" -> "bak"; "running", "runs" -> "run". Splitting and lower-casing run in Arrow (RE2), so a
batch of 100 k pages is tokenised without a Python loop over pages.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_POSSESSIVE = r"['\x{2019}]s\b"
_NON_WORD = r"[^\p{L}\p{N}\p{M}\s]+"
_VOWELS = set("aeiouy")
MAX_NGRAM = 3


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """A small, deterministic suffix stripper (plural folding plus -ing/-ed/-e)."""
    t = token
    if len(t) <= 3 or t.isdigit():
        return t
    if t.endswith("ies") and len(t) > 4:
        t = t[:-3] + "y"
    elif t.endswith(("sses", "shes", "ches", "xes", "zes")):
        t = t[:-2]
    elif t.endswith("s") and not t.endswith(("ss", "us", "is")):
        t = t[:-1]
    for suffix in ("ing", "ed"):
        if t.endswith(suffix):
            base = t[: -len(suffix)]
            if len(base) >= 3 and any(c in _VOWELS for c in base):
                if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                    base = base[:-1]
                t = base
            break
    if t.endswith("e") and len(t) > 4:
        t = t[:-1]
    return t


def flat_tokens(texts) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Tokenise many texts at once.

    Returns (doc, code, uniques): for every token in reading order, the index of its text and a
    code into ``uniques`` (distinct lower-cased, unstemmed tokens).
    """
    arr = texts if isinstance(texts, pa.Array) else pa.array(list(texts), type=pa.string())
    low = pc.replace_substring_regex(pc.utf8_lower(arr), _POSSESSIVE, "")
    parts = pc.utf8_split_whitespace(pc.replace_substring_regex(low, _NON_WORD, " "))
    flat = pc.list_flatten(parts)
    doc = pc.list_parent_indices(parts)
    keep = pc.not_equal(flat, "")
    flat = pc.filter(flat, keep)
    doc = pc.filter(doc, keep).to_numpy(zero_copy_only=False).astype(np.int64)
    enc = pc.dictionary_encode(flat)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    code = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return doc, code, enc.dictionary.to_pylist()


def tokens_many(texts: list[str]) -> dict[str, list[str]]:
    """Stemmed tokens of each distinct text, tokenised in one batch."""
    texts = list(dict.fromkeys(t for t in texts if t))
    out: dict[str, list[str]] = {t: [] for t in texts}
    if not texts:
        return out
    doc, code, uniques = flat_tokens(texts)
    stems = [stem(u) for u in uniques]
    for d, c in zip(doc.tolist(), code.tolist(), strict=True):
        out[texts[d]].append(stems[c])
    return out


def tokens(text: str | None) -> list[str]:
    """Lower-cased, stemmed word tokens of one piece of text ("men's" -> "men")."""
    return tokens_many([text]).get(text, []) if text else []


def url_words(urls) -> pa.Array:
    """The words of URLs: host and path split on punctuation (scheme, query and fragment
    dropped; percent-escapes decoded)."""
    arr = urls if isinstance(urls, pa.Array) else pa.array(list(urls), type=pa.string())
    has_pct = pc.fill_null(pc.match_substring(arr, "%"), False)
    if pc.any(has_pct).as_py():
        arr = pa.array(
            [unquote(u) if u and "%" in u else u for u in arr.to_pylist()], type=pa.string()
        )
    arr = pc.replace_substring_regex(arr, r"^[A-Za-z][A-Za-z0-9+.\-]*://", "")
    arr = pc.replace_substring_regex(arr, r"[?#].*$", "")
    return pc.replace_substring_regex(arr, r"[/._\-+=:]+", " ")


def url_text(url: str | None) -> str:
    """`url_words` for one URL."""
    if not url:
        return ""
    return url_words([str(url)])[0].as_py()


def ngrams(toks: list[str]) -> list[str]:
    """Unigrams, bigrams and trigrams of a token list (phrases are matched as n-grams)."""
    out = list(toks)
    for n in range(2, MAX_NGRAM + 1):
        out.extend(" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1))
    return out


def analyzer(text: str) -> list[str]:
    """Stemmed n-grams of one text."""
    return ngrams(tokens(text))


def phrase_key(phrase: str) -> str:
    """The n-gram key of a keyword phrase, as `analyzer` would emit it ("" if too long)."""
    toks = tokens(phrase)
    return " ".join(toks) if len(toks) <= MAX_NGRAM else ""
