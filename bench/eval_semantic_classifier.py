"""Does a sentence-embedding model improve the IAB page classifier? Prints the figures.

    .venv/bin/pip install wordllama==0.4.0.post1   # not a project dependency
    .venv/bin/python bench/eval_semantic_classifier.py

The embedding model is WordLlama's `l2_supercat` (MIT; 256-dimension token embeddings that
ship inside the PyPI wheel, so nothing is fetched: the files are loaded from the installed
package directly, because `WordLlama.load()` looks for the bundled tokenizer in the wrong
folder and then tries to download it). A page's semantic score for a tier-1 category is the
cosine between the page text's embedding and the mean embedding of the category's name and
lexicon keywords (the classifier's own keyword lists).

Compared on the hand-labelled titles (`tests/data/iab_labelled_titles.csv`, the set that
`measure_accuracy` reports on), against the transparent classifier as shipped:
- the embeddings alone, at several similarity thresholds;
- the embeddings added to the lexicon + TF-IDF score with weight w, at several thresholds;
- the shipped decision, left unlabelled when the page's similarity to the chosen category is
  below a gate (the classifier's weak spot is labelling off-topic titles).
The settings are chosen on the labelled titles themselves, which flatters the embeddings:
the best row is an upper bound on what they could add.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pcdp.interest.accuracy import load_labelled_titles, score_labels
from pcdp.interest.classifier import (
    DEFAULT_MIN_CONFIDENCE,
    LEXICON_SHARE,
    InterestClassifier,
    load_lexicon,
    load_taxonomy,
    page_text,
)


def load_wordllama():
    """The bundled l2_supercat model, from the installed wheel's own files."""
    import wordllama
    from safetensors import safe_open
    from tokenizers import Tokenizer
    from wordllama.inference import WordLlamaInference

    root = Path(wordllama.__file__).parent
    with safe_open(root / "weights" / "l2_supercat_256.safetensors", "np") as weights:
        embedding = weights.get_tensor("embedding.weight")
    tokenizer = Tokenizer.from_file(str(root / "tokenizers" / "l2_supercat_tokenizer_config.json"))
    return WordLlamaInference(embedding, tokenizer)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def main() -> None:
    model = load_wordllama()
    classifier = InterestClassifier(load_lexicon(), load_taxonomy())
    tier1 = np.flatnonzero(classifier.tier1)
    labels = np.array([classifier.labels[i] for i in tier1] + [None], dtype=object)
    prototypes = unit_rows(
        np.stack(
            [
                unit_rows(model.embed([label, *sorted(classifier.keywords[label])])).mean(axis=0)
                for label in labels[:-1]
            ]
        )
    )

    titles = load_labelled_titles()
    texts = page_text(titles).to_pylist()
    lexicon, tfidf = (scores[:, tier1] for scores in classifier.score_texts(texts))
    shipped = LEXICON_SHARE * lexicon + (1.0 - LEXICON_SHARE) * tfidf
    semantic = unit_rows(model.embed(texts)) @ prototypes.T
    rows = np.arange(len(texts))

    def report(name: str, score: np.ndarray, threshold: float, keep=None) -> None:
        best = score.argmax(axis=1)
        confidence = score[rows, best]
        labelled = confidence >= threshold
        if keep is not None:
            labelled &= keep(best)
        figures = score_labels(
            titles["title"].tolist(),
            titles["label"].tolist(),
            labels[np.where(labelled, best, len(labels) - 1)].tolist(),
            confidence.tolist(),
        )
        print(
            f"{name:<34} {figures['accuracy']:9.3f} {figures['on_topic_accuracy']:9.3f}"
            f" {figures['precision']:9.3f} {figures['abstention_on_unclassified']:11.3f}"
        )

    print(f"{len(texts)} labelled titles, {len(tier1)} tier-1 categories")
    print(f"{'classifier':<34} {'accuracy':>9} {'on-topic':>9} {'precision':>9} {'abstention':>11}")
    report("shipped (lexicon + TF-IDF)", shipped, DEFAULT_MIN_CONFIDENCE)
    for threshold in (0.2, 0.3, 0.4):
        report(f"embeddings alone, >= {threshold}", semantic, threshold)
    for weight in (0.1, 0.2, 0.3, 0.5):
        for threshold in (0.3, 0.35, 0.4):
            report(
                f"shipped + {weight} x embeddings, >= {threshold}",
                shipped + weight * semantic,
                threshold,
            )
    for gate in (0.1, 0.15, 0.2, 0.25):
        report(
            f"shipped, gated by similarity >= {gate}",
            shipped,
            DEFAULT_MIN_CONFIDENCE,
            keep=lambda best, gate=gate: semantic[rows, best] >= gate,
        )


if __name__ == "__main__":
    main()
