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

from adjudication.vocabulary import Certainty, ImagingJudgement, Pathway
from workbench import __version__
from workbench.config import DB_ENV, USER_ENV, Settings
from workbench.domain import E, coerce_enum
from workbench.registry.errors import RegistryError

if TYPE_CHECKING:
    from workbench.panel import DecisionView
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
    gui.add_argument(
        "--tab",
        choices=("imaging", "labs", "clinical", "review", "history"),
        help="show this tab of the case page (needs --case)",
    )
    gui.add_argument(
        "--panel", action="store_true", help="open the panel's page of the case (needs --case)"
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
    history = case_commands.add_parser(
        "history", help="the case's audit events (blinded like the data)"
    )
    history.add_argument("registry_id", metavar="ID")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(run=_cmd_case_history)

    read = commands.add_parser("read", help="your reads: submit, correct, list (blinded)")
    read_commands = read.add_subparsers(dest="read_command", metavar="ACTION", required=True)
    read_submit = read_commands.add_parser(
        "submit", help="submit your open draft read of a case (its lesions are kept)"
    )
    read_submit.add_argument("registry_id", metavar="ID")
    read_submit.add_argument(
        "--judgement",
        required=True,
        choices=[j.value for j in ImagingJudgement],
        help="is the imaging consistent with PML",
    )
    read_submit.add_argument(
        "--confidence", type=int, metavar="N", help="1 (very unsure) to 5 (certain)"
    )
    read_submit.add_argument("--comment", metavar="TEXT", help="free-text comment")
    read_submit.set_defaults(run=_cmd_read_submit)
    read_correct = read_commands.add_parser(
        "correct", help="open a correction of your submitted read (a new version)"
    )
    read_correct.add_argument("read_id", type=int, metavar="READ_ID")
    read_correct.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    read_correct.set_defaults(run=_cmd_read_correct)
    read_list = read_commands.add_parser("list", help="the reads of a case you may see")
    read_list.add_argument("registry_id", metavar="ID")
    read_list.add_argument("--json", action="store_true", help="print JSON")
    read_list.set_defaults(run=_cmd_read_list)

    decision = commands.add_parser("decision", help="the panel's decisions: propose, sign, list")
    decision_commands = decision.add_subparsers(
        dest="decision_command", metavar="ACTION", required=True
    )
    propose = decision_commands.add_parser("propose", help="propose the panel's decision")
    propose.add_argument("registry_id", metavar="ID")
    propose.add_argument(
        "--certainty", required=True, choices=[c.value for c in Certainty], help="AAN 2013"
    )
    propose.add_argument(
        "--pathway", choices=[p.value for p in Pathway], help="needed for a PML category"
    )
    propose.add_argument(
        "--rationale",
        metavar="TEXT",
        help="why (required where the decision differs from the engine or reads were discordant)",
    )
    propose.add_argument(
        "--alternative", metavar="TEXT", help="a diagnosis that better explains the findings"
    )
    propose.add_argument(
        "--change-reason", metavar="TEXT", help="why a final decision is changed (required then)"
    )
    propose.add_argument(
        "--replaces", type=int, metavar="ID", help="the pending decision this proposal replaces"
    )
    propose.set_defaults(run=_cmd_decision_propose)
    sign = decision_commands.add_parser(
        "sign", help="sign a pending decision (asks for your password again)"
    )
    sign.add_argument("decision_id", type=int, metavar="DECISION_ID")
    sign.add_argument("--meaning", metavar="TEXT", help="what your signature means")
    sign.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    sign.set_defaults(run=_cmd_decision_sign)
    decision_list = decision_commands.add_parser("list", help="the decisions on a case")
    decision_list.add_argument("registry_id", metavar="ID")
    decision_list.add_argument("--json", action="store_true", help="print JSON")
    decision_list.set_defaults(run=_cmd_decision_list)

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
    user_add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the user's password (one line) from standard input",
    )
    user_add.set_defaults(run=_cmd_user_add)
    passwd = user_commands.add_parser(
        "passwd", help="set your password (an admin or coordinator may set another user's)"
    )
    passwd.add_argument("username", nargs="?", metavar="USERNAME", help="default: yourself")
    passwd.add_argument(
        "--password-stdin", action="store_true", help="read the password (one line) from stdin"
    )
    passwd.set_defaults(run=_cmd_user_passwd)
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

    config = commands.add_parser("config", help="the review configuration")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_show = config_commands.add_parser(
        "show", help="print the review configuration in force and the file it came from"
    )
    config_show.add_argument("--json", action="store_true", help="print JSON")
    config_show.set_defaults(run=_cmd_config_show)
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

    if (args.layout or args.protocol or args.tab or args.panel) and not args.case:
        print("error: --layout, --protocol, --tab and --panel need --case ID", file=sys.stderr)
        return EXIT_USAGE
    if args.panel and (args.layout or args.protocol):
        print("error: --panel opens the panel's page, not the images", file=sys.stderr)
        return EXIT_USAGE
    username = (args.user or default_username()).lower()
    return run(
        _settings(args),
        username,
        screenshot=args.screenshot,
        case=args.case,
        layout=args.layout,
        protocol=args.protocol,
        tab=args.tab,
        panel=args.panel,
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
    from workbench.users import add_user, set_password

    roles = {_choice(Role, r, "--role") for r in args.role}
    password = _read_line("password") if args.password_stdin else None
    registry = _open(args)
    actor = _actor(args, registry)
    with registry.write() as session:
        add_user(session, args.username, args.name, {r for r in roles if r}, by=actor)
        if password is not None:
            # Through set_password, so the length rule holds and the setting is audited; a
            # refused password leaves no user behind either (one transaction).
            set_password(session, actor, args.username, password)
    registry.close()
    print(f"added user {args.username}" + (" with a password" if password is not None else ""))
    return EXIT_OK


def _read_line(what: str) -> str:
    """One line of standard input (for ``--password-stdin``), without its line ending."""
    from workbench.registry.errors import ValidationError

    line = sys.stdin.readline()
    text = line.removesuffix("\n").removesuffix("\r")
    if not text:
        raise ValidationError(f"--password-stdin: no {what} on standard input")
    return text


def _ask_password(prompt: str, *, twice: bool) -> str:
    """A password typed on the terminal (not echoed); asked twice when it is a new one."""
    import getpass

    from workbench.registry.errors import ValidationError

    first = getpass.getpass(prompt)
    if twice and getpass.getpass("Type it again: ") != first:
        raise ValidationError("password: the two entries differ; nothing was changed")
    return first


def _cmd_user_passwd(args: argparse.Namespace) -> int:
    from adjudication.vocabulary import Role
    from workbench.registry.errors import NotFoundError
    from workbench.users import list_users, set_password

    registry = _open(args)
    try:
        actor = _actor(args, registry)
        username = (args.username or actor.username).lower()
        # Refuse before asking for a password (set_password checks all of this again).
        if username != actor.username:
            actor.require(Role.ADMIN, Role.COORDINATOR, action=f"set the password of {username!r}")
        with registry.read() as session:
            if username not in {u.username for u in list_users(session)}:
                raise NotFoundError(f"user {username!r} is not known to this registry")
        if args.password_stdin:
            password = _read_line("password")
        else:
            password = _ask_password(f"New password for {username}: ", twice=True)
        with registry.write() as session:
            set_password(session, actor, username, password)
    finally:
        registry.close()
    print(f"password of {username} set")
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
    actor = _actor(args, registry)
    with registry.read() as session:
        rows = reclassify(session, actor)
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


def _when(moment: object) -> str | None:
    """A stored UTC time as ``2026-11-24 09:14:03 UTC`` (``None`` stays ``None``)."""
    import datetime as dt

    if not isinstance(moment, dt.datetime):
        return None
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _iso(moment: object) -> str | None:
    """A stored UTC time as ISO 8601 with ``Z`` (for JSON)."""
    import datetime as dt

    if not isinstance(moment, dt.datetime):
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _cmd_read_submit(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from adjudication.lesions import Hemisphere, Location
    from adjudication.vocabulary import ReadStatus
    from workbench.reads import (
        LesionDetails,
        LesionDraft,
        all_reads_in,
        assigned_reader_ids,
        list_lesions,
        load_draft_labels,
        save_draft,
    )
    from workbench.registry.errors import NotFoundError, ValidationError
    from workbench.registry.models import Case, Read, User
    from workbench.review_config import load_review_config
    from workbench.review_flow import submit

    config = load_review_config()  # a bad configuration file stops us before any write
    registry = _open(args)
    try:
        actor = _actor(args, registry)
        with registry.write() as session:
            case = session.scalars(select(Case).where(Case.registry_id == args.registry_id)).first()
            if case is None:
                raise NotFoundError(f"no case {args.registry_id!r} in this registry")
            draft = session.scalars(
                select(Read)
                .join(User, User.id == Read.reader_id)
                .where(
                    Read.case_id == case.id,
                    User.username == actor.username,
                    Read.status == ReadStatus.DRAFT,
                )
                .order_by(Read.revision.desc(), Read.id.desc())
            ).first()
            if draft is None:
                raise ValidationError(
                    f"case {args.registry_id}: user {actor.username!r} has no open draft read of "
                    "it; mark the lesions in the window (or with 'pml-workbench import-mask'), "
                    "then submit"
                )
            # save_draft replaces the whole draft: hand its lesions back as they are stored.
            lesions = list_lesions(session, draft.id, actor=actor)
            drafts = [
                LesionDraft(
                    series_id,
                    load_draft_labels(session, draft.id, series_id, actor=actor),
                    {
                        x.label: LesionDetails(
                            Hemisphere(x.hemisphere) if x.hemisphere else None,
                            Location(x.location) if x.location else None,
                            x.features,
                        )
                        for x in lesions
                        if x.series_id == series_id
                    },
                )
                for series_id in sorted({x.series_id for x in lesions})
            ]
            saved = save_draft(
                session,
                actor,
                draft.id,
                draft.version,
                lesions=drafts,
                judgement=args.judgement,
                confidence=args.confidence if args.confidence is not None else draft.confidence,
                comment=args.comment if args.comment is not None else draft.comment,
                features=dict(draft.features or {}),
            )
            read, result = submit(session, actor, saved.id, saved.version, config=config)
            assigned = assigned_reader_ids(session, case.id)
            submitted = assigned & set(
                session.scalars(
                    select(Read.reader_id).where(
                        Read.case_id == case.id, Read.status == ReadStatus.SUBMITTED
                    )
                )
            )
            complete = all_reads_in(session, case.id)
            status = case.status
            total = sum(x.volume_ml for x in lesions)
    finally:
        registry.close()
    what = "correction" if read.supersedes_id is not None else "read"
    print(
        f"submitted {what} #{read.id} of {args.registry_id} (revision {read.revision}): "
        f"{args.judgement}, {len(lesions)} lesion(s), {total:.2f} mL"
    )
    if result is not None:
        verdict = (
            f"discordant ({', '.join(result.fired)})"
            if result.discordant
            else "concordant, the case goes to the panel"
        )
        print(f"{args.registry_id}: all reads in: {verdict}; status {status.value}")
    elif complete:
        print(f"{args.registry_id}: all reads in; status {status.value}")
    else:
        print(
            f"{args.registry_id}: {len(submitted)} of {len(assigned)} assigned read(s) in; "
            f"status {status.value}"
        )
    return EXIT_OK


def _cmd_read_correct(args: argparse.Namespace) -> int:
    from workbench.review_flow import start_correction

    registry = _open(args)
    try:
        actor = _actor(args, registry)
        with registry.write() as session:
            draft = start_correction(session, actor, args.read_id, args.reason)
            draft_id, revision = draft.id, draft.revision
    finally:
        registry.close()
    print(
        f"correction of read #{args.read_id} opened as draft read #{draft_id} "
        f"(revision {revision}); read #{args.read_id} stays in force until it is submitted "
        "('pml-workbench read submit')"
    )
    return EXIT_OK


def _cmd_read_list(args: argparse.Namespace) -> int:
    from workbench.review_flow import reads_of_case

    registry = _open(args)
    try:
        actor = _actor(args, registry)
        with registry.read() as session:
            views = reads_of_case(session, actor, args.registry_id)
    finally:
        registry.close()
    rows = [
        {
            "id": v.id,
            "reader": v.reader,
            "revision": v.revision,
            "status": v.status.value,
            "submitted_at": _iso(v.submitted_at),
            "blinded": v.blinded,
            "judgement": v.judgement,
            "confidence": v.confidence,
            "comment": v.comment,
            "lesions": None if v.blinded else len(v.lesions),
            "total_ml": None if v.blinded else round(sum(x.volume_ml for x in v.lesions), 3),
        }
        for v in views
    ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print(f"{args.registry_id}: no reads yet")
    for row in rows:
        head = f"read #{row['id']}  {row['reader']}  rev {row['revision']}  {row['status']}"
        if row["blinded"]:
            print(f"{head}  (blinded until every assigned reader has submitted)")
            continue
        confidence = f", confidence {row['confidence']}" if row["confidence"] else ""
        print(
            f"{head}  judgement {row['judgement'] or '-'}{confidence}  "
            f"{row['lesions']} lesion(s), {row['total_ml']:.2f} mL"
        )
        if row["comment"]:
            print(f"    comment: {row['comment']}")
    return EXIT_OK


def _decision_json(view: DecisionView) -> dict[str, object]:
    return {
        "id": view.id,
        "version": view.version,
        "case": view.registry_id,
        "state": view.state.value,
        "certainty": view.certainty.value,
        "pathway": view.pathway.value if view.pathway else None,
        "rationale": view.rationale,
        "alternative_diagnosis": view.alternative_diagnosis,
        "change_reason": view.change_reason,
        "supersedes": view.supersedes_id,
        "engine_version": view.engine_version,
        "engine_certainty": view.engine_certainty.value if view.engine_certainty else None,
        "differs_from_engine": view.differs_from_engine,
        "proposed_by": view.proposed_by,
        "created_at": _iso(view.created_at),
        "signatures_required": view.signatures_required,
        "signatures": [
            {
                "username": s.username,
                "printed_name": s.printed_name,
                "meaning": s.meaning,
                "signed_at": _iso(s.signed_at),
            }
            for s in view.signatures
        ],
        "manifest": [s.manifest() for s in view.signatures],
    }


def _cmd_decision_propose(args: argparse.Namespace) -> int:
    from adjudication.consensus import Proposal
    from workbench.panel import DecisionState, decisions_of_case, propose_decision
    from workbench.registry.errors import ValidationError
    from workbench.review_config import load_review_config

    config = load_review_config()
    proposal = Proposal(
        certainty=Certainty(args.certainty),
        pathway=Pathway(args.pathway) if args.pathway else None,
        rationale=args.rationale,
        alternative_diagnosis=args.alternative,
    )
    registry = _open(args)
    try:
        actor = _actor(args, registry)
        with registry.write() as session:
            pending = [
                d.id
                for d in decisions_of_case(session, actor, args.registry_id, config)
                if d.state is DecisionState.PENDING
            ]
            if pending and args.replaces is None:
                # Without this, propose_decision would report a concurrent proposal.
                raise ValidationError(
                    f"case {args.registry_id}: decision {pending[-1]} is pending signatures; "
                    f"to replace it, name it with --replaces {pending[-1]} (its signatures stay "
                    "on record)"
                )
            decision = propose_decision(
                session,
                actor,
                args.registry_id,
                proposal,
                replaces=args.replaces,
                change_reason=args.change_reason,
            )
            engine = (decision.engine_result or {}).get("certainty")
            decision_id, ruleset = decision.id, decision.engine_version
            change = decision.change_reason is not None
    finally:
        registry.close()
    pathway = f" ({args.pathway} pathway)" if args.pathway else ""
    print(
        f"{'change ' if change else ''}proposed decision #{decision_id} for {args.registry_id}: "
        f"{args.certainty}{pathway}; criteria engine {ruleset}: {engine}"
    )
    print(
        f"it is final once {config.signatures_required} panel member(s) sign it: "
        f"pml-workbench decision sign {decision_id}"
    )
    return EXIT_OK


def _cmd_decision_sign(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from workbench.panel import sign
    from workbench.registry.errors import NotFoundError
    from workbench.registry.models import Adjudication, Case, User
    from workbench.review_config import load_review_config

    config = load_review_config()
    registry = _open(args)
    try:
        actor = _actor(args, registry)
        with registry.read() as session:  # say which decision before asking for a password
            registry_id = session.scalar(
                select(Case.registry_id)
                .join(Adjudication, Adjudication.case_id == Case.id)
                .where(Adjudication.id == args.decision_id)
            )
        if registry_id is None:
            raise NotFoundError(f"no decision {args.decision_id} in this registry")
        if args.password_stdin:
            password = _read_line("password")
        else:
            password = _ask_password(
                f"Password of {actor.username} to sign decision {args.decision_id} "
                f"of {registry_id}: ",
                twice=False,
            )
        # A wrong password is refused and, in a transaction of its own, audited.
        sign(registry, actor, args.decision_id, password, meaning=args.meaning, config=config)
        with registry.read() as session:
            decision = session.get(Adjudication, args.decision_id)
            assert decision is not None
            user_id = session.scalar(select(User.id).where(User.username == actor.username))
            signed = next(s for s in decision.signatures if s.user_id == user_id)
            printed, meaning = signed.printed_name, signed.meaning
            count, final = len(decision.signatures), decision.is_final
    finally:
        registry.close()
    print(
        f"signed decision #{args.decision_id} of {registry_id}: {printed} — {meaning} "
        f"({count} of {config.signatures_required} signature(s))"
    )
    if final:
        print(f"decision #{args.decision_id} is final; case {registry_id} is final")
    return EXIT_OK


def _cmd_decision_list(args: argparse.Namespace) -> int:
    from workbench.panel import decisions_of_case
    from workbench.review_config import load_review_config

    config = load_review_config()
    registry = _open(args)
    try:
        actor = _actor(args, registry)
        with registry.read() as session:
            views = decisions_of_case(session, actor, args.registry_id, config)
    finally:
        registry.close()
    if args.json:
        print(json.dumps([_decision_json(v) for v in views], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not views:
        print(f"{args.registry_id}: no panel decision yet")
    for v in views:
        pathway = f", {v.pathway.value} pathway" if v.pathway else ""
        print(f"decision #{v.id}  {v.state.value}  {v.certainty.value}{pathway}")
        print(f"    proposed by {v.proposed_by} at {_when(v.created_at)}")
        engine = v.engine_certainty.value if v.engine_certainty else "not recorded"
        differs = " (the panel decided otherwise)" if v.differs_from_engine else ""
        print(f"    criteria engine {v.engine_version} at the time: {engine}{differs}")
        for label, text in (
            ("rationale", v.rationale),
            ("alternative diagnosis", v.alternative_diagnosis),
            ("change reason", v.change_reason),
        ):
            if text:
                print(f"    {label}: {text}")
        if v.supersedes_id is not None:
            print(f"    replaces decision #{v.supersedes_id}")
        print(f"    signatures ({len(v.signatures)} of {v.signatures_required}):")
        for signature in v.signatures:
            print(f"      {signature.manifest()}")
    return EXIT_OK


def _cmd_case_history(args: argparse.Namespace) -> int:
    from workbench.panel import case_history

    registry = _open(args)
    try:
        actor = _actor(args, registry)
        with registry.read() as session:
            events = case_history(session, actor, args.registry_id)
    finally:
        registry.close()
    if args.json:
        rows = [
            {
                "id": e.id,
                "occurred_at": _iso(e.occurred_at),
                "actor": e.actor,
                "role": e.role,
                "action": e.action,
                "entity": e.entity,
                "reason": e.reason,
                "before": e.before,
                "after": e.after,
            }
            for e in events
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    for e in events:
        line = f"{_when(e.occurred_at)}  {e.actor} ({e.role or '-'})  {e.action}  {e.entity}"
        if e.reason:
            line += f"  reason: {e.reason}"
        if e.before is not None or e.after is not None:
            before = json.dumps(e.before, ensure_ascii=False) if e.before is not None else "-"
            after = json.dumps(e.after, ensure_ascii=False) if e.after is not None else "-"
            line += f"  {before} → {after}"
        print(line)
    print(f"{len(events)} event(s)")
    return EXIT_OK


def _cmd_config_show(args: argparse.Namespace) -> int:
    from workbench.review_config import REVIEW_CONFIG_ENV, config_path, load_review_config

    config = load_review_config()
    data = config.as_dict()
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_OK
    if config.source is None:
        print(
            f"review configuration: built-in defaults (no file at {config_path()}; "
            f"set ${REVIEW_CONFIG_ENV} to name another)"
        )
    else:
        print(f"review configuration: {config.source}")
    for section in ("discordance", "signatures"):
        print(f"[{section}]")
        for key, value in data[section].items():
            print(f"{key} = {json.dumps(value, ensure_ascii=False)}")
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
