"""Example training script for `pcdp byom package` (bring your own model).

    pcdp byom package --script examples/byom/train_churn.py --out churn.zip [--format skops]

prints the package's SHA-256; then add an instance to your instances file:

    - id: churn_model
      type: byom
      status: ready
      package: /path/to/churn.zip
      sha256: <the printed digest>
      output: {name: churn_model_probability, type: number}
      columns: {recency_days: recency_days, frequency: frequency, monetary: monetary,
                tenure_days: tenure_days, events_30d: events_30d, events_90d: events_90d}

`build()` returns the fitted objects: `model`, `columns` (the input columns in training order),
`preprocess` and `transforms` (applied in that order before the model), and optionally `name`,
`description`, `output` and `method`. This example learns from synthetic customers shaped like
customer_features so that it runs anywhere; replace `training_data()` with your own data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

COLUMNS = ["recency_days", "frequency", "monetary", "tenure_days", "events_30d", "events_90d"]


def training_data(rows: int = 5000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Synthetic customers: churners buy rarely, long ago, and were quiet lately."""
    rng = np.random.default_rng(seed)
    churned = rng.random(rows) < 0.3
    frequency = rng.poisson(np.where(churned, 0.6, 3.0))
    recency = np.where(frequency > 0, rng.gamma(2.0, np.where(churned, 120, 30)), np.nan)
    events_90d = rng.poisson(np.where(churned, 2, 25))
    frame = pd.DataFrame(
        {
            "recency_days": recency,
            "frequency": frequency.astype(float),
            "monetary": frequency * rng.gamma(2.0, 40.0, rows),
            "tenure_days": rng.uniform(30, 700, rows),
            "events_30d": rng.binomial(events_90d, np.where(churned, 0.1, 0.35)).astype(float),
            "events_90d": events_90d.astype(float),
        }
    )
    return frame[COLUMNS], churned


def build() -> dict:
    frame, churned = training_data()
    preprocess = SimpleImputer(strategy="median", add_indicator=True).fit(frame)
    imputed = preprocess.transform(frame)
    transforms = StandardScaler().fit(imputed)
    model = LogisticRegression(max_iter=1000).fit(transforms.transform(imputed), churned)
    return {
        "model": model,
        "columns": COLUMNS,
        "preprocess": preprocess,
        "transforms": transforms,
        "name": "example_churn",
        "description": "Probability that a customer has churned (synthetic example)",
        "output": {"name": "churn_model_probability", "type": "number"},
        "method": "predict_proba",
    }
