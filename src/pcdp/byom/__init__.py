"""Bring your own model (issue 8): package fitted scikit-learn objects, load them safely,
score customers or accounts into a typed predictive attribute.

- `package_model`, `package_files`, `package_script` build a package and return its SHA-256;
- `load_package` checks a package (digest first, then zip, members, manifest, requirements)
  and only then loads it;
- `pcdp.byom.instance` holds the instance configuration and the scoring used by the runner
  (pcdp.types.byom) and by `pcdp byom validate`.
"""

from pcdp.byom.build import PackageInfo, file_sha256, package_files, package_model, package_script
from pcdp.byom.format import PackageError
from pcdp.byom.loader import ModelPackage, check_archive, load_package
from pcdp.byom.mapping import MappingError
from pcdp.byom.scoring import OutputTypeError

__all__ = [
    "MappingError",
    "ModelPackage",
    "OutputTypeError",
    "PackageError",
    "PackageInfo",
    "check_archive",
    "file_sha256",
    "load_package",
    "package_files",
    "package_model",
    "package_script",
]
