"""Building model packages: from fitted objects (Python API), from already-pickled files, or
from a small training script whose `build()` returns the fitted objects.

The zip is written deterministically (fixed member order and timestamps), so packaging the
same objects again gives the same SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import runpy
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcdp.byom.format import (
    COLUMN_KINDS,
    FORMAT_VERSION,
    MANIFEST,
    METHODS,
    NAME_PATTERN,
    OBJECT_MEMBERS,
    OUTPUT_TYPES,
    REQUIREMENTS,
    PackageError,
)
from pcdp.byom.requirements import (
    UnpicklableError,
    object_modules,
    parse_requirements,
    requirements_text,
)

FORMATS = ("pickle", "skops")
_SCRIPT_MODULE = "pcdp_byom_training_script"
_SCRIPT_KEYS = {
    "model",
    "columns",
    "preprocess",
    "transforms",
    "name",
    "description",
    "output",
    "method",
    "requirements",
}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class PackageInfo:
    """A written package: where it is, its SHA-256 (to pin in the instance) and its members."""

    path: Path
    sha256: str
    members: tuple[str, ...]

    def instance_yaml(self, instance_id: str = "my_model") -> str:
        """An instance entry to paste into an instances file (columns and output to fill in)."""
        return (
            f"  - id: {instance_id}\n"
            f"    type: byom\n"
            f"    status: ready\n"
            f"    package: {self.path}\n"
            f"    sha256: {self.sha256}\n"
        )


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_columns(columns: object) -> dict[str, str]:
    """The model's input columns as name → kind; a list means every column is a number."""
    if isinstance(columns, str) or not isinstance(columns, Sequence | Mapping):
        raise PackageError("columns must be a list of column names or a mapping name → kind")
    if isinstance(columns, Mapping):
        kinds = dict(columns)
    else:
        kinds = {name: "number" for name in columns}
        if len(kinds) != len(columns):
            raise PackageError("columns lists a name twice")
    if not kinds:
        raise PackageError("columns is empty")
    for name, kind in kinds.items():
        if not isinstance(name, str) or not name:
            raise PackageError(f"column names must be non-empty text, got {name!r}")
        if kind not in COLUMN_KINDS:
            raise PackageError(
                f"column {name!r} has kind {kind!r}; kinds are {', '.join(COLUMN_KINDS)}"
            )
    return kinds


def check_output(output: object, where: str = "output") -> dict[str, Any]:
    """An output schema: `name` (lower snake case), `type`, and `fields` for records."""
    if not isinstance(output, Mapping):
        raise PackageError(f"{where} must be a mapping with name and type")
    unknown = set(output) - {"name", "type", "fields"}
    if unknown:
        raise PackageError(f"{where} has unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    name, kind = output.get("name"), output.get("type")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise PackageError(f"{where}.name must be lower snake case, got {name!r}")
    if kind not in OUTPUT_TYPES:
        raise PackageError(f"{where}.type must be one of {', '.join(OUTPUT_TYPES)}, got {kind!r}")
    checked: dict[str, Any] = {"name": name, "type": kind}
    fields = output.get("fields")
    if fields is not None:
        if kind != "record":
            raise PackageError(f"{where}.fields is only for type record")
        if (
            not isinstance(fields, list)
            or not fields
            or not all(isinstance(field, str) and field for field in fields)
            or len(set(fields)) != len(fields)
        ):
            raise PackageError(f"{where}.fields must be a list of distinct names")
        checked["fields"] = list(fields)
    return checked


def check_manifest(manifest: object) -> dict[str, Any]:
    if not isinstance(manifest, Mapping):
        raise PackageError("manifest.json must hold a JSON object")
    unknown = set(manifest) - {"format_version", "name", "description", "output", "method"}
    if unknown:
        raise PackageError(f"manifest.json has unknown key(s): {', '.join(sorted(unknown))}")
    checked: dict[str, Any] = {"format_version": manifest.get("format_version", FORMAT_VERSION)}
    if checked["format_version"] != FORMAT_VERSION:
        raise PackageError(
            f"manifest.json format_version {checked['format_version']!r} is not supported "
            f"(this pcdp reads {FORMAT_VERSION})"
        )
    for key in ("name", "description"):
        value = manifest.get(key)
        if value is not None and not isinstance(value, str):
            raise PackageError(f"manifest.json {key} must be text")
        if value is not None:
            checked[key] = value
    if manifest.get("output") is not None:
        checked["output"] = check_output(manifest["output"], "manifest.json output")
    method = manifest.get("method")
    if method is not None:
        if method not in METHODS:
            raise PackageError(f"manifest.json method must be one of {', '.join(METHODS)}")
        checked["method"] = method
    return checked


def _manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


def _write_zip(out: Path, members: list[tuple[str, bytes]]) -> PackageInfo:
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    data = buffer.getvalue()
    out.write_bytes(data)
    return PackageInfo(out, hashlib.sha256(data).hexdigest(), tuple(name for name, _ in members))


def _serialise(obj: object, fmt: str) -> bytes:
    if fmt == "skops":
        import skops.io

        return skops.io.dumps(obj)
    return pickle.dumps(obj, protocol=5)


def package_model(
    out: str | Path,
    *,
    model: object,
    columns: Sequence[str] | Mapping[str, str],
    preprocess: object = None,
    transforms: object = None,
    name: str | None = None,
    description: str | None = None,
    output: Mapping[str, Any] | None = None,
    method: str | None = None,
    format: str = "pickle",  # noqa: A002 - the word users know
    requirements: str | None = None,
) -> PackageInfo:
    """Write a package of fitted objects to `out` (a .zip) and return its SHA-256.

    `columns` are the model's input columns in training order (a list, or name → kind);
    `preprocess` and `transforms` are fitted transformers (or lists of them, or None) applied
    in that order before `model`. `requirements` defaults to `name==version` of every library
    the objects are made of. `format` is `pickle` or `skops` (safer: loading never runs code
    of types that are not trusted).
    """
    if format not in FORMATS:
        raise PackageError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    column_kinds = check_columns(columns)
    if isinstance(columns, Mapping):
        columns_obj: object = dict(column_kinds)
    else:
        columns_obj = list(column_kinds)
    objects = {
        "columns": columns_obj,
        "preprocess": preprocess,
        "transforms": transforms,
        "model": model,
    }
    try:
        modules = object_modules(objects.values())
        unpicklable = None
    except UnpicklableError as error:
        modules, unpicklable = set(error.modules), error
    local = sorted(
        module for module in modules if module.split(".")[0] in ("__main__", _SCRIPT_MODULE)
    )
    if local:
        raise PackageError(
            "the objects use code defined in the training script itself "
            f"({', '.join(local)}), which cannot be loaded anywhere else; move it to an "
            "installed module"
        )
    if unpicklable is not None:
        raise PackageError(f"the objects cannot be pickled: {unpicklable}")
    if method is not None and method not in METHODS:
        raise PackageError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method is not None and not callable(getattr(model, method, None)):
        raise PackageError(f"the model has no {method} method")
    manifest = check_manifest(
        {
            key: value
            for key, value in {
                "format_version": FORMAT_VERSION,
                "name": name,
                "description": description,
                "output": output,
                "method": method,
            }.items()
            if value is not None
        }
    )
    if requirements is None:
        requirements = requirements_text(objects.values())
    parse_requirements(requirements)
    suffix = ".skops" if format == "skops" else ".pkl"
    members = [(member + suffix, _serialise(objects[member], format)) for member in OBJECT_MEMBERS]
    members.append((REQUIREMENTS, requirements.encode()))
    members.append((MANIFEST, _manifest_bytes(manifest)))
    return _write_zip(Path(out), members)


def package_files(
    out: str | Path,
    *,
    columns: str | Path,
    model: str | Path,
    requirements: str,
    preprocess: str | Path | None = None,
    transforms: str | Path | None = None,
    manifest: Mapping[str, Any] | None = None,
) -> PackageInfo:
    """Write a package from already-serialised files (`.pkl` or `.skops` each), copied byte for
    byte: nothing is unpickled while packaging. An absent preprocess or transforms step is
    written as None in the model file's format."""
    paths = {"columns": columns, "preprocess": preprocess, "transforms": transforms, "model": model}
    members = []
    model_format = "skops" if Path(model).suffix == ".skops" else "pickle"
    for member in OBJECT_MEMBERS:
        if paths[member] is None:
            suffix = ".skops" if model_format == "skops" else ".pkl"
            members.append((member + suffix, _serialise(None, model_format)))
            continue
        path = Path(paths[member])
        if path.suffix not in (".pkl", ".skops"):
            raise PackageError(f"{member} file {path} must end in .pkl or .skops")
        if not path.is_file():
            raise PackageError(f"{member} file {path} does not exist")
        members.append((member + path.suffix, path.read_bytes()))
    parse_requirements(requirements)
    members.append((REQUIREMENTS, requirements.encode()))
    checked = check_manifest({"format_version": FORMAT_VERSION, **(manifest or {})})
    members.append((MANIFEST, _manifest_bytes(checked)))
    return _write_zip(Path(out), members)


def package_script(script: str | Path, out: str | Path, format: str | None = None) -> PackageInfo:  # noqa: A002
    """Run a training script and package what its `build()` returns: a mapping with `model`,
    `columns` and optionally `preprocess`, `transforms`, `name`, `description`, `output`,
    `method`, `requirements` (and `format`, unless given here)."""
    script = Path(script)
    if not script.is_file():
        raise PackageError(f"training script {script} does not exist")
    namespace = runpy.run_path(str(script), run_name=_SCRIPT_MODULE)
    build = namespace.get("build")
    if not callable(build):
        raise PackageError(f"training script {script} defines no build() function")
    parts = build()
    if not isinstance(parts, Mapping):
        raise PackageError(f"{script}: build() must return a mapping (model, columns, ...)")
    parts = dict(parts)
    script_format = parts.pop("format", None)
    unknown = set(parts) - _SCRIPT_KEYS
    if unknown:
        raise PackageError(
            f"{script}: build() returned unknown key(s): {', '.join(sorted(unknown))}"
        )
    for key in ("model", "columns"):
        if key not in parts:
            raise PackageError(f"{script}: build() returned no {key}")
    return package_model(out, format=format or script_format or "pickle", **parts)
