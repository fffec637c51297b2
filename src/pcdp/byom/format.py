"""The model package format (issue 8): what a package holds and how its parts are named.

A package is a `.zip` with
- `columns`: the model's input columns, a list of names (all numeric) or a mapping name →
  kind (`number`, `integer`, `boolean`, `string`);
- `preprocess`: the preprocessing step applied to those columns (a fitted transformer, a list
  of them, or None);
- `transforms`: transforms applied after preprocessing (same forms);
- `model`: the fitted estimator;
each as `NAME.pkl` (pickle) or `NAME.skops` (skops, the safer format), plus
- `requirements.txt`: `name==version` of the libraries the objects use;
- `manifest.json` (optional): `name`, `description`, `output` (`name`, `type`, `fields`),
  `method`.
"""

from __future__ import annotations

import re

OBJECT_MEMBERS = ("columns", "preprocess", "transforms", "model")
OBJECT_SUFFIXES = (".pkl", ".skops")
REQUIREMENTS = "requirements.txt"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1

OUTPUT_TYPES = ("boolean", "number", "integer", "string", "array", "record")
COLUMN_KINDS = ("number", "integer", "boolean", "string")
METHODS = ("predict", "predict_proba", "decision_function")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class PackageError(ValueError):
    """A package is refused: the message says why, in plain words."""
