"""Scoring a loaded package in batches and typing its predictions.

The inputs are read from DuckDB as Arrow record batches (`batch_size` rows at a time), run
through preprocess → transforms → model on one thread, checked against the declared output
type and turned into JSON text per batch, so memory stays flat in the number of customers
apart from the output itself.

What a prediction must be, by declared type:
- boolean: booleans, or numbers that are all 0 or 1;
- number: finite numbers (not booleans); from `predict_proba` the probability of
  `positive_class` (default: the last class of a two-class model);
- integer: whole numbers (integer dtype, or floats without a fraction);
- string: text;
- array: one list per row (a 2-D result, or lists); finite numbers, text or booleans inside;
- record: one object per row: a 2-D result with `fields` names (or the classes of
  `predict_proba`), or mappings with text keys.
Anything else fails the instance with a message naming the type and an offending value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pcdp.byom.format import PackageError
from pcdp.byom.loader import ModelPackage, steps
from pcdp.byom.mapping import InputPlan
from pcdp.frames import detached

DEFAULT_BATCH_SIZE = 100_000


class OutputTypeError(ValueError):
    """Predictions do not fit the declared output type."""


@dataclass(frozen=True)
class OutputSpec:
    """The declared output: the profile column (attribute), its type, record field names, the
    estimator method that gives it and, for probabilities, the positive class."""

    attribute: str
    type: str
    fields: tuple[str, ...] | None = None
    method: str | None = None
    positive_class: Any = None


@dataclass
class ScoreSummary:
    rows: int = 0
    batches: int = 0
    total: float = 0.0
    minimum: float | None = None
    maximum: float | None = None
    true_count: int = 0

    def add(self, typed: pa.Array, kind: str) -> None:
        self.rows += len(typed)
        self.batches += 1
        if kind in ("number", "integer") and len(typed):
            self.total += float(pc.sum(typed).as_py())
            low, high = pc.min_max(typed).values()
            low, high = float(low.as_py()), float(high.as_py())
            self.minimum = low if self.minimum is None else min(self.minimum, low)
            self.maximum = high if self.maximum is None else max(self.maximum, high)
        if kind == "boolean":
            self.true_count += int(pc.sum(pc.cast(typed, pa.int64())).as_py() or 0)

    def metrics(self, kind: str) -> dict[str, float | int]:
        metrics: dict[str, float | int] = {}
        if kind in ("number", "integer") and self.rows:
            metrics["value_mean"] = self.total / self.rows
            metrics["value_min"] = self.minimum
            metrics["value_max"] = self.maximum
        if kind == "boolean" and self.rows:
            metrics["true_share"] = self.true_count / self.rows
        return metrics


def resolve_method(package: ModelPackage, output: OutputSpec) -> str:
    """The estimator method: the instance's, else the manifest's, else predict_proba for a
    classifier declared number or record, else predict."""
    model = package.model
    method = output.method or package.manifest.get("method")
    if method is None:
        is_classifier = getattr(model, "_estimator_type", None) == "classifier" or hasattr(
            model, "classes_"
        )
        if (
            output.type in ("number", "record")
            and is_classifier
            and hasattr(model, "predict_proba")
        ):
            method = "predict_proba"
        else:
            method = "predict"
    if not callable(getattr(model, method, None)):
        raise PackageError(f"the model has no {method} method")
    return method


def check_declared_output(package: ModelPackage, output: OutputSpec) -> None:
    """The instance's output type must agree with the package manifest's, when it has one."""
    declared = package.manifest.get("output")
    if declared is not None and declared["type"] != output.type:
        raise PackageError(
            f"the package declares output type {declared['type']}, the instance {output.type}"
        )


def _classes(model: Any) -> list[Any] | None:
    classes = getattr(model, "classes_", None)
    if classes is None:
        return None
    return [item.item() if isinstance(item, np.generic) else item for item in classes]


def _fail(kind: str, what: str) -> OutputTypeError:
    return OutputTypeError(f"predictions do not fit the declared output type {kind}: {what}")


def _column_vector(y: np.ndarray, kind: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    if y.ndim != 1:
        raise _fail(
            kind,
            f"the model gives {y.shape[1] if y.ndim == 2 else y.shape} values per row; "
            "declare type array or record for several",
        )
    return y


def _example(values: np.ndarray, bad: np.ndarray) -> str:
    return repr(values[bad][0].item() if hasattr(values[bad][0], "item") else values[bad][0])


def _numbers(y: np.ndarray, kind: str) -> np.ndarray:
    if y.dtype == object:
        if not all(
            isinstance(item, int | float | np.integer | np.floating)
            and not isinstance(item, bool | np.bool_)
            for item in y
        ):
            bad = np.array(
                [not isinstance(item, int | float | np.integer | np.floating) for item in y]
            )
            bad |= np.array([isinstance(item, bool | np.bool_) for item in y])
            raise _fail(kind, f"not a number: {_example(y, bad)}")
        y = y.astype(np.float64)
    if y.dtype.kind == "b":
        raise _fail(kind, "the model gives booleans; declare type boolean")
    if y.dtype.kind not in "iuf":
        raise _fail(kind, f"the model gives {y.dtype} values, e.g. {y[0]!r}")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y)
        if bad.any():
            raise _fail(kind, f"{int(bad.sum())} value(s) are not finite, e.g. {_example(y, bad)}")
    return y


def typed_values(y: Any, output: OutputSpec, classes: Sequence[Any] | None, rows: int) -> pa.Array:
    """Check one batch of raw predictions against the declared type; return them typed."""
    kind = output.type
    try:
        y = np.asarray(y)
    except ValueError:  # ragged lists: one object per row
        items = list(y)
        y = np.empty(len(items), dtype=object)
        y[:] = items
    if y.shape[:1] != (rows,):
        raise _fail(kind, f"the model gives {y.shape[:1]} rows for {rows} inputs")
    if output.method == "predict_proba" and kind == "number" and y.ndim == 2:
        y = y[:, _positive_column(y, output, classes)]
    if kind == "boolean":
        y = _column_vector(y, kind)
        if y.dtype == object and all(isinstance(item, bool | np.bool_) for item in y):
            y = y.astype(bool)
        if y.dtype.kind in "iuf":
            bad = (y != 0) & (y != 1)
            if bad.any():
                raise _fail(kind, f"values other than 0 and 1, e.g. {_example(y, bad)}")
            y = y.astype(bool)
        if y.dtype.kind != "b":
            raise _fail(kind, f"not a boolean: {y[0]!r}")
        return pa.array(y, pa.bool_())
    if kind == "number":
        return pa.array(_numbers(_column_vector(y, kind), kind).astype(np.float64), pa.float64())
    if kind == "integer":
        y = _numbers(_column_vector(y, kind), kind)
        if y.dtype.kind == "f":
            bad = y != np.round(y)
            if bad.any():
                raise _fail(kind, f"not a whole number: {_example(y, bad)}")
            if np.abs(y).max(initial=0) >= 2**63:
                raise _fail(kind, "a value is out of the 64-bit integer range")
        if y.dtype.kind == "u" and y.max(initial=0) >= 2**63:
            raise _fail(kind, "a value is out of the 64-bit integer range")
        return pa.array(y.astype(np.int64), pa.int64())
    if kind == "string":
        y = _column_vector(y, kind)
        if y.dtype.kind == "U":
            return pa.array(y.tolist(), pa.string())
        if y.dtype == object and all(isinstance(item, str) for item in y):
            return pa.array(list(y), pa.string())
        bad = np.array([not isinstance(item, str) for item in y.tolist()])
        raise _fail(kind, f"not text: {_example(y, bad)}")
    if kind == "array":
        return _array_values(y, kind)
    return _record_values(y, output, classes, kind)


def _positive_column(y: np.ndarray, output: OutputSpec, classes: Sequence[Any] | None) -> int:
    if output.positive_class is not None:
        if classes is None or output.positive_class not in classes:
            raise _fail(
                "number", f"positive_class {output.positive_class!r} is not one of {classes}"
            )
        return list(classes).index(output.positive_class)
    if y.shape[1] != 2:
        raise _fail(
            "number",
            f"predict_proba gives {y.shape[1]} classes; name positive_class, or declare type "
            "record for one probability per class",
        )
    return 1


def _scalar_array(values: np.ndarray, kind: str) -> pa.Array:
    if values.dtype.kind == "b":
        return pa.array(values, pa.bool_())
    if values.dtype.kind in "iu":
        return pa.array(values.astype(np.int64), pa.int64())
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            raise _fail(kind, f"{int(bad.sum())} value(s) are not finite")
        return pa.array(values, pa.float64())
    if values.dtype.kind == "U" or all(isinstance(item, str) for item in values):
        return pa.array(values.tolist(), pa.string())
    raise _fail(kind, f"values must be numbers, text or booleans, got {values.dtype}")


def _json_scalar_ok(item: Any) -> bool:
    if isinstance(item, str | bool | np.bool_ | int | np.integer):
        return True
    return isinstance(item, float | np.floating) and math.isfinite(item)


def _array_values(y: np.ndarray, kind: str) -> pa.Array:
    if y.ndim == 2:
        flat = _scalar_array(y.reshape(-1), kind)
        offsets = pa.array(np.arange(0, y.size + 1, y.shape[1], dtype=np.int32))
        return pa.ListArray.from_arrays(offsets, flat)
    if y.ndim == 1 and y.dtype == object:
        rows = []
        for item in y:
            if not isinstance(item, list | tuple | np.ndarray):
                raise _fail(kind, f"not a list: {item!r}")
            values = [value.item() if isinstance(value, np.generic) else value for value in item]
            if not all(_json_scalar_ok(value) for value in values):
                raise _fail(kind, f"list items must be finite numbers, text or booleans: {item!r}")
            rows.append(values)
        try:
            return pa.array(rows)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise _fail(kind, f"lists mix item types ({error})") from error
    raise _fail(kind, f"one value per row ({y[0]!r}); an array needs a list per row")


def _record_values(
    y: np.ndarray, output: OutputSpec, classes: Sequence[Any] | None, kind: str
) -> pa.Array:
    if y.ndim == 2:
        names = list(output.fields) if output.fields else None
        if names is None and output.method == "predict_proba" and classes is not None:
            names = [str(item) for item in classes]
        if names is None:
            raise _fail(kind, "the model gives several values per row; name them with fields")
        if len(names) != y.shape[1]:
            raise _fail(kind, f"{y.shape[1]} values per row for {len(names)} fields {names}")
        arrays = [_scalar_array(y[:, position], kind) for position in range(y.shape[1])]
        return pa.StructArray.from_arrays(arrays, names=names)
    if y.ndim == 1 and y.dtype == object:
        for item in y:
            if not isinstance(item, dict) or not all(isinstance(key, str) for key in item):
                raise _fail(kind, f"not a mapping with text keys: {item!r}")
            if not all(_json_scalar_ok(value) or value is None for value in item.values()):
                raise _fail(
                    kind, f"record values must be finite numbers, text or booleans: {item!r}"
                )
        try:
            return pa.array(list(y))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise _fail(kind, f"records mix value types ({error})") from error
    raise _fail(kind, f"one value per row ({y[0]!r}); a record needs several")


def _apply(step: Any, data: Any) -> Any:
    transform = getattr(step, "transform", None)
    if callable(transform):
        return transform(data)
    if callable(step):
        return step(data)
    raise PackageError(
        f"a preprocess/transforms step of type {type(step).__name__} cannot be applied"
    )


def predict(package: ModelPackage, frame: Any, method: str) -> Any:
    """Run preprocess → transforms → model.method on a DataFrame of the model's columns."""
    first = steps(package.preprocess, package.transforms, package.model)[0]
    numeric = all(kind in ("number", "integer") for kind in package.columns.values())
    data = frame
    if numeric and getattr(first, "feature_names_in_", None) is None:
        data = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    for step in steps(package.preprocess, package.transforms):
        data = _apply(step, data)
    return getattr(package.model, method)(data)


def _batches(con: Any, plan: InputPlan, batch_size: int, limit: int | None):
    sql = plan.sql if limit is None else f"{plan.sql}\nlimit {int(limit)}"
    reader = con.sql(sql).to_arrow_reader(batch_size)
    for batch in reader:
        if batch.num_rows:
            yield batch


def score(
    con: Any,
    package: ModelPackage,
    plan: InputPlan,
    output: OutputSpec,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int | None = None,
) -> tuple[pa.Table, ScoreSummary]:
    """Score every row of the plan; returns (pcdp_key, value as JSON text) and a summary."""
    from threadpoolctl import threadpool_limits

    method = resolve_method(package, output)
    output = OutputSpec(output.attribute, output.type, output.fields, method, output.positive_class)
    classes = _classes(package.model)
    json_con = con.cursor()
    keys, values = [], []
    summary = ScoreSummary()
    try:
        with threadpool_limits(limits=1):
            for batch in _batches(con, plan, batch_size, limit):
                frame = batch.to_pandas().iloc[:, 1:]
                frame.columns = list(plan.names)
                typed = typed_values(predict(package, frame, method), output, classes, len(frame))
                summary.add(typed, output.type)
                json_con.register("pcdp_byom_batch", pa.table({"v": typed}))
                values.append(
                    json_con.sql("select to_json(v)::varchar as v from pcdp_byom_batch")
                    .to_arrow_table()
                    .column("v")
                    .combine_chunks()
                )
                json_con.unregister("pcdp_byom_batch")
                keys.append(detached(batch.column(0).cast(pa.string())))
    finally:
        json_con.close()
    table = pa.table(
        {
            "pcdp_key": pa.chunked_array(keys, pa.string()),
            "value": pa.chunked_array(values, pa.string()),
        }
    )
    return table, summary


def predictions_table(con: Any, plan: InputPlan, scores: pa.Table, output: OutputSpec) -> pa.Table:
    """Long predictions (customer_id, attribute, value, value_type); for accounts, every
    customer of an account gets the account's value (a customer in several accounts: the first
    account by account_id)."""
    if plan.level == "account":
        con.register("pcdp_byom_scores", scores)
        try:
            scores = con.sql(
                f"with customer_accounts as ({plan.members_sql})\n"
                "select c.customer_id as pcdp_key, s.value\n"
                "from customer_accounts as c\n"
                "inner join pcdp_byom_scores as s on c.pcdp_key = s.pcdp_key\n"
                "order by c.customer_id"
            ).to_arrow_table()
        finally:
            con.unregister("pcdp_byom_scores")
    rows = scores.num_rows
    return pa.table(
        {
            "customer_id": scores.column("pcdp_key").cast(pa.string()),
            "attribute": pa.repeat(pa.scalar(output.attribute, pa.string()), rows),
            "value": scores.column("value").cast(pa.string()),
            "value_type": pa.repeat(pa.scalar(output.type, pa.string()), rows),
        }
    )
