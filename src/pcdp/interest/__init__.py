"""Content interest classification (IAB Content Taxonomy 3.1 and custom taxonomies)."""

from pcdp.interest.accuracy import measure_accuracy
from pcdp.interest.classifier import (
    DEFAULT_MIN_CONFIDENCE,
    InterestClassifier,
    build_custom_lexicon,
    classify_custom_pages,
    classify_pages,
    classify_products,
    custom_classifier,
    load_custom_taxonomy,
    load_lexicon,
    load_taxonomy,
    seeds_dir,
)

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "InterestClassifier",
    "build_custom_lexicon",
    "classify_custom_pages",
    "classify_pages",
    "classify_products",
    "custom_classifier",
    "load_custom_taxonomy",
    "load_lexicon",
    "load_taxonomy",
    "measure_accuracy",
    "seeds_dir",
]
