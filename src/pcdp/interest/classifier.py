"""Transparent content-interest classification into the IAB Content Taxonomy or a custom taxonomy.

Two signals are computed for every page and every category, then combined:

(a) Lexicon: the distinct keywords of the category found in the page's title, description,
    keywords and URL words (tokenised, lower-cased, lightly stemmed; phrases match as n-grams).
    The summed keyword weights ``s`` become ``lexicon = 1 - exp(-s / LEXICON_SCALE)``.
(b) TF-IDF: cosine similarity between the page text and the category's document (its keywords
    plus the names of its taxonomy node and every node below it), with a scikit-learn
    ``TfidfVectorizer`` fitted on the category documents only, so a page's result never depends
    on which other pages are in the batch.

``confidence = LEXICON_SHARE * lexicon + (1 - LEXICON_SHARE) * tfidf``. The best tier-1 category
is kept when its confidence reaches ``min_confidence``; otherwise tier_1 is NULL and the method is
``unclassified`` (never guessed). A tier-2 category is kept only under the chosen tier-1 and only
when its own confidence reaches ``tier2_min_confidence``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from pcdp.interest.text import (
    MAX_NGRAM,
    flat_tokens,
    ngrams,
    stem,
    tokens_many,
    url_words,
)
from pcdp.types.validation import DEFAULT_MIN_CONFIDENCE

SEP = " > "
LEXICON_SCALE = 1.5
LEXICON_SHARE = 0.6
TAXONOMY_NAME_WEIGHT = 0.5
OWN_NAME_WEIGHT = 1.0
CHUNK_ROWS = 20_000
TEXT_COLUMNS = ("title", "description", "keywords")

PAGE_SCHEMA = pa.schema(
    [
        ("page_url", pa.string()),
        ("tier_1", pa.string()),
        ("tier_2", pa.string()),
        ("confidence", pa.float64()),
        ("method", pa.string()),
        ("tier_2_confidence", pa.float64()),
    ]
)
PRODUCT_SCHEMA = pa.schema(
    [
        ("product_id", pa.string()),
        ("label", pa.string()),
        ("confidence", pa.float64()),
        ("method", pa.string()),
    ]
)


# --------------------------------------------------------------------------- seeds


def seeds_dir() -> Path:
    """Where the seed CSVs live: ``$PCDP_SEEDS_DIR``, else the repository's ``seeds/``."""
    env = os.environ.get("PCDP_SEEDS_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "seeds" / "iab_content_taxonomy.csv").exists():
            return parent / "seeds"
    return here.parents[3] / "seeds"


def _read_csv(path: str | os.PathLike) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    return df.apply(lambda c: c.str.strip()).replace("", None)


def load_taxonomy(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The IAB Content Taxonomy seed (unique_id, parent_id, name, tier_1 .. tier_4)."""
    return _read_csv(path or seeds_dir() / "iab_content_taxonomy.csv")


def load_lexicon(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The keyword lexicon seed (label, keyword, weight)."""
    df = _read_csv(path or seeds_dir() / "iab_keyword_lexicon.csv")
    df["weight"] = pd.to_numeric(df["weight"]).astype(float)
    return df


def load_custom_taxonomy(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """A custom taxonomy (label, keywords, product_categories, example_titles)."""
    return _read_csv(path or seeds_dir() / "custom_taxonomy.csv")


# --------------------------------------------------------------------------- helpers


def _to_pandas(data) -> pd.DataFrame:
    if data is None:
        return pd.DataFrame()
    if isinstance(data, pa.Table):
        return data.to_pandas()
    if isinstance(data, pd.DataFrame):
        return data
    raise TypeError(f"expected a pyarrow.Table or pandas.DataFrame, got {type(data).__name__}")


def _str_col(df: pd.DataFrame, name: str) -> list[str | None]:
    if name not in df.columns:
        return [None] * len(df)
    return _arrow_str(df, name).to_pylist()


def _arrow_str(df: pd.DataFrame, name: str) -> pa.Array:
    """A column as an Arrow string array (NaN/None -> null, other types cast to text)."""
    arr = pa.array(df[name], from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_string(arr.type):
        arr = (
            pc.cast(arr, pa.string())
            if not pa.types.is_null(arr.type)
            else pa.nulls(len(arr), pa.string())
        )
    return arr


def _name_phrases(name: str) -> list[str]:
    """A taxonomy name as keyword phrases: "Barbecues and Grilling" -> barbecues, grilling."""
    parts = [name]
    for sep in (" & ", " and ", ", ", "/"):
        parts = [q for p in parts for q in p.split(sep)]
    return [p.strip() for p in parts if p.strip()]


def page_text(df: pd.DataFrame) -> pa.Array:
    """Each page's text: title, description, keywords and the words of its URL."""
    n = len(df)
    cols = []
    for c in (*TEXT_COLUMNS, "page_url"):
        if c not in df.columns:
            continue
        col = _arrow_str(df, c)
        cols.append(url_words(col) if c == "page_url" else col)
    if not cols:
        return pa.array([""] * n, type=pa.string())
    return pc.binary_join_element_wise(*cols, " . ", null_handling="replace", null_replacement="")


def _label_parent(label: str) -> str | None:
    return label.split(SEP, 1)[0] if SEP in label else None


# --------------------------------------------------------------------------- model


@dataclass(repr=False)
class InterestClassifier:
    """A fitted classifier: category keyword weights plus a TF-IDF space over category documents.

    ``lexicon``: label, keyword, weight (a tier-2 label is written ``tier1 > tier2``).
    ``taxonomy``: optional IAB-style taxonomy (tier_1, tier_2, ... columns) whose node names extend
    the categories of the tier-1 labels named in the lexicon.
    ``extra_docs``: optional label -> texts added to a category's TF-IDF document (e.g. example
    titles of a custom taxonomy).
    """

    lexicon: pd.DataFrame
    taxonomy: pd.DataFrame | None = None
    extra_docs: Mapping[str, Iterable[str]] | None = None
    include_taxonomy_tier2: bool = True
    labels: list[str] = field(init=False)
    tier1: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        lex = _to_pandas(self.lexicon)
        missing = {"label", "keyword"} - set(lex.columns)
        if missing:
            raise ValueError(f"lexicon is missing columns: {sorted(missing)}")
        weights = (
            pd.to_numeric(lex["weight"]).fillna(1.0)
            if "weight" in lex
            else pd.Series(1.0, lex.index)
        )
        # (label, phrase, keyword weight or None for document-only text, part of the document)
        entries: list[tuple[str, str, float | None, bool]] = []
        for label, k, w in zip(lex["label"], lex["keyword"], weights, strict=True):
            if not label or not k:
                continue
            label = SEP.join(p.strip() for p in str(label).split(">"))
            entries.append((label, str(k), float(w), True))
            parent = _label_parent(label)
            if parent:  # a tier-2 keyword is evidence for its tier-1 too
                entries.append((parent, str(k), float(w), True))
        lexicon_labels = {e[0] for e in entries}
        tier1_labels = sorted(lb for lb in lexicon_labels if SEP not in lb)
        for lb in tier1_labels:
            entries.extend((lb, p, OWN_NAME_WEIGHT, True) for p in _name_phrases(lb))
        if self.taxonomy is not None and len(self.taxonomy):
            entries.extend(
                self._taxonomy_entries(_to_pandas(self.taxonomy), set(tier1_labels), lexicon_labels)
            )
        for label, texts in (self.extra_docs or {}).items():
            if label in lexicon_labels:
                entries.extend((label, t, None, True) for t in texts if t)

        toks = tokens_many(sorted({e[1] for e in entries}))
        kw: dict[str, dict[str, float]] = {}
        doc_terms: dict[str, list[str]] = {}
        for label, phrase, weight, in_doc in entries:
            t = toks[phrase]
            if not t:
                continue
            if weight is not None and len(t) <= MAX_NGRAM:
                d = kw.setdefault(label, {})
                key = " ".join(t)
                d[key] = max(d.get(key, 0.0), weight)
            if in_doc:
                doc_terms.setdefault(label, []).extend(ngrams(t))

        self.labels = sorted(kw)
        self.tier1 = np.array([SEP not in lb for lb in self.labels], dtype=bool)
        self._parent_idx = np.array(
            [self.labels.index(_label_parent(lb)) if SEP in lb else -1 for lb in self.labels],
            dtype=np.int64,
        )
        self.keywords = kw
        # category documents arrive pre-tokenised (n-grams inside each phrase only, so
        # neighbouring keywords never form a fake phrase)
        self.vectorizer = TfidfVectorizer(
            analyzer=_pretokenised, sublinear_tf=True, norm="l2", dtype=np.float64
        )
        self._cat_matrix = self.vectorizer.fit_transform(
            [tuple(doc_terms.get(lb, ())) for lb in self.labels]
        ).tocsr()
        vocab = self.vectorizer.vocabulary_
        rows, cols, vals = [], [], []
        for j, lb in enumerate(self.labels):
            for key, w in sorted(kw[lb].items()):
                if key in vocab:
                    rows.append(vocab[key])
                    cols.append(j)
                    vals.append(w)
        self._weights = sp.csr_matrix(
            (vals, (rows, cols)), shape=(len(vocab), len(self.labels)), dtype=np.float64
        )

    def _taxonomy_entries(
        self, tax: pd.DataFrame, supported: set[str], lexicon_labels: set[str]
    ) -> list[tuple[str, str, float | None, bool]]:
        tiers = sorted(c for c in tax.columns if c.startswith("tier_"))
        if "tier_1" not in tiers:
            raise ValueError("taxonomy needs tier_1 (and tier_2 ...) columns")
        out = []
        for rec in tax[tiers].itertuples(index=False):
            path = [p for p in rec if isinstance(p, str) and p]
            if len(path) < 2 or path[0] not in supported:
                continue
            out.extend((path[0], p, TAXONOMY_NAME_WEIGHT, True) for p in _name_phrases(path[-1]))
            t2 = path[0] + SEP + path[1]
            if self.include_taxonomy_tier2 or t2 in lexicon_labels:
                weight = TAXONOMY_NAME_WEIGHT if len(path) > 2 else OWN_NAME_WEIGHT
                out.extend((t2, p, weight, True) for p in _name_phrases(path[-1]))
        return out

    # ------------------------------------------------------------------ scoring

    def _counts(self, texts: list[str]) -> sp.csr_matrix:
        """Term counts over the category vocabulary, vectorised over all tokens of the batch.

        Tokens are factorised once, each distinct token is stemmed once, and bigrams/trigrams
        are looked up as integer codes, so only in-vocabulary n-grams are ever materialised.
        """
        vocab = self.vectorizer.vocabulary_
        n_docs = len(texts)
        doc, raw_codes, raw_uniques = flat_tokens(texts)
        if not len(doc):
            return sp.csr_matrix((n_docs, len(vocab)), dtype=np.float64)
        stem_codes, stems = pd.factorize(pd.Series([stem(t) for t in raw_uniques], dtype=object))
        code = np.asarray(stem_codes, dtype=np.int64)[raw_codes]
        n_stems = len(stems)
        stem_id = {t: i for i, t in enumerate(stems)}
        uni = np.array([vocab.get(t, -1) for t in stems], dtype=np.int64)
        rows, cols = [doc], [uni[code]]
        for n in range(2, MAX_NGRAM + 1):
            keys, vals = [], []
            for term, j in vocab.items():
                parts = term.split(" ")
                if len(parts) == n and all(p in stem_id for p in parts):
                    key = 0
                    for p in parts:
                        key = key * n_stems + stem_id[p]
                    keys.append(key)
                    vals.append(j)
            if not keys or len(code) < n:
                continue
            order = np.argsort(keys)
            keys_arr = np.asarray(keys, dtype=np.int64)[order]
            vals_arr = np.asarray(vals, dtype=np.int64)[order]
            m = len(code) - n + 1
            key = np.zeros(m, dtype=np.int64)
            same_doc = np.ones(m, dtype=bool)
            for k in range(n):
                key = key * n_stems + code[k : k + m]
                same_doc &= doc[k : k + m] == doc[:m]
            pos = np.minimum(np.searchsorted(keys_arr, key), len(keys_arr) - 1)
            hit = same_doc & (keys_arr[pos] == key)
            rows.append(doc[:m][hit])
            cols.append(vals_arr[pos[hit]])
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        keep = c >= 0
        m = sp.csr_matrix(
            (np.ones(int(keep.sum())), (r[keep], c[keep])), shape=(n_docs, len(vocab))
        )
        m.sum_duplicates()
        return m

    def _tfidf(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """The fitted TfidfVectorizer's weighting (sublinear tf x idf, L2 rows) of `counts`."""
        x = counts.copy()
        x.data = 1.0 + np.log(x.data)
        x = x @ sp.diags(self.vectorizer.idf_)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ x)

    def score_texts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(lexicon score, tf-idf cosine) arrays of shape (len(texts), len(labels))."""
        if not len(texts):
            z = np.zeros((0, len(self.labels)))
            return z, z.copy()
        counts = self._counts(texts)
        present = counts.copy()
        present.data[:] = 1.0
        lex_raw = (present @ self._weights).toarray()
        cos = (self._tfidf(counts) @ self._cat_matrix.T).toarray()
        return 1.0 - np.exp(-lex_raw / LEXICON_SCALE), cos

    def classify_texts(
        self,
        texts: list[str],
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        tier2_min_confidence: float | None = None,
    ) -> dict[str, list]:
        t2_min = min_confidence if tier2_min_confidence is None else tier2_min_confidence
        out: dict[str, list] = {k: [] for k in ("tier_1", "tier_2", "confidence", "method")}
        out["tier_2_confidence"] = []
        t1_idx = np.flatnonzero(self.tier1)
        t2_idx = np.flatnonzero(~self.tier1)
        for start in range(0, len(texts), CHUNK_ROWS):
            lex, cos = self.score_texts(texts[start : start + CHUNK_ROWS])
            score = np.round(LEXICON_SHARE * lex + (1.0 - LEXICON_SHARE) * cos, 6)
            s1 = score[:, t1_idx]
            best1 = s1.argmax(axis=1) if len(t1_idx) else np.zeros(len(score), dtype=int)
            conf1 = s1[np.arange(len(score)), best1] if len(t1_idx) else np.zeros(len(score))
            ok1 = conf1 >= min_confidence
            chosen1 = t1_idx[best1] if len(t1_idx) else best1
            # tier 2: only children of the chosen tier 1
            if len(t2_idx):
                s2 = score[:, t2_idx]
                mask = self._parent_idx[t2_idx][None, :] == chosen1[:, None]
                s2 = np.where(mask, s2, -1.0)
                best2 = s2.argmax(axis=1)
                conf2 = s2[np.arange(len(score)), best2]
                ok2 = ok1 & (conf2 >= t2_min)
            else:
                best2 = np.zeros(len(score), dtype=int)
                conf2 = np.zeros(len(score))
                ok2 = np.zeros(len(score), dtype=bool)
            rows = np.arange(len(score))
            lex1 = lex[rows, chosen1] if len(t1_idx) else np.zeros(len(score))
            cos1 = cos[rows, chosen1] if len(t1_idx) else np.zeros(len(score))
            names = np.array(self.labels + [None], dtype=object)
            t2_names = np.array(
                [lb.split(SEP, 1)[1] for lb in np.array(self.labels, dtype=object)[t2_idx]]
                + [None],
                dtype=object,
            )
            none1 = len(self.labels)
            out["tier_1"].extend(names[np.where(ok1, chosen1, none1)].tolist())
            out["tier_2"].extend(t2_names[np.where(ok2, best2, len(t2_idx))].tolist())
            out["tier_2_confidence"].extend(
                [float(c) if k else None for c, k in zip(conf2, ok2, strict=True)]
            )
            method = np.where(
                (lex1 > 0) & (cos1 > 0),
                "lexicon+tfidf",
                np.where(lex1 > 0, "lexicon", "tfidf"),
            ).astype(object)
            out["method"].extend(np.where(ok1, method, "unclassified").tolist())
            out["confidence"].extend(conf1.astype(float).tolist())
        return out


def _pretokenised(doc):
    """The TF-IDF analyzer: category documents are already lists of terms."""
    return list(doc)


# --------------------------------------------------------------------------- public API


def classify_pages(
    pages,
    lexicon: pd.DataFrame | None = None,
    taxonomy: pd.DataFrame | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    tier2_min_confidence: float | None = None,
    classifier: InterestClassifier | None = None,
) -> pa.Table:
    """Classify pages (page_url, title, description, keywords) into IAB tier-1 / tier-2 labels.

    ``lexicon`` and ``taxonomy`` default to the seeds. Returns one row per input row:
    page_url, tier_1, tier_2, confidence (of tier_1; the best score when unclassified), method
    (``lexicon+tfidf``, ``lexicon``, ``tfidf`` or ``unclassified``) and tier_2_confidence.
    """
    df = _to_pandas(pages)
    if classifier is None:
        classifier = InterestClassifier(
            load_lexicon() if lexicon is None else _to_pandas(lexicon),
            load_taxonomy() if taxonomy is None else _to_pandas(taxonomy),
        )
    res = classifier.classify_texts(page_text(df), min_confidence, tier2_min_confidence)
    res = {"page_url": _str_col(df, "page_url"), **res}
    return pa.Table.from_pydict({f.name: res[f.name] for f in PAGE_SCHEMA}, schema=PAGE_SCHEMA)


def _split_list(value) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [v.strip() for v in str(value).split(";") if v.strip()]


def build_custom_lexicon(custom) -> pd.DataFrame:
    """A lexicon (label, keyword, weight) from a custom taxonomy table.

    Each label's ``keywords`` (semicolon-separated) get weight 1.0, and so do the words of the
    label itself. ``example_titles`` are not keywords: they only extend the TF-IDF document.
    """
    df = _to_pandas(custom)
    if "label" not in df.columns:
        raise ValueError("custom taxonomy needs a label column")
    rows = []
    for rec in df.to_dict("records"):
        label = rec.get("label")
        if not label:
            continue
        seen = set()
        for k in [*_name_phrases(str(label)), *_split_list(rec.get("keywords"))]:
            if k.lower() not in seen:
                seen.add(k.lower())
                rows.append((str(label), k, 1.0))
    return pd.DataFrame(rows, columns=["label", "keyword", "weight"])


def custom_classifier(custom) -> InterestClassifier:
    """An `InterestClassifier` over a custom taxonomy (keywords + example titles)."""
    df = _to_pandas(custom)
    extra = {
        str(r["label"]): _split_list(r.get("example_titles"))
        for r in df.to_dict("records")
        if r.get("label")
    }
    return InterestClassifier(build_custom_lexicon(df), taxonomy=None, extra_docs=extra)


def classify_custom_pages(
    pages, custom, min_confidence: float = DEFAULT_MIN_CONFIDENCE
) -> pa.Table:
    """Classify pages into a custom taxonomy's labels (same schema as `classify_pages`;
    tier_1 is the custom label, tier_2 is set only for labels written ``a > b``)."""
    return classify_pages(
        pages, min_confidence=min_confidence, classifier=custom_classifier(custom)
    )


def _norm_path(path: str | None) -> str | None:
    if path is None:
        return None
    parts = [p.strip().lower() for p in str(path).split(">") if p.strip()]
    return SEP.join(parts) if parts else None


def classify_products(
    products, custom, min_confidence: float = DEFAULT_MIN_CONFIDENCE, text_fallback: bool = True
) -> pa.Table:
    """Map products (product_id, product_name, category) to custom labels.

    A product matches a label when its category equals, or lies below, one of the label's
    ``product_categories`` paths (case-insensitive, whole path components: ``Apparel > Shoes``
    matches ``Apparel > Shoes > Running`` but not ``Apparel > Shoestrings``). One row per
    (product, label), method ``category_prefix``, confidence 1.0. A product whose category
    matches nothing is classified by its name and category words (method ``text``) when
    ``text_fallback``; otherwise, or when that is not confident, one row with label NULL and
    method ``unclassified``.
    """
    df = _to_pandas(products)
    cdf = _to_pandas(custom)
    prefixes = sorted(
        (_norm_path(p), str(r["label"]))
        for r in cdf.to_dict("records")
        if r.get("label")
        for p in _split_list(r.get("product_categories"))
        if _norm_path(p)
    )
    ids = _str_col(df, "product_id")
    cats = [_norm_path(c) for c in _str_col(df, "category")]
    names = _str_col(df, "product_name")
    match_cache: dict[str | None, list[str]] = {}
    out: dict[str, list] = {f.name: [] for f in PRODUCT_SCHEMA}
    pending: list[int] = []
    for i, cat in enumerate(cats):
        if cat not in match_cache:
            labels = (
                sorted({lb for p, lb in prefixes if cat == p or cat.startswith(p + SEP)})
                if cat
                else []
            )
            match_cache[cat] = labels
        if match_cache[cat]:
            for lb in match_cache[cat]:
                out["product_id"].append(ids[i])
                out["label"].append(lb)
                out["confidence"].append(1.0)
                out["method"].append("category_prefix")
        else:
            pending.append(i)
    results = {}
    if text_fallback and pending:
        clf = custom_classifier(cdf)
        texts = [
            " . ".join(x for x in (names[i], (cats[i] or "").replace(SEP, " ")) if x)
            for i in pending
        ]
        results = clf.classify_texts(texts, min_confidence)
    for k, i in enumerate(pending):
        label = results["tier_1"][k] if results else None
        out["product_id"].append(ids[i])
        out["label"].append(label)
        out["confidence"].append(results["confidence"][k] if results else 0.0)
        out["method"].append("text" if label else "unclassified")
    return pa.Table.from_pydict(out, schema=PRODUCT_SCHEMA)
