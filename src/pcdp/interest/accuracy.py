"""Accuracy of the IAB classifier on the hand-labelled page titles."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from pcdp.interest.classifier import (
    DEFAULT_MIN_CONFIDENCE,
    InterestClassifier,
    classify_pages,
    load_lexicon,
    load_taxonomy,
)

UNCLASSIFIED = "unclassified"


def labelled_titles_path() -> Path:
    """``$PCDP_LABELLED_TITLES``, else the repository's ``tests/data/iab_labelled_titles.csv``."""
    env = os.environ.get("PCDP_LABELLED_TITLES")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "tests" / "data" / "iab_labelled_titles.csv"
        if candidate.exists():
            return candidate
    return here.parents[3] / "tests" / "data" / "iab_labelled_titles.csv"


def measure_accuracy(
    labelled: pd.DataFrame | str | os.PathLike | None = None,
    lexicon: pd.DataFrame | None = None,
    taxonomy: pd.DataFrame | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
) -> dict:
    """Tier-1 accuracy on labelled titles (title, description, label; label ``unclassified``
    for pages that should get no label).

    Returns ``n``, ``accuracy`` (all rows, abstaining counts as correct only on
    ``unclassified`` rows), ``on_topic_accuracy`` (rows with a real label),
    ``coverage`` (share of on-topic rows that got any label), ``precision`` (share of given
    labels that are right), ``abstention_on_unclassified`` (share of ``unclassified`` rows left
    unlabelled), ``per_category`` ({label: {n, recall, precision}}) and ``errors`` (the rows
    that were wrong: title, expected, predicted, confidence).
    """
    df = load_labelled_titles(labelled)
    clf = InterestClassifier(
        load_lexicon() if lexicon is None else lexicon,
        load_taxonomy() if taxonomy is None else taxonomy,
    )
    pred = classify_pages(df, min_confidence=min_confidence, classifier=clf).to_pandas()
    report = score_labels(
        df["title"].tolist(),
        df["label"].tolist(),
        pred["tier_1"].tolist(),
        pred["confidence"].astype(float).tolist(),
    )
    return {"n": report.pop("n"), "min_confidence": min_confidence, **report}


def load_labelled_titles(
    labelled: pd.DataFrame | str | os.PathLike | None = None,
) -> pd.DataFrame:
    """The labelled titles (a frame, a CSV path, or the default file) with empty text as
    None and a made-up page_url per row, ready for `classify_pages`."""
    if labelled is None or isinstance(labelled, str | os.PathLike):
        df = pd.read_csv(labelled or labelled_titles_path(), dtype=str, keep_default_na=False)
    else:
        df = labelled.copy()
    df = df.replace("", None)
    df["page_url"] = [f"labelled://{i}" for i in range(len(df))]
    return df


def score_labels(
    titles: list[str],
    expected: list[str | None],
    predicted: list[str | None],
    confidence: list[float],
) -> dict:
    """The figures of `measure_accuracy` (all but min_confidence) for any classifier's
    tier-1 answers: `expected` and `predicted` are labels, with None or ``unclassified``
    for no label."""
    truth = [t if isinstance(t, str) else UNCLASSIFIED for t in expected]
    got = [p if isinstance(p, str) else UNCLASSIFIED for p in predicted]
    correct = [t == g for t, g in zip(truth, got, strict=True)]
    on_topic = [t != UNCLASSIFIED for t in truth]
    n_on = sum(on_topic)
    n_off = len(truth) - n_on
    labelled_rows = [g != UNCLASSIFIED for g in got]

    per_category = {}
    for label in sorted({t for t in truth if t != UNCLASSIFIED}):
        n = sum(t == label for t in truth)
        hits = sum(t == label and g == label for t, g in zip(truth, got, strict=True))
        given = sum(g == label for g in got)
        per_category[label] = {
            "n": n,
            "recall": hits / n if n else None,
            "precision": hits / given if given else None,
        }
    errors = [
        {
            "title": titles[i],
            "expected": truth[i],
            "predicted": got[i],
            "confidence": confidence[i],
        }
        for i in range(len(truth))
        if not correct[i]
    ]
    n_given = sum(labelled_rows)
    return {
        "n": len(truth),
        "accuracy": sum(correct) / len(truth) if truth else None,
        "on_topic_accuracy": (
            sum(c for c, o in zip(correct, on_topic, strict=True) if o) / n_on if n_on else None
        ),
        "coverage": (
            sum(g for g, o in zip(labelled_rows, on_topic, strict=True) if o) / n_on
            if n_on
            else None
        ),
        "precision": (
            sum(c for c, g in zip(correct, labelled_rows, strict=True) if g) / n_given
            if n_given
            else None
        ),
        "abstention_on_unclassified": (
            sum(not g for g, o in zip(labelled_rows, on_topic, strict=True) if not o) / n_off
            if n_off
            else None
        ),
        "per_category": per_category,
        "errors": errors,
    }
