"""The ``pml-workbench`` command line (also ``python -m workbench``).

Every command opens the registry named by ``--db`` (or ``PML_WORKBENCH_DB``, or the default
SQLite file in the user data directory), upgrading its schema first, and acts as the user
named by ``--user`` (or ``PML_WORKBENCH_USER``, or the login name). Errors print one line
starting with ``error:`` and exit non-zero; nothing half-done is left in the registry.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from workbench import __version__
from workbench.config import DB_ENV, USER_ENV, Settings
from workbench.domain import E, coerce_enum
from workbench.registry.errors import RegistryError

if TYPE_CHECKING:
    from workbench.registry.db import Registry
    from workbench.users import Actor

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pml-workbench",
        description="Case-review workbench of the PML registry.",
        epilog=f"Registry: --db, else ${DB_ENV}, else a SQLite file in the user data "
        "directory. '--db demo' is the demo registry.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--db", metavar="URL", help="registry database URL (or 'demo')")
    parser.add_argument(
        "--user", metavar="NAME", help=f"act as this registry user (default: ${USER_ENV} or login)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    gui = commands.add_parser("gui", help="open the main window")
    gui.add_argument("--screenshot", metavar="PNG", type=Path, help="render once to PNG and exit")
    gui.add_argument("--case", metavar="ID", help="open this case's page")
    gui.add_argument(
        "--layout",
        choices=("1x1", "1x2", "2x2", "2x3"),
        help="open the case's images in this viewport layout (needs --case)",
    )
    gui.add_argument(
        "--protocol",
        choices=("hanging", "prior-current"),
        help="hang the case's images by this protocol (needs --case; default: the user's last)",
    )
    gui.set_defaults(run=_cmd_gui)

    demo = commands.add_parser("demo", help="build the demo registry, then open the window")
    demo.add_argument("--no-gui", action="store_true", help="build only, do not open the window")
    demo.add_argument("--screenshot", metavar="PNG", type=Path, help="render once to PNG and exit")
    demo.set_defaults(run=_cmd_demo)

    cases = commands.add_parser("cases", help="list cases")
    cases.add_argument("--json", action="store_true", help="print JSON")
    cases.add_argument("--status", help="only cases of this review status")
    cases.add_argument("--site", help="only cases of this site code")
    cases.add_argument("--condition", help="only cases of this underlying condition")
    cases.set_defaults(run=_cmd_cases)

    case = commands.add_parser("case", help="create and show cases")
    case_commands = case.add_subparsers(dest="case_command", metavar="ACTION", required=True)
    add = case_commands.add_parser("add", help="create a case")
    add.add_argument("--id", required=True, dest="registry_id", help="pseudonym, e.g. PML-0042")
    add.add_argument("--site", required=True, help="site code, e.g. NL-AMS")
    add.add_argument("--sex", required=True, help="female, male, other or unknown")
    add.add_argument("--age-band", required=True, help="e.g. 40-49 or 80+")
    add.add_argument(
        "--condition",
        required=True,
        help="hiv, ms_natalizumab, other_immunomodulator, transplant, "
        "haematological_malignancy or other",
    )
    add.add_argument("--condition-detail", help="e.g. 'Crohn's disease on vedolizumab'")
    add.add_argument("--summary", help="clinical summary (no names, no dates)")
    add.add_argument(
        "--clinical-consistent",
        default="not_assessed",
        help="clinical features consistent with PML: present, absent or not_assessed",
    )
    add.add_argument(
        "--exposure",
        action="append",
        default=[],
        metavar="DRUG[:START[:STOP[:INFUSIONS]]]",
        help="drug exposure, days relative to the index date (repeatable)",
    )
    add.add_argument(
        "--feature",
        action="append",
        default=[],
        metavar="NAME=STATUS[@DAY]",
        help="clinical feature, STATUS present/absent/not_assessed (repeatable)",
    )
    add.add_argument("--readers", type=int, default=2, help="readers required (default 2)")
    add.set_defaults(run=_cmd_case_add)
    assign = case_commands.add_parser("assign", help="assign readers and panel members")
    assign.add_argument("registry_id", metavar="ID")
    assign.add_argument("--reader", action="append", default=[], metavar="USER")
    assign.add_argument("--panel", action="append", default=[], metavar="USER")
    assign.set_defaults(run=_cmd_case_assign)
    show = case_commands.add_parser("show", help="show one case")
    show.add_argument("registry_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(run=_cmd_case_show)

    labs = commands.add_parser("labs", help="lab results")
    labs_commands = labs.add_subparsers(dest="labs_command", metavar="ACTION", required=True)
    labs_import = labs_commands.add_parser("import", help="import a CSV of lab results")
    labs_import.add_argument("file", type=Path, metavar="FILE.csv")
    labs_import.set_defaults(run=_cmd_labs_import)

    user = commands.add_parser("user", help="registry users")
    user_commands = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    user_add = user_commands.add_parser("add", help="add a user")
    user_add.add_argument("username")
    user_add.add_argument("--name", required=True, help="printed name")
    user_add.add_argument(
        "--role",
        action="append",
        required=True,
        help="coordinator, reader, panel or admin (repeatable)",
    )
    user_add.set_defaults(run=_cmd_user_add)
    user_list = user_commands.add_parser("list", help="list users")
    user_list.set_defaults(run=_cmd_user_list)

    imp = commands.add_parser(
        "import",
        help="import DICOM or NIfTI into a case (gate, load, cache, store; all or nothing)",
    )
    imp.add_argument("path", type=Path, metavar="PATH")
    imp.add_argument("--case", required=True, dest="registry_id", metavar="ID")
    imp.add_argument(
        "--day", type=int, help="timepoint day relative to the index date (needed for new studies)"
    )
    imp.add_argument("--policy", type=Path, metavar="TOML", help="de-identification policy file")
    imp.set_defaults(run=_cmd_import)

    deid_check = commands.add_parser(
        "deid-check", help="check files for identifying data (exit 0 clean, 1 found, 2 unreadable)"
    )
    deid_check.add_argument("path", type=Path, metavar="PATH")
    deid_check.add_argument("--policy", type=Path, metavar="TOML", help="policy file")
    deid_check.set_defaults(run=_cmd_deid_check)

    deidentify = commands.add_parser(
        "deidentify", help="write a de-identified copy that passes the gate"
    )
    deidentify.add_argument("input", type=Path, metavar="INPUT")
    deidentify.add_argument("outdir", type=Path, metavar="OUTDIR")
    deidentify.add_argument("--case-id", required=True, metavar="PML-XXXX")
    deidentify.add_argument("--policy", type=Path, metavar="TOML", help="policy file")
    deidentify.set_defaults(run=_cmd_deidentify)

    lesions = commands.add_parser(
        "lesions", help="measure a lesion mask or label map (NIfTI or DICOM SEG)"
    )
    lesions.add_argument("mask", type=Path, metavar="MASK")
    lesions.add_argument("--json", action="store_true", help="print JSON")
    lesions.set_defaults(run=_cmd_lesions)

    import_mask = commands.add_parser(
        "import-mask",
        help="add the lesions of a NIfTI mask or DICOM SEG to your draft read of a case",
    )
    import_mask.add_argument("mask", type=Path, metavar="MASK")
    import_mask.add_argument("--case", required=True, dest="registry_id", metavar="ID")
    import_mask.add_argument(
        "--series", required=True, type=int, dest="series_id", metavar="SERIES_ID"
    )
    import_mask.set_defaults(run=_cmd_import_mask)

    export_seg = commands.add_parser(
        "export-seg",
        help="export a case's lesion masks as DICOM SEG (NIfTI label maps for NIfTI series)",
    )
    export_seg.add_argument("outdir", type=Path, metavar="OUTDIR")
    export_seg.add_argument("--case", required=True, dest="registry_id", metavar="ID")
    export_seg.add_argument("--read", type=int, dest="read_id", metavar="READ_ID")
    export_seg.set_defaults(run=_cmd_export_seg)

    criteria = commands.add_parser(
        "criteria", help="classify cases in a JSON file by the AAN 2013 criteria (rule table)"
    )
    criteria.add_argument("file", type=Path, metavar="FILE.json")
    criteria.set_defaults(run=_cmd_criteria)

    reclassify = commands.add_parser(
        "reclassify", help="re-run the criteria over the registry; report changed categories"
    )
    reclassify.add_argument("--json", action="store_true", help="print every case as JSON")
    reclassify.set_defaults(run=_cmd_reclassify)

    bench = commands.add_parser("bench", help="measure speed against peers, as ratios")
    bench.add_argument("--json", action="store_true", help="print JSON rows")
    bench.add_argument(
        "--slices", type=int, default=176, help="slices of the generated series (default 176)"
    )
    bench.set_defaults(run=_cmd_bench)

    series = commands.add_parser("series", help="imported series")
    series_commands = series.add_subparsers(dest="series_command", metavar="ACTION", required=True)
    set_class = series_commands.add_parser(
        "set-class", help="correct a series' sequence class (the header evidence is kept)"
    )
    set_class.add_argument("series_id", type=int, metavar="SERIES_ID")
    set_class.add_argument(
        "sequence_class", metavar="CLASS", help="T1, T1+Gd, T2, FLAIR, DWI, ADC, SWI or other"
    )
    set_class.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    set_class.set_defaults(run=_cmd_series_set_class)

    convert = commands.add_parser(
        "convert", help="write each volume of a DICOM folder/file or NIfTI as NIfTI + JSON"
    )
    convert.add_argument("input", type=Path, metavar="INPUT")
    convert.add_argument("outdir", type=Path, metavar="OUTDIR")
    convert.set_defaults(run=_cmd_convert)

    db = commands.add_parser("db", help="the registry database")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_upgrade = db_commands.add_parser("upgrade", help="run the schema migrations")
    db_upgrade.set_defaults(run=_cmd_db_upgrade)

    audit = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_commands.add_parser("verify", help="check the hash chain of the audit trail")
    verify.set_defaults(run=_cmd_audit_verify)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.resolve(args.db)


def _open(args: argparse.Namespace, *, upgrade: bool = True) -> Registry:
    from workbench.registry.db import Registry

    return Registry.open(_settings(args).db_url, upgrade_schema=upgrade)


def _actor(args: argparse.Namespace, registry: Registry) -> Actor:
    from workbench.users import default_username, resolve_actor

    with registry.write() as session:
        return resolve_actor(session, (args.user or default_username()).lower())


def _cmd_gui(args: argparse.Namespace) -> int:
    from workbench.ui.app import run
    from workbench.users import default_username

    if (args.layout or args.protocol) and not args.case:
        print("error: --layout and --protocol need --case ID", file=sys.stderr)
        return EXIT_USAGE
    username = (args.user or default_username()).lower()
    return run(
        _settings(args),
        username,
        screenshot=args.screenshot,
        case=args.case,
        layout=args.layout,
        protocol=args.protocol,
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    from workbench.config import DEMO_DB_ALIAS
    from workbench.demo.build import build_demo

    if args.db is None:
        args.db = DEMO_DB_ALIAS
    registry = _open(args)
    try:
        report = build_demo(registry, progress=lambda text: print(text, flush=True))
    finally:
        registry.close()
    print(report.summary())
    if args.no_gui:
        return EXIT_OK
    from workbench.ui.app import run

    return run(_settings(args), report.username, screenshot=args.screenshot, case=None)


def _cmd_cases(args: argparse.Namespace) -> int:
    from workbench.cases import CaseFilter, list_cases
    from workbench.domain import CaseStatus, Condition

    where = CaseFilter(
        status=_choice(CaseStatus, args.status, "--status"),
        site=args.site,
        condition=_choice(Condition, args.condition, "--condition"),
    )
    registry = _open(args)
    with registry.read() as session:
        rows = list_cases(session, where)
    registry.close()
    if args.json:
        print(json.dumps([row.as_json() for row in rows], indent=2))
        return EXIT_OK
    if not rows:
        print("No cases. Add one with 'pml-workbench case add', or run 'pml-workbench demo'.")
        return EXIT_OK
    header = ("registry id", "site", "condition", "timepoints", "series", "labs", "status")
    table = [header] + [
        (
            r.registry_id,
            r.site,
            r.condition.label,
            str(r.timepoints),
            str(r.series),
            str(r.lab_results),
            r.status.label,
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    return EXIT_OK


def _choice(kind: type[E], value: str | None, option: str) -> E | None:
    return None if value is None else coerce_enum(kind, value, option)


def _cmd_case_add(args: argparse.Namespace) -> int:
    from workbench.cases import NewCase, create_case, parse_exposure, parse_feature

    new = NewCase(
        registry_id=args.registry_id,
        site_code=args.site,
        sex=args.sex,
        age_band=args.age_band,
        condition=args.condition,
        condition_detail=args.condition_detail,
        clinical_summary=args.summary,
        clinical_consistent=args.clinical_consistent,
        exposures=tuple(parse_exposure(e) for e in args.exposure),
        clinical_features=tuple(parse_feature(f) for f in args.feature),
        readers_required=args.readers,
    )
    registry = _open(args)
    actor = _actor(args, registry)
    with registry.write() as session:
        case = create_case(session, actor, new)
        print(f"created case {case.registry_id} at site {new.site_code}")
    registry.close()
    return EXIT_OK


def _cmd_case_assign(args: argparse.Namespace) -> int:
    from adjudication.vocabulary import Role
    from workbench.cases import get_case
    from workbench.registry.errors import ValidationError
    from workbench.review_flow import assign

    if not args.reader and not args.panel:
        raise ValidationError("case assign: name at least one --reader or --panel")
    registry = _open(args)
    actor = _actor(args, registry)
    with registry.write() as session:
        if args.reader:
            assign(session, actor, args.registry_id, args.reader, Role.READER)
        if args.panel:
            assign(session, actor, args.registry_id, args.panel, Role.PANEL)
        status = get_case(session, args.registry_id).status.value
    registry.close()
    print(f"{args.registry_id}: assigned; status {status}")
    return EXIT_OK


def _cmd_case_show(args: argparse.Namespace) -> int:
    from workbench.cases import case_snapshot, get_case
    from workbench.studies import describe_geometry

    registry = _open(args)
    with registry.read() as session:
        case = get_case(session, args.registry_id)
        data = case_snapshot(case)
        data["timepoints"] = [
            {
                "day": study.day,
                "series": [
                    {
                        "sequence_class": s.sequence_class.value,
                        "description": s.description,
                        "geometry": describe_geometry(s),
                        "series_instance_uid": s.series_instance_uid,
                    }
                    for s in study.series
                ],
            }
            for study in case.studies
        ]
        data["lab_results"] = [
            {
                "test": r.test.value,
                "day": r.day,
                "result": r.qualitative.value,
                "value": r.value,
                "unit": r.unit,
                "assay": r.assay,
                "lod": r.lod,
                "loq": r.loq,
            }
            for r in case.lab_results
        ]
    registry.close()
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for key, value in data.items():
            print(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return EXIT_OK


def _cmd_labs_import(args: argparse.Namespace) -> int:
    from workbench.labs import import_lab_file

    registry = _open(args)
    actor = _actor(args, registry)
    with registry.write() as session:
        results = import_lab_file(session, actor, args.file)
    registry.close()
    print(f"imported {len(results)} lab result(s) from {args.file}")
    return EXIT_OK


def _cmd_user_add(args: argparse.Namespace) -> int:
    from adjudication.vocabulary import Role
    from workbench.users import add_user

    roles = {_choice(Role, r, "--role") for r in args.role}
    registry = _open(args)
    actor = _actor(args, registry)
    with registry.write() as session:
        add_user(session, args.username, args.name, {r for r in roles if r}, by=actor)
    registry.close()
    print(f"added user {args.username}")
    return EXIT_OK


def _cmd_user_list(args: argparse.Namespace) -> int:
    from workbench.users import list_users

    registry = _open(args)
    with registry.read() as session:
        for user in list_users(session):
            roles = ", ".join(sorted(r.role.value for r in user.roles))
            print(f"{user.username}\t{user.display_name}\t{roles}")
    registry.close()
    return EXIT_OK


def _cmd_import(args: argparse.Namespace) -> int:
    from workbench.importer import default_sandbox, import_path

    registry = _open(args)
    actor = _actor(args, registry)
    settings = _settings(args)
    try:
        result = import_path(
            registry,
            actor,
            args.path,
            args.registry_id,
            day=args.day,
            cache_root=settings.data_dir / "cache",
            policy_path=args.policy,
            progress=lambda text, _fraction: print(f"{text} ...", file=sys.stderr, flush=True),
        )
    finally:
        registry.close()
        default_sandbox().close()
    for volume, series_id in zip(result.volumes, result.series_ids, strict=True):
        shape = "x".join(str(n) for n in volume.shape)
        print(
            f"series #{series_id}: {volume.sequence_class.value:6} {shape:14} {volume.description}"
        )
    print(f"imported {len(result.series_ids)} series into {result.registry_id}")
    return EXIT_OK


def _cmd_deid_check(args: argparse.Namespace) -> int:
    from workbench.deid.commands import deid_check_main

    return deid_check_main(args.path, args.policy, sys.stdout)


def _cmd_deidentify(args: argparse.Namespace) -> int:
    from workbench.config import deid_secret
    from workbench.deid.commands import deidentify_main

    return deidentify_main(
        args.input,
        args.outdir,
        args.case_id,
        args.policy,
        sys.stdout,
        secret=deid_secret(args.case_id),
    )


def _cmd_lesions(args: argparse.Namespace) -> int:
    from workbench.lesions.commands import lesions_main

    return lesions_main(args.mask, args.json, sys.stdout, sys.stderr)


def _cmd_import_mask(args: argparse.Namespace) -> int:
    from workbench.lesions.import_mask import import_mask_into_draft
    from workbench.reads import list_lesions

    registry = _open(args)
    actor = _actor(args, registry)
    try:
        with registry.write() as session:
            read = import_mask_into_draft(
                session, actor, args.registry_id, args.series_id, args.mask
            )
            lesions = [
                x
                for x in list_lesions(session, read.id, actor=actor)
                if x.series_id == args.series_id
            ]
    finally:
        registry.close()
    total = sum(lesion.volume_ml for lesion in lesions)
    print(
        f"draft read #{read.id} of {args.registry_id}: {len(lesions)} lesion(s) on series "
        f"#{args.series_id}, {total:.3f} mL"
    )
    return EXIT_OK


def _cmd_export_seg(args: argparse.Namespace) -> int:
    from workbench.lesions.export import export_seg_main

    registry = _open(args)
    actor = _actor(args, registry)
    try:
        return export_seg_main(
            registry, args.registry_id, args.read_id, args.outdir, sys.stdout, actor=actor
        )
    finally:
        registry.close()


def _cmd_criteria(args: argparse.Namespace) -> int:
    from adjudication.criteria_io import criteria_main

    return criteria_main(args.file, sys.stdout, sys.stderr)


def _cmd_reclassify(args: argparse.Namespace) -> int:
    from workbench.case_criteria import reclassify

    registry = _open(args)
    with registry.read() as session:
        rows = reclassify(session)
    registry.close()
    if args.json:
        print(json.dumps([row.as_json() for row in rows], indent=2, ensure_ascii=False))
        return EXIT_OK
    changed = [row for row in rows if row.changes]
    undecided = [row for row in rows if row.decided is None]
    for row in changed:
        assert row.decided is not None
        print(
            f"{row.registry_id}: decided {row.decided.value}, the criteria now give "
            f"{row.result.certainty.value} ({', '.join(row.result.rows) or 'no row'})"
        )
    print(
        f"{len(rows)} case(s): {len(changed)} would change category, "
        f"{len(undecided)} without a final decision yet"
    )
    return EXIT_OK


def _cmd_bench(args: argparse.Namespace) -> int:
    from workbench.bench import format_table, run_all

    rows = run_all(
        progress=lambda text: print(text, file=sys.stderr, flush=True), slices=args.slices
    )
    if args.json:
        print(json.dumps([row.as_json() for row in rows], indent=2))
    else:
        print(format_table(rows))
    return EXIT_OK


def _cmd_series_set_class(args: argparse.Namespace) -> int:
    from workbench.domain import SequenceClass
    from workbench.studies import correct_sequence_class

    wanted = coerce_enum(SequenceClass, args.sequence_class, "CLASS")
    registry = _open(args)
    actor = _actor(args, registry)
    with registry.write() as session:
        correct_sequence_class(session, actor, args.series_id, wanted, reason=args.reason)
    registry.close()
    print(f"series #{args.series_id} is now {wanted.value}")
    return EXIT_OK


def _cmd_convert(args: argparse.Namespace) -> int:
    from workbench.imaging.convert import convert

    if not args.input.exists():
        from workbench.registry.errors import ValidationError

        raise ValidationError(f"{args.input}: no such file or folder")
    for path in convert(args.input, args.outdir):
        print(path)
    return EXIT_OK


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from workbench.registry.db import schema_revision, upgrade

    registry = _open(args, upgrade=False)
    try:
        ran = upgrade(registry.engine)
        current, _ = schema_revision(registry.engine)
    finally:
        registry.close()
    state = "upgraded to" if ran else "already at"
    print(f"{registry.url}: {state} schema revision {current}")
    return EXIT_OK


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from workbench.registry import audit
    from workbench.registry.models import AuditEvent

    registry = _open(args)
    with registry.read() as session:
        broken = audit.verify(session)
        count = session.scalar(select(func.count()).select_from(AuditEvent))
    registry.close()
    if broken is not None:
        print(f"error: audit event {broken.event_id}: {broken.reason}", file=sys.stderr)
        return EXIT_ERROR
    print(f"audit chain intact: {count} event(s)")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.run
    try:
        return command(args)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted; nothing was saved of the interrupted step", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
