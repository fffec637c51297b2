"""requirements.txt of a package: written from the objects' libraries, checked against the
running environment.

A pinned library (`name==1.5.2`) fits when the installed version has the same major and minor
version (a different patch release is fine); any other specifier (`name>=1.5`) must be
satisfied by the installed version. A library that is not installed never fits.
"""

from __future__ import annotations

import importlib.metadata as metadata
import pickle
import sys
from collections.abc import Iterable

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from pcdp.byom.format import PackageError

# Modules of the standard library and of Python itself never go in requirements.txt.
_BUILTIN_ROOTS = set(sys.stdlib_module_names) | {"builtins", "__main__"}


def parse_requirements(text: str) -> list[Requirement]:
    """Every requirement line (comments, blank lines and pip options are skipped)."""
    requirements = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            requirements.append(Requirement(line))
        except InvalidRequirement as error:
            raise PackageError(
                f"requirements.txt line {number} is not a requirement ({line!r}): {error}"
            ) from error
    return requirements


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _major_minor(version: Version) -> tuple[int, int]:
    release = (*version.release, 0)
    return release[0], release[1]


def requirement_differences(text: str) -> list[str]:
    """One sentence per library of `text` that does not fit the running environment."""
    differences = []
    for requirement in parse_requirements(text):
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        installed = _installed(requirement.name)
        pins = [spec.version for spec in requirement.specifier if spec.operator in ("==", "===")]
        wanted = f"{requirement.name} {pins[0]}" if pins else str(requirement)
        if installed is None:
            differences.append(f"{wanted} in the package, not installed")
            continue
        try:
            installed_version = Version(installed)
            if pins:
                fits = _major_minor(Version(pins[0])) == _major_minor(installed_version)
            else:
                fits = requirement.specifier.contains(installed_version, prereleases=True)
        except InvalidVersion:
            fits = bool(pins) and pins[0] == installed
        if not fits:
            differences.append(f"{wanted} in the package, {installed} installed")
    return differences


def check_requirements(text: str) -> None:
    differences = requirement_differences(text)
    if differences:
        raise PackageError(
            "the package was built with library versions that differ from this environment "
            "(major/minor): " + "; ".join(differences)
        )


class _ModuleRecorder(pickle.Pickler):
    """A pickler that notes the module of every object and class it writes."""

    def __init__(self, sink) -> None:
        super().__init__(sink, protocol=pickle.HIGHEST_PROTOCOL)
        self.modules: set[str] = set()

    def reducer_override(self, obj):
        if isinstance(obj, type) or callable(obj) and hasattr(obj, "__module__"):
            self.modules.add(getattr(obj, "__module__", None) or "")
        self.modules.add(type(obj).__module__ or "")
        return NotImplemented


class _NullSink:
    def write(self, data: bytes) -> int:
        return len(data)


def object_modules(objects: Iterable[object]) -> set[str]:
    """The modules of every object and class the objects are made of."""
    recorder = _ModuleRecorder(_NullSink())
    for obj in objects:
        try:
            recorder.dump(obj)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            found = sorted(module for module in recorder.modules if module)
            raise UnpicklableError(str(error), found) from error
    return {module for module in recorder.modules if module}


class UnpicklableError(ValueError):
    """An object cannot be pickled; `modules` are those recorded up to the failure."""

    def __init__(self, message: str, modules: list[str]) -> None:
        super().__init__(message)
        self.modules = modules


def used_distributions(objects: Iterable[object]) -> dict[str, str]:
    """The installed distributions (name → version) whose modules the objects are made of."""
    roots = {module.split(".")[0] for module in object_modules(objects)}
    roots -= _BUILTIN_ROOTS
    by_module = metadata.packages_distributions()
    found: dict[str, str] = {}
    for root in sorted(roots):
        for name in by_module.get(root, []):
            version = _installed(name)
            if version is not None:
                found[name] = version
    return found


def requirements_text(objects: Iterable[object]) -> str:
    """requirements.txt for the objects: `name==version` per library they use, sorted."""
    found = used_distributions(objects)
    return "".join(f"{name}=={version}\n" for name, version in sorted(found.items(), key=_key))


def _key(item: tuple[str, str]) -> str:
    return item[0].lower()
