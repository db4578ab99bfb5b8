"""Cases: ``cases`` lists them; ``case add``, ``assign``, ``show`` and ``history``."""

from __future__ import annotations

import argparse
import json

from workbench.cli._common import EXIT_OK, acting_user, choice, iso, open_registry, when
from workbench.display import one_line


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cases`` and ``case`` with its actions."""
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
    _case_fields(add, creating=True)
    add.set_defaults(run=_cmd_case_add)
    edit = case_commands.add_parser(
        "edit",
        help="change a case (audited with a reason)",
        description="Change the fields given; --exposure and --feature replace the case's "
        "lists. The case becomes ready when the change completes it.",
    )
    edit.add_argument("registry_id", metavar="ID")
    edit.add_argument("--reason", required=True, help="why the case is changed (audited)")
    edit.add_argument(
        "--version",
        type=int,
        help="save only if the case is still at this version (as shown by 'case show')",
    )
    _case_fields(edit, creating=False)
    edit.set_defaults(run=_cmd_case_edit)
    ready = case_commands.add_parser(
        "ready",
        help="mark an incomplete case ready for reading",
        description="Mark an incomplete case ready. A case that misses items of the "
        "completeness rules ([readiness] in review.toml) needs --reason, audited with them.",
    )
    ready.add_argument("registry_id", metavar="ID")
    ready.add_argument("--reason", help="why it is ready although it misses items (audited)")
    ready.set_defaults(run=_cmd_case_ready)
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


def _case_fields(parser: argparse.ArgumentParser, *, creating: bool) -> None:
    """The options of a case's fields: required (with defaults) for ``case add``; all
    optional for ``case edit``, where an option not given leaves the field unchanged and
    ``--exposure``/``--feature`` replace the case's lists."""
    replaces = "" if creating else "; the given ones replace the case's"
    parser.add_argument("--sex", help="female, male, other or unknown", required=creating)
    parser.add_argument("--age-band", help="e.g. 40-49 or 80+", required=creating)
    parser.add_argument(
        "--condition",
        help="hiv, ms_natalizumab, other_immunomodulator, transplant, "
        "haematological_malignancy or other",
        required=creating,
    )
    parser.add_argument("--condition-detail", help="e.g. 'Crohn's disease on vedolizumab'")
    parser.add_argument("--summary", help="clinical summary (no names, no dates)")
    if not creating:
        parser.add_argument(
            "--index-event", help="what day 0 is, e.g. 'first MRI suggestive of PML'"
        )
    parser.add_argument(
        "--clinical-consistent",
        default="not_assessed" if creating else None,
        help="clinical features consistent with PML: present, absent or not_assessed",
    )
    parser.add_argument(
        "--exposure",
        action="append",
        metavar="DRUG[:START[:STOP[:INFUSIONS]]]",
        help=f"drug exposure, days relative to the index date (repeatable{replaces})",
        default=[] if creating else None,
    )
    parser.add_argument(
        "--feature",
        action="append",
        metavar="NAME=STATUS[@DAY]",
        help=f"clinical feature, STATUS present/absent/not_assessed (repeatable{replaces})",
        default=[] if creating else None,
    )
    parser.add_argument(
        "--readers",
        type=int,
        default=2 if creating else None,
        help="readers required" + (" (default 2)" if creating else ""),
    )


def _cmd_cases(args: argparse.Namespace) -> int:
    from workbench.domain import CaseStatus, Condition
    from workbench.services import cases
    from workbench.services.cases import CaseFilter

    where = CaseFilter(
        status=choice(CaseStatus, args.status, "--status"),
        site=args.site,
        condition=choice(Condition, args.condition, "--condition"),
    )
    registry = open_registry(args)
    try:
        rows = cases.list_cases(registry, acting_user(args, registry), where)
    finally:
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


def _cmd_case_add(args: argparse.Namespace) -> int:
    from workbench.services import cases
    from workbench.services.cases import NewCase, parse_exposure, parse_feature

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
    registry = open_registry(args)
    try:
        registry_id = cases.create_case(registry, acting_user(args, registry), new)
    finally:
        registry.close()
    print(f"created case {registry_id} at site {new.site_code}")
    return EXIT_OK


def _cmd_case_assign(args: argparse.Namespace) -> int:
    from workbench.errors import ValidationError
    from workbench.services import cases

    if not args.reader and not args.panel:
        raise ValidationError("case assign: name at least one --reader or --panel")
    registry = open_registry(args)
    try:
        status = cases.assign(
            registry,
            acting_user(args, registry),
            args.registry_id,
            readers=args.reader,
            panel=args.panel,
        )
    finally:
        registry.close()
    print(f"{args.registry_id}: assigned; status {status.value}")
    return EXIT_OK


def _cmd_case_edit(args: argparse.Namespace) -> int:
    from workbench.services import cases
    from workbench.services.cases import CaseChanges, parse_exposure, parse_feature

    changes = CaseChanges(
        sex=args.sex,
        age_band=args.age_band,
        condition=args.condition,
        condition_detail=args.condition_detail,
        clinical_summary=args.summary,
        clinical_consistent=args.clinical_consistent,
        index_event=args.index_event,
        readers_required=args.readers,
        exposures=None if args.exposure is None else tuple(map(parse_exposure, args.exposure)),
        clinical_features=None if args.feature is None else tuple(map(parse_feature, args.feature)),
    )
    registry = open_registry(args)
    try:
        actor = acting_user(args, registry)
        edited = cases.edit_case(
            registry, actor, args.registry_id, changes, reason=args.reason, version=args.version
        )
    finally:
        registry.close()
    print(
        f"changed case {args.registry_id} (version {edited.version}); status {edited.status.value}"
    )
    return EXIT_OK


def _cmd_case_ready(args: argparse.Namespace) -> int:
    from workbench.services import cases

    registry = open_registry(args)
    try:
        found = cases.mark_ready(
            registry, acting_user(args, registry), args.registry_id, reason=args.reason
        )
    finally:
        registry.close()
    if found.missing:
        print(f"case {args.registry_id} is ready; overridden: {'; '.join(found.missing)}")
    else:
        print(f"case {args.registry_id} is ready")
    return EXIT_OK


def _cmd_case_show(args: argparse.Namespace) -> int:
    from workbench.services import cases

    registry = open_registry(args)
    try:
        data = cases.case_record(registry, acting_user(args, registry), args.registry_id)
    finally:
        registry.close()
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for key, value in data.items():
            print(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return EXIT_OK


def _cmd_case_history(args: argparse.Namespace) -> int:
    from workbench.services import cases

    registry = open_registry(args)
    try:
        events = cases.case_history(registry, acting_user(args, registry), args.registry_id)
    finally:
        registry.close()
    if args.json:
        rows = [
            {
                "id": e.id,
                "occurred_at": iso(e.occurred_at),
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
        line = f"{when(e.occurred_at)}  {e.actor} ({e.role or '-'})  {e.action}  {e.entity}"
        if e.reason:
            line += f"  reason: {one_line(e.reason)}"
        if e.before is not None or e.after is not None:
            before = json.dumps(e.before, ensure_ascii=False) if e.before is not None else "-"
            after = json.dumps(e.after, ensure_ascii=False) if e.after is not None else "-"
            line += f"  {before} → {after}"
        print(line)
    print(f"{len(events)} event(s)")
    return EXIT_OK
