"""Bring your own model (issue 8): packaging, the safety rules, every refusal, each output
type, account level, and one real `pcdp run` scoring several packages next to refused ones."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import build
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from pcdp.byom import (
    MappingError,
    OutputTypeError,
    PackageError,
    check_archive,
    file_sha256,
    load_package,
    package_files,
    package_model,
)
from pcdp.byom.instance import score_instance, validate_params
from pcdp.byom.mapping import parse_expression, plan_inputs
from pcdp.byom.requirements import requirement_differences
from pcdp.cli import main
from pcdp.instances import parse_instances

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["recency_days", "frequency", "monetary", "events_30d"]


# --- fitted objects and packages ------------------------------------------------------------


def _training(rows: int = 400, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frequency = rng.poisson(2.0, rows)
    frame = pd.DataFrame(
        {
            "recency_days": np.where(frequency > 0, rng.gamma(2, 40, rows), np.nan),
            "frequency": frequency.astype(float),
            "monetary": frequency * rng.gamma(2, 30, rows),
            "events_30d": rng.poisson(5, rows).astype(float),
        }
    )
    signal = frame["frequency"] + frame["events_30d"] / 5 - 2
    return frame, signal.to_numpy()


def _steps(frame: pd.DataFrame):
    preprocess = SimpleImputer(strategy="median").fit(frame)
    transforms = StandardScaler().fit(preprocess.transform(frame))
    return preprocess, transforms, transforms.transform(preprocess.transform(frame))


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """name → (package path, sha256) for every model the tests score."""
    out = tmp_path_factory.mktemp("byom_packages")
    frame, signal = _training()
    preprocess, transforms, x = _steps(frame)
    labels = np.where(signal > 1, "loyal", np.where(signal > -0.5, "casual", "dormant"))
    models = {
        "classifier": (LogisticRegression().fit(x, signal > 0), {}),
        "regressor": (Ridge().fit(x, 50 + 10 * signal), {}),
        "multi": (LinearRegression().fit(x, np.c_[signal, 2 * signal, -signal]), {}),
        "labels": (LogisticRegression().fit(x, labels), {}),
        "classes": (LogisticRegression().fit(x, np.digitize(signal, [-0.5, 1]) + 1), {}),
        "skops": (LogisticRegression().fit(x, signal > 0), {"format": "skops"}),
    }
    built = {}
    for name, (model, options) in models.items():
        info = package_model(
            out / f"{name}.zip",
            model=model,
            columns=COLUMNS,
            preprocess=preprocess,
            transforms=transforms,
            name=name,
            **options,
        )
        built[name] = (info.path, info.sha256)
    return built


def _features_con() -> duckdb.DuckDBPyConnection:
    """A small warehouse: customer_features, customer_identifiers and accounts."""
    con = duckdb.connect()
    con.execute(
        """
        create table customer_features as
        select
            'cus_' || lpad(i::varchar, 4, '0') as customer_id,
            case when i % 5 = 0 then null else (i * 7) % 300 end::bigint as recency_days,
            (i % 6)::bigint as frequency,
            ((i % 6) * 37.5)::decimal(38, 4) as monetary,
            (i % 11)::bigint as events_30d,
            (i % 13)::bigint as tenure_days,
            timestamp '2025-01-01' as first_seen_at
        from range(250) as t(i)
        """
    )
    con.execute(
        """
        create table customer_identifiers as
        select 'user_id' as identifier_type, 'u' || i as identifier_value,
            'cus_' || lpad(i::varchar, 4, '0') as customer_id
        from range(40) as t(i)
        """
    )
    con.execute(
        """
        create table accounts as
        select 'u' || i as user_id, 'acc_' || (i % 4) as account_id, 'Account' as account_name
        from range(40) as t(i)
        union all select 'u1', 'acc_0', 'Account'
        """
    )
    return con


RELATIONS = {
    "customer_features": "customer_features",
    "customer_identifiers": "customer_identifiers",
    "accounts": "accounts",
}


def _params(instance_id: str, path: Path, sha256: str, **keys) -> dict:
    keys.setdefault("output", {"name": f"{instance_id}_value", "type": "number"})
    return validate_params(instance_id, {"package": str(path), "sha256": sha256, **keys})


def _score(params: dict, con=None):
    con = con or _features_con()
    predictions, metrics = score_instance(params, con, RELATIONS)
    return predictions.to_pylist(), metrics


def _rewrite(source: Path, target: Path, drop=(), replace=None) -> str:
    """Copy a package without some members or with some replaced; returns its sha256."""
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for name in archive.namelist():
            if name not in drop:
                out.writestr(name, (replace or {}).get(name, archive.read(name)))
    return file_sha256(target)


# --- packaging ------------------------------------------------------------------------------


def test_packaging_is_deterministic(packages, tmp_path):
    frame, signal = _training()
    preprocess, transforms, x = _steps(frame)
    model = LogisticRegression().fit(x, signal > 0)
    first = package_model(tmp_path / "a.zip", model=model, columns=COLUMNS, preprocess=preprocess)
    again = package_model(tmp_path / "b.zip", model=model, columns=COLUMNS, preprocess=preprocess)
    assert first.sha256 == again.sha256 == file_sha256(first.path)
    assert first.members == (
        "columns.pkl",
        "preprocess.pkl",
        "transforms.pkl",
        "model.pkl",
        "requirements.txt",
        "manifest.json",
    )
    requirements = zipfile.ZipFile(first.path).read("requirements.txt").decode()
    assert "scikit-learn==" in requirements and "numpy==" in requirements


def test_cli_packages_a_training_script_and_prints_its_digest(tmp_path, capsys):
    out = tmp_path / "churn.zip"
    script = ROOT / "examples" / "byom" / "train_churn.py"
    assert main(["byom", "package", "--script", str(script), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"sha256: {file_sha256(out)}" in printed
    manifest = json.loads(zipfile.ZipFile(out).read("manifest.json"))
    assert manifest["output"] == {"name": "churn_model_probability", "type": "number"}
    package = load_package(out, file_sha256(out))
    assert list(package.columns)[:2] == ["recency_days", "frequency"]


def test_cli_packages_pickled_files_without_unpickling(tmp_path, capsys):
    marker = tmp_path / "unpickled"
    (tmp_path / "model.pkl").write_bytes(_booby_trap(marker))
    (tmp_path / "columns.pkl").write_bytes(_pickle(["frequency"]))
    (tmp_path / "requirements.txt").write_text("scikit-learn==1.0.0\n")
    argv = ["byom", "package", "--out", str(tmp_path / "p.zip"), "--model"]
    argv += [str(tmp_path / "model.pkl"), "--columns", str(tmp_path / "columns.pkl")]
    argv += ["--requirements", str(tmp_path / "requirements.txt"), "--output-name", "x_value"]
    assert main([*argv, "--output-type", "number"]) == 0
    assert not marker.exists()
    assert "sha256: " in capsys.readouterr().out
    names = zipfile.ZipFile(tmp_path / "p.zip").namelist()
    assert {"preprocess.pkl", "transforms.pkl", "model.pkl", "manifest.json"} <= set(names)


def test_training_script_classes_are_refused(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "class Doubler:\n"
        "    def predict(self, x):\n"
        "        return x[:, 0] * 2\n"
        "def build():\n"
        "    return {'model': Doubler(), 'columns': ['frequency']}\n"
    )
    from pcdp.byom import package_script

    with pytest.raises(PackageError, match="defined in the training script"):
        package_script(script, tmp_path / "p.zip")


# --- safety: the digest gates every unpickling ----------------------------------------------


class _Trap:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _pickle(obj) -> bytes:
    import pickle

    return pickle.dumps(obj, protocol=5)


def _booby_trap(marker: Path) -> bytes:
    return _pickle(_Trap(marker))


def _trap_package(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "code_ran"
    path = tmp_path / "trap.zip"
    for name, data in (("model.pkl", _booby_trap(marker)), ("columns.pkl", _pickle(["a"]))):
        (tmp_path / name).write_bytes(data)
    package_files(
        path,
        columns=tmp_path / "columns.pkl",
        model=tmp_path / "model.pkl",
        requirements="",
    )
    return path, marker


def test_wrong_digest_is_refused_before_anything_is_unpickled(tmp_path):
    path, marker = _trap_package(tmp_path)
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(PackageError, match="refused without loading it") as refused:
        load_package(path, wrong)
    assert file_sha256(path) in str(refused.value) and wrong in str(refused.value)
    assert not marker.exists()
    # The same package with its own digest is loaded: the digest is what stood in the way.
    with pytest.raises(PackageError, match="model.pkl holds a NoneType"):
        load_package(path, file_sha256(path))
    assert marker.exists()


@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncate", "not a readable zip file"),
        ("not_zip", "not a readable zip file"),
        ("missing_member", r"lacks transforms.pkl \(or transforms.skops\), requirements.txt"),
        ("versions", "scikit-learn 0.24.2 in the package, .* installed; numpy 1.19.5"),
        ("bad_manifest", "manifest.json is not JSON"),
    ],
)
def test_broken_packages_are_refused_before_unpickling(tmp_path, damage, message):
    path, marker = _trap_package(tmp_path)
    target = tmp_path / "broken.zip"
    if damage == "truncate":
        target.write_bytes(path.read_bytes()[:-40])
    elif damage == "not_zip":
        target.write_bytes(b"PK\x03\x04 this is not really a zip")
    elif damage == "missing_member":
        _rewrite(path, target, drop=("transforms.pkl", "requirements.txt"))
    elif damage == "versions":
        requirements = b"scikit-learn==0.24.2\nnumpy==1.19.5\njoblib\n"
        _rewrite(path, target, replace={"requirements.txt": requirements})
    else:
        _rewrite(path, target, replace={"manifest.json": b"{not json"})
    with pytest.raises(PackageError, match=message):
        check_archive(target, file_sha256(target))
    with pytest.raises(PackageError, match=message):
        load_package(target, file_sha256(target))
    assert not marker.exists()


def test_corrupt_member_fails_its_crc(packages, tmp_path):
    path, _ = packages["classifier"]
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("model.pkl")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    target = tmp_path / "flipped.zip"
    target.write_bytes(bytes(data))
    with pytest.raises(PackageError, match="model.pkl|not a readable zip"):
        check_archive(target, file_sha256(target))


def test_requirement_versions_compare_major_and_minor():
    import sklearn

    major, minor, *_ = sklearn.__version__.split(".")
    assert requirement_differences(f"scikit-learn=={major}.{minor}.99\n") == []
    assert requirement_differences(f"scikit-learn>={major}.0\n# a comment\n") == []
    differences = requirement_differences("scikit-learn==0.20.1\nsurely-not-installed==1.0\n")
    assert differences == [
        f"scikit-learn 0.20.1 in the package, {sklearn.__version__} installed",
        "surely-not-installed 1.0 in the package, not installed",
    ]


def test_skops_loads_only_trusted_types(packages):
    path, sha256 = packages["skops"]
    with pytest.raises(PackageError, match="not trusted: numpy.dtype"):
        load_package(path, sha256)
    package = load_package(path, sha256, trusted_types=["numpy.dtype"])
    assert package.format == "skops"
    rows, metrics = _score(
        _params("sk", path, sha256, trusted_types=["numpy.dtype"], method="predict_proba")
    )
    assert len(rows) == 250 and metrics["package_format"] == "skops"


# --- column mapping -------------------------------------------------------------------------


def test_missing_and_ill_typed_columns_are_listed_together():
    con = _features_con()
    kinds = {"recency_days": "number", "frequency": "integer", "segment": "string", "x": "number"}
    mapping = {"segment": "tenure_days", "x": "nope + frequency", "frequency": "monetary"}
    with pytest.raises(MappingError) as refused:
        plan_inputs(con, kinds, {**mapping, "extra": "frequency"}, "customer_features")
    message = str(refused.value)
    assert "the model has no input column(s) extra" in message
    assert "missing column(s): x (→ nope)" in message
    assert "segment (→ tenure_days is BIGINT, the model expects string)" in message
    assert "frequency (→ monetary is DECIMAL(38,4), the model expects integer)" in message
    with pytest.raises(MappingError, match=r"expression over numbers only: customer_id is"):
        plan_inputs(con, {"a": "number"}, {"a": "customer_id + 1"}, "customer_features")
    with pytest.raises(MappingError, match="first_seen_at is TIMESTAMP"):
        plan_inputs(con, {"a": "number"}, {"a": "first_seen_at"}, "customer_features")


def test_expressions_are_parsed_never_pasted():
    con = _features_con()
    plan = plan_inputs(
        con,
        {"a": "number", "b": "number"},
        {"a": "ln(1 + monetary) * 2", "b": "frequency / nullif(events_30d, 0) - -1.5e0"},
        "customer_features",
    )
    row = con.execute(plan.sql).fetchall()[7]
    assert row[1] == pytest.approx(np.log(1 + 37.5) * 2)
    assert row[2] == pytest.approx(1 / 7 + 1.5)
    for text in (
        "monetary; drop table customer_features",
        "monetary) from customer_features --",
        "'text'",
        'monetary as "x"',
        "read_csv(frequency)",
        "frequency +",
        "(frequency",
        "",
    ):
        with pytest.raises(MappingError):
            parse_expression(text)
    assert con.execute("select count(*) from customer_features").fetchone()[0] == 250


# --- output types ---------------------------------------------------------------------------


def _values(rows: list[dict]) -> list:
    return [json.loads(row["value"]) for row in rows]


def test_each_output_type_is_scored_and_typed(packages):
    def scored(name, output_type, batch_size=100_000, **keys):
        path, sha256 = packages[name]
        output = {"name": f"{name}_out", "type": output_type, **keys.pop("fields", {})}
        params = _params(name, path, sha256, output=output, batch_size=batch_size, **keys)
        rows, metrics = _score(params)
        assert len(rows) == 250 and {row["value_type"] for row in rows} == {output_type}
        return _values(rows), metrics

    flags, metrics = scored("classifier", "boolean")
    assert set(flags) == {True, False} and 0 < metrics["true_share"] < 1
    scores, metrics = scored("classifier", "number", batch_size=37)
    assert all(0 < value < 1 for value in scores) and metrics["method"] == "predict_proba"
    assert scored("classifier", "number")[0] == pytest.approx(scores, rel=1e-12)  # batches
    values, _ = scored("regressor", "number")
    assert len(set(values)) > 10
    assert set(scored("classes", "integer")[0]) <= {1, 2, 3}
    assert set(scored("labels", "string")[0]) <= {"loyal", "casual", "dormant"}
    arrays, _ = scored("multi", "array")
    assert all(len(item) == 3 and item[1] == pytest.approx(2 * item[0]) for item in arrays)
    records, _ = scored("labels", "record")
    assert set(records[0]) == {"casual", "dormant", "loyal"}
    assert sum(records[0].values()) == pytest.approx(1)
    named, _ = scored("multi", "record", fields={"fields": ["low", "mid", "high"]})
    assert named[3]["mid"] == pytest.approx(2 * named[3]["low"])


@pytest.mark.parametrize(
    "name, output_type, message",
    [
        ("regressor", "boolean", "declared output type boolean: values other than 0 and 1"),
        ("regressor", "integer", "declared output type integer: not a whole number"),
        ("labels", "number", "declared output type number: predict_proba gives 3 classes"),
        ("classes", "string", "declared output type string: not text"),
        ("multi", "number", "gives 3 values per row; declare type array or record"),
        ("regressor", "array", "a list per row"),
        ("multi", "record", "name them with fields"),
    ],
)
def test_predictions_not_fitting_the_type_fail(packages, name, output_type, message):
    path, sha256 = packages[name]
    params = _params(name, path, sha256, output={"name": "x_out", "type": output_type})
    with pytest.raises(OutputTypeError, match=message):
        _score(params)


def test_manifest_output_type_must_agree(tmp_path):
    frame, signal = _training()
    model = Ridge().fit(frame.fillna(0), signal)
    info = package_model(
        tmp_path / "m.zip",
        model=model,
        columns=COLUMNS,
        preprocess=SimpleImputer().fit(frame),
        output={"name": "m_value", "type": "number"},
    )
    params = _params("m", info.path, info.sha256, output={"name": "m_flag", "type": "boolean"})
    with pytest.raises(PackageError, match="declares output type number, the instance boolean"):
        _score(params)


# --- accounts -------------------------------------------------------------------------------


def test_account_level_aggregates_per_account(packages):
    path, sha256 = packages["regressor"]
    con = _features_con()
    params = _params(
        "acct", path, sha256, level="account", aggregation={"frequency": "sum", "monetary": "sum"}
    )
    rows, metrics = _score(params, con)
    # 40 customers with user ids in 4 accounts; u1 is in acc_0 and acc_1 and takes acc_0's value.
    assert len(rows) == 40 and metrics["accounts_scored"] == 4
    by_customer = {row["customer_id"]: json.loads(row["value"]) for row in rows}
    assert by_customer["cus_0001"] == by_customer["cus_0004"] == by_customer["cus_0000"]
    assert by_customer["cus_0005"] == by_customer["cus_0009"] != by_customer["cus_0000"]
    plan = plan_inputs(
        con,
        {column: "number" for column in COLUMNS},
        {},
        "customer_features",
        level="account",
        aggregation={"frequency": "sum", "monetary": "sum"},
        accounts="accounts",
        identifiers="customer_identifiers",
    )
    accounts = {row[0]: row[1:] for row in con.execute(plan.sql).fetchall()}
    expected_frequency = sum(i % 6 for i in range(40) if i % 4 == 0 or i == 1)
    assert accounts["acc_0"][1] == expected_frequency
    expected_events = np.mean([i % 11 for i in range(40) if i % 4 == 1])
    assert accounts["acc_1"][3] == pytest.approx(expected_events)


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "keys, message",
    [
        ({"sha256": "abc"}, "sha256 .* is required"),
        ({"level": "team"}, "level must be one of customer, account"),
        ({"output": {"name": "x", "type": "float"}}, "output.type must be one of"),
        ({"output": {"name": "monetary", "type": "number"}}, "customer_profile already has"),
        ({"aggregation": "sum"}, "aggregation is only for level account"),
        ({"columns": {"a": "frequency +"}}, "ends too early"),
        ({"pakage": "x.zip"}, "unknown key"),
    ],
)
def test_invalid_configuration_is_refused(keys, message):
    entry = {
        "id": "mine",
        "type": "byom",
        "package": "m.zip",
        "sha256": "0" * 64,
        "output": {"name": "mine_score", "type": "number"},
        **keys,
    }
    (spec,) = parse_instances({"instances": [entry]})
    assert spec.error is not None and "instance 'mine'" in spec.error
    assert re.search(message, spec.error), spec.error


# --- one real run ---------------------------------------------------------------------------


@pytest.mark.slow
def test_packages_scored_in_a_real_run(raw_dir, packages, tmp_path, capsys):
    def instance(instance_id, name, output_type, **keys):
        path, sha256 = packages[name]
        return {
            "id": instance_id,
            "type": "byom",
            "status": "ready",
            "package": str(path),
            "sha256": keys.pop("sha256", sha256),
            "output": {"name": f"{instance_id}_out", "type": output_type, **keys.pop("extra", {})},
            **keys,
        }

    classifier, _ = packages["classifier"]
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(classifier.read_bytes()[: classifier.stat().st_size // 2])
    missing = tmp_path / "missing.zip"
    missing_sha = _rewrite(classifier, missing, drop=("model.pkl",))
    versions = tmp_path / "versions.zip"
    requirements = b"scikit-learn==0.22.0\nnumpy==1.17.0\n"
    versions_sha = _rewrite(classifier, versions, replace={"requirements.txt": requirements})
    good = [
        instance("flag", "classifier", "boolean", method="predict"),
        instance("score", "classifier", "number"),
        instance("amount", "regressor", "number", columns={"monetary": "ln(1 + monetary)"}),
        instance("tier", "classes", "integer"),
        instance("label", "labels", "string"),
        instance("multi", "multi", "array"),
        instance("mix", "labels", "record"),
        instance("safe", "skops", "number", trusted_types=["numpy.dtype"]),
        instance("acct", "regressor", "number", level="account"),
    ]
    refused = {
        "bad_digest": (instance("bad_digest", "classifier", "number", sha256="1" * 64), "pins"),
        "bad_zip": (
            {**instance("bad_zip", "classifier", "number"), "package": str(corrupt)},
            "not a readable zip file",
        ),
        "bad_member": (
            {**instance("bad_member", "classifier", "number", sha256=missing_sha)},
            "lacks model.pkl",
        ),
        "bad_versions": (
            {**instance("bad_versions", "classifier", "number", sha256=versions_sha)},
            "scikit-learn 0.22.0 in the package",
        ),
        "bad_column": (
            instance("bad_column", "classifier", "number", columns={"events_30d": "nope_30d"}),
            "missing column(s): events_30d (→ nope_30d)",
        ),
        "bad_type": (instance("bad_type", "regressor", "boolean"), "output type boolean"),
    }
    refused["bad_zip"][0]["sha256"] = file_sha256(corrupt)
    refused["bad_member"][0]["package"] = str(missing)
    refused["bad_versions"][0]["package"] = str(versions)
    instances = tmp_path / "instances.yml"
    entries = good + [entry for entry, _ in refused.values()]
    instances.write_text(yaml.safe_dump({"instances": entries}))
    db = build(raw_dir, tmp_path / "pcdp.duckdb", instances)

    with duckdb.connect(str(db), read_only=True) as con:
        status = dict(con.execute("select instance_id, status from model_instances").fetchall())
        errors = dict(
            con.execute(
                "select instance_id, error from model_runs where error is not null"
            ).fetchall()
        )
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_name = 'customer_profile'"
            ).fetchall()
        )
        customers = con.execute("select count(*) from customer_features").fetchone()[0]
        scored = dict(con.execute("select instance_id, rows_scored from model_runs").fetchall())
        features = con.execute(
            f"select customer_id, {', '.join(COLUMNS)} from customer_features order by 1"
        ).df()
        profile = con.execute("select customer_id, score_out from customer_profile order by 1").df()
        members = con.execute(
            "select count(distinct i.customer_id) from stg_raw__accounts as a"
            " inner join customer_identifiers as i"
            " on i.identifier_type = 'user_id' and i.identifier_value = a.user_id"
        ).fetchone()[0]
    assert {entry["id"]: status[entry["id"]] for entry in good} == dict.fromkeys(
        [entry["id"] for entry in good], "Complete"
    )
    for instance_id, (_, message) in refused.items():
        assert status[instance_id] == "Error"
        assert message in errors[instance_id], errors[instance_id]
    assert scored["score"] == customers and scored["acct"] == members > 0
    assert {name: types[f"{name}_out"] for name in ("flag", "score", "tier", "label")} == {
        "flag": "BOOLEAN",
        "score": "DOUBLE",
        "tier": "BIGINT",
        "label": "VARCHAR",
    }
    assert types["multi_out"] == "VARCHAR[]" and types["mix_out"] == "JSON"
    assert "bad_type_out" not in types
    # The warehouse's scores equal the package scored directly with scikit-learn.
    package = load_package(*packages["classifier"])
    x = package.transforms.transform(package.preprocess.transform(features[COLUMNS].astype(float)))
    expected = package.model.predict_proba(x)[:, 1]
    merged = features[["customer_id"]].assign(expected=expected).merge(profile, on="customer_id")
    assert np.allclose(merged["score_out"], merged["expected"])

    assert main(["byom", "validate", "--instances", str(instances), "--db", str(db)]) == 1
    printed = capsys.readouterr().out
    assert "ok       score (ready)" in printed and "refused  bad_column" in printed
    assert "6 byom instance(s) refused" in printed


def test_validate_without_a_warehouse(packages, tmp_path, capsys):
    path, sha256 = packages["classifier"]
    entry = {
        "id": "score",
        "type": "byom",
        "package": str(path),
        "sha256": sha256,
        "output": {"name": "score_out", "type": "number"},
    }
    instances = tmp_path / "instances.yml"
    instances.write_text(yaml.safe_dump({"instances": [entry]}))
    assert main(["byom", "validate", "--instances", str(instances)]) == 0
    assert "ok       score (ready): pickle package, method predict_proba" in capsys.readouterr().out
    entry["sha256"] = "f" * 64
    instances.write_text(yaml.safe_dump({"instances": [entry]}))
    assert main(["byom", "validate", "--instances", str(instances)]) == 1
    assert "refused  score: package" in capsys.readouterr().out


def test_zip_member_bytes_are_those_hashed(packages):
    path, sha256 = packages["classifier"]
    archive = check_archive(path, sha256)
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as again:
        assert archive.read("model") == again.read("model.pkl")


def test_relative_package_paths_are_relative_to_the_project(tmp_path):
    from pcdp.byom.instance import package_path
    from pcdp.project import project_dir

    assert package_path("models/churn.zip") == project_dir() / "models" / "churn.zip"
    assert package_path(str(tmp_path / "m.zip")) == tmp_path / "m.zip"
    assert package_path("m.zip", base=tmp_path) == tmp_path / "m.zip"
