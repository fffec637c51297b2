"""Loading a model package safely.

Unpickling runs code, so the order of the checks is the safety rule:
1. the package file is read once into memory and its SHA-256 compared with the digest pinned in
   the instance: a package whose digest differs is refused before anything in it is read as a
   zip, let alone unpickled (the bytes that were hashed are the bytes that are loaded, so the
   file cannot be swapped between the check and the load);
2. the zip, its members (CRC-checked), the manifest and requirements.txt (against the running
   environment) are checked, still without unpickling;
3. only then are the objects loaded: `.pkl` members with joblib/pickle, `.skops` members with
   skops, refusing any type outside skops' defaults that the instance does not list in
   `trusted_types`.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pcdp.byom.build import check_columns, check_manifest
from pcdp.byom.format import (
    MANIFEST,
    METHODS,
    OBJECT_MEMBERS,
    OBJECT_SUFFIXES,
    REQUIREMENTS,
    SHA256_PATTERN,
    PackageError,
)
from pcdp.byom.requirements import check_requirements


@dataclass(frozen=True)
class CheckedArchive:
    """A package whose digest matched and whose zip, members, manifest and requirements passed
    every check; nothing in it has been unpickled."""

    path: Path
    sha256: str
    members: dict[str, str]  # object member → its file name in the zip
    manifest: dict[str, Any]
    requirements: str
    _archive: zipfile.ZipFile = field(repr=False)

    @property
    def format(self) -> str:
        suffixes = {name.rsplit(".", 1)[1] for name in self.members.values()}
        if suffixes == {"skops"}:
            return "skops"
        return "pickle" if suffixes == {"pkl"} else "mixed"

    def read(self, member: str) -> bytes:
        return self._archive.read(self.members[member])


@dataclass
class ModelPackage:
    """A loaded package: the model's input columns (name → kind) and its fitted objects."""

    path: Path
    sha256: str
    format: str
    columns: dict[str, str]
    preprocess: Any
    transforms: Any
    model: Any
    manifest: dict[str, Any]
    requirements: str


def check_archive(path: str | Path, sha256: str) -> CheckedArchive:
    """Steps 1 and 2 of the module docstring: digest, zip, members, manifest, requirements."""
    path = Path(path)
    expected = str(sha256).strip().lower()
    if not SHA256_PATTERN.fullmatch(expected):
        raise PackageError("sha256 must be 64 hexadecimal digits")
    if not path.is_file():
        raise PackageError(f"package {path} does not exist")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise PackageError(
            f"package {path} has SHA-256 {actual}, but the instance pins {expected}; "
            "refused without loading it (package it again or update sha256 if you trust it)"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        broken = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as error:
        raise PackageError(f"package {path} is not a readable zip file: {error}") from error
    if broken is not None:
        raise PackageError(f"package {path}: member {broken} is corrupt (CRC check failed)")
    if len(set(names)) != len(names):
        raise PackageError(f"package {path} holds a member name twice")
    members: dict[str, str] = {}
    missing = []
    for member in OBJECT_MEMBERS:
        found = [member + suffix for suffix in OBJECT_SUFFIXES if member + suffix in names]
        if len(found) > 1:
            raise PackageError(f"package {path} holds both {' and '.join(found)}")
        if found:
            members[member] = found[0]
        else:
            missing.append(f"{member}.pkl (or {member}.skops)")
    if REQUIREMENTS not in names:
        missing.append(REQUIREMENTS)
    if missing:
        raise PackageError(f"package {path} lacks {', '.join(missing)}")
    manifest: dict[str, Any] = {}
    if MANIFEST in names:
        try:
            raw_manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise PackageError(f"package {path}: manifest.json is not JSON: {error}") from error
        manifest = check_manifest(raw_manifest)
    try:
        requirements = archive.read(REQUIREMENTS).decode("utf-8")
    except UnicodeDecodeError as error:
        raise PackageError(f"package {path}: requirements.txt is not UTF-8 text") from error
    check_requirements(requirements)
    return CheckedArchive(path, actual, members, manifest, requirements, archive)


def _load_member(archive: CheckedArchive, member: str, trusted_types: Sequence[str]) -> Any:
    data = archive.read(member)
    name = archive.members[member]
    if name.endswith(".skops"):
        import skops.io

        try:
            untrusted = skops.io.get_untrusted_types(data=data)
        except Exception as error:  # noqa: BLE001 - any reading failure is a refusal
            raise PackageError(f"{name} is not a readable skops file: {error}") from error
        refused = sorted(set(untrusted) - set(trusted_types))
        if refused:
            raise PackageError(
                f"{name} holds types that are not trusted: {', '.join(refused)} "
                "(list them under trusted_types in the instance if you trust them)"
            )
        return skops.io.loads(data, trusted=sorted(set(untrusted)))
    import joblib

    # The digest pinned by the instance matched: this is the one place a pickle is loaded.
    return joblib.load(io.BytesIO(data))  # noqa: S301


def load_package(path: str | Path, sha256: str, trusted_types: Sequence[str] = ()) -> ModelPackage:
    """Check then load a package (see the module docstring); raises PackageError."""
    archive = check_archive(path, sha256)
    objects = {}
    for member in OBJECT_MEMBERS:
        try:
            objects[member] = _load_member(archive, member, trusted_types)
        except PackageError:
            raise
        except Exception as error:  # noqa: BLE001 - a broken object is a refusal
            raise PackageError(
                f"{archive.members[member]} cannot be loaded: {type(error).__name__}: {error}"
            ) from error
    if not any(callable(getattr(objects["model"], name, None)) for name in METHODS):
        raise PackageError(
            f"{archive.members['model']} holds a {type(objects['model']).__name__}, which has "
            f"none of the methods {', '.join(METHODS)}"
        )
    columns = check_columns(objects["columns"])
    names_in = _feature_names_in(objects["preprocess"], objects["transforms"], objects["model"])
    if names_in is not None and names_in != list(columns):
        raise PackageError(
            f"columns lists {list(columns)} but the first step was fitted on {names_in}"
        )
    _single_threaded(objects["preprocess"], objects["transforms"], objects["model"])
    return ModelPackage(
        path=archive.path,
        sha256=archive.sha256,
        format=archive.format,
        columns=columns,
        preprocess=objects["preprocess"],
        transforms=objects["transforms"],
        model=objects["model"],
        manifest=archive.manifest,
        requirements=archive.requirements,
    )


def steps(*parts: Any) -> list[Any]:
    """The preprocess, transforms and model as one flat list of steps (None dropped)."""
    flat = []
    for part in parts:
        if part is None or (isinstance(part, str) and part == "passthrough"):
            continue
        if isinstance(part, list | tuple):
            flat.extend(steps(*part))
        else:
            flat.append(part)
    return flat


def _feature_names_in(*parts: Any) -> list[str] | None:
    flat = steps(*parts)
    names = getattr(flat[0], "feature_names_in_", None) if flat else None
    return None if names is None else [str(name) for name in names]


def _single_threaded(*parts: Any) -> None:
    """Scoring runs on one thread: every n_jobs parameter of the estimators is set to 1."""
    for step in steps(*parts):
        get_params = getattr(step, "get_params", None)
        set_params = getattr(step, "set_params", None)
        if not callable(get_params) or not callable(set_params):
            continue
        try:
            keys = [key for key in get_params(deep=True) if key.split("__")[-1] == "n_jobs"]
            if keys:
                set_params(**dict.fromkeys(keys, 1))
        except Exception:  # noqa: BLE001, S112 - an estimator without settable params is left as is
            continue
