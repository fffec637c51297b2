"""`pcdp byom package | validate | digest` (bring your own model, issue 8).

* ``package --out ZIP --script TRAIN.py`` runs a training script whose ``build()`` returns the
  fitted objects and packages them; ``package --out ZIP --model M --columns C [--preprocess P]
  [--transforms T] --requirements R`` packages already-serialised files (``.pkl`` or ``.skops``)
  byte for byte, never unpickling them. Prints the package's SHA-256 to pin in the instance.
* ``validate --instances FILE [--db FILE]`` runs every check of each byom instance without
  scoring: configuration, digest, zip, members, manifest, requirements, loading, output
  declaration; with ``--db`` (the warehouse file itself, not its serving copy) also the column
  mapping against customer_features (and the accounts) and the output type on a sample of
  customers. Exits 1 naming each problem.
* ``digest ZIP`` prints a file's SHA-256.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pcdp.errors import UsageError


def _say(message: str) -> None:
    print(message, flush=True)


def cmd_package(args: argparse.Namespace) -> int:
    from pcdp.byom import PackageError, package_files, package_script

    out = Path(args.out)
    if out.suffix != ".zip":
        raise UsageError(f"--out {args.out}: a package is a .zip file")
    try:
        if args.script:
            if args.model or args.columns:
                raise UsageError("give either --script or --model/--columns, not both")
            info = package_script(args.script, out, args.format)
        else:
            if not (args.model and args.columns):
                raise UsageError("give --script TRAIN.py, or --model and --columns files")
            if not args.requirements:
                raise UsageError(
                    "--requirements is needed with pickled files (pcdp does not unpickle "
                    "them to find out which libraries they use)"
                )
            info = package_files(
                out,
                columns=args.columns,
                preprocess=args.preprocess,
                transforms=args.transforms,
                model=args.model,
                requirements=Path(args.requirements).read_text(encoding="utf-8"),
                manifest=_manifest(args),
            )
    except (PackageError, OSError) as error:
        raise UsageError(str(error)) from error
    _say(f"wrote {info.path} ({', '.join(info.members)})")
    _say(f"sha256: {info.sha256}")
    _say("instance entry (add columns and output):")
    _say(info.instance_yaml())
    return 0


def _manifest(args: argparse.Namespace) -> dict:
    manifest: dict = {}
    if args.name:
        manifest["name"] = args.name
    if args.description:
        manifest["description"] = args.description
    if args.output_name or args.output_type:
        manifest["output"] = {"name": args.output_name, "type": args.output_type}
    if args.method:
        manifest["method"] = args.method
    return manifest


def cmd_validate(args: argparse.Namespace) -> int:
    import duckdb

    from pcdp.byom import PackageError
    from pcdp.byom.instance import prepare, sample_check
    from pcdp.instances import InstancesFileError, load_instances

    try:
        specs = [spec for spec in load_instances(args.instances) if spec.type == "byom"]
    except InstancesFileError as error:
        raise UsageError(str(error)) from error
    if not specs:
        _say(f"{args.instances}: no byom instances")
        return 0
    con = _open_warehouse(Path(args.db)) if args.db else None
    relations = {
        "customer_features": "customer_features",
        "accounts": "stg_raw__accounts",
        "customer_identifiers": "customer_identifiers",
    }
    problems = 0
    try:
        for spec in sorted(specs, key=lambda s: s.id):
            if spec.error:
                problems += 1
                _say(f"refused  {spec.id}: {spec.error}")
                continue
            try:
                if con is None:
                    prepared = prepare(spec.params, None, relations, mapping=False)
                    detail = f"{prepared.package.format} package, method {prepared.output.method}"
                else:
                    rows = sample_check(spec.params, con, relations, rows=args.sample)
                    detail = f"mapping and output type checked on {rows:,} row(s)"
            except (PackageError, ValueError, duckdb.Error) as error:
                problems += 1
                _say(f"refused  {spec.id}: {error}")
                continue
            _say(f"ok       {spec.id} ({spec.status}): {detail}")
    finally:
        if con is not None:
            con.close()
    against = f"warehouse {args.db}" if args.db else "no warehouse: columns not checked"
    if problems:
        _say(f"{args.instances}: {problems} byom instance(s) refused ({against})")
        return 1
    _say(f"{args.instances}: all {len(specs)} byom instance(s) valid ({against})")
    return 0


def _open_warehouse(db: Path):
    """The warehouse file itself (read-only): the column mapping reads customer_features, and
    for accounts stg_raw__accounts and customer_identifiers, which a serving file lacks."""
    import duckdb

    if not db.is_file():
        raise UsageError(f"--db {db}: no such warehouse file (run `pcdp run` first)")
    try:
        return duckdb.connect(str(db), read_only=True)
    except duckdb.Error as error:
        raise UsageError(
            f"--db {db}: cannot open the warehouse (is a pcdp run writing it?): {error}"
        ) from error


def cmd_digest(args: argparse.Namespace) -> int:
    from pcdp.byom import file_sha256

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{args.file}: no such file")
    _say(file_sha256(path))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    from pcdp.byom.build import FORMATS
    from pcdp.byom.format import METHODS, OUTPUT_TYPES

    byom = commands.add_parser("byom", help="bring your own model: package and validate models")
    sub = byom.add_subparsers(dest="byom_command", required=True)

    package = sub.add_parser("package", help="build a model package and print its SHA-256")
    package.add_argument("--out", required=True, help="the package to write (.zip)")
    package.add_argument("--script", help="training script whose build() returns the objects")
    package.add_argument("--model", help="serialised fitted estimator (.pkl or .skops)")
    package.add_argument("--columns", help="serialised list of input column names")
    package.add_argument("--preprocess", help="serialised preprocessing step (default: none)")
    package.add_argument("--transforms", help="serialised transforms (default: none)")
    package.add_argument("--requirements", help="requirements.txt (name==version per library)")
    package.add_argument("--format", choices=FORMATS, help="with --script: pickle or skops")
    package.add_argument("--name", help="manifest: the model's name")
    package.add_argument("--description", help="manifest: what the model predicts")
    package.add_argument("--output-name", help="manifest: the output's name")
    package.add_argument("--output-type", choices=OUTPUT_TYPES, help="manifest: its type")
    package.add_argument("--method", choices=METHODS, help="manifest: the estimator method")
    package.set_defaults(handler=cmd_package)

    validate = sub.add_parser("validate", help="check every byom instance without scoring")
    validate.add_argument("--instances", required=True, help="model instances YAML")
    validate.add_argument("--db", help="a built warehouse, to check the column mapping")
    validate.add_argument(
        "--sample", type=int, default=1000, help="with --db: rows whose output type is checked"
    )
    validate.set_defaults(handler=cmd_validate)

    digest = sub.add_parser("digest", help="print a file's SHA-256")
    digest.add_argument("file")
    digest.set_defaults(handler=cmd_digest)
