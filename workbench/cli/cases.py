"""Cases: ``cases`` lists them; ``case add``, ``edit``, ``assign``, ``show``, ``clinical`` and
``history``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from workbench.cli._common import EXIT_OK, acting_user, choice, iso, open_registry, when
from workbench.display import one_line
from workbench.errors import ValidationError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cases`` and ``case`` with its actions."""
    cases = commands.add_parser("cases", help="list cases")
    cases.add_argument("--json", action="store_true", help="print JSON")
    cases.add_argument("--status", help="only cases of this review status")
    cases.add_argument("--site", help="only cases of this site code")
    cases.add_argument("--condition", help="only cases of this underlying condition")
    cases.add_argument("--search", metavar="TEXT", help="only registry ids containing TEXT")
    cases.add_argument(
        "--sort",
        default="registry_id",
        help="order by registry_id, site, condition, status, timepoints, series or labs",
    )
    cases.add_argument("--desc", action="store_true", help="in descending order")
    cases.add_argument(
        "--limit", type=int, metavar="N", help="print at most N cases (default: all, in pages)"
    )
    cases.add_argument("--offset", type=int, default=0, metavar="N", help="skip the first N")
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
        "lists. The case becomes ready when the change completes it. The research clinical "
        "record is changed with --clinical FILE.json (the whole record, as 'case clinical ID "
        "--json' prints it) and/or the clinical options below, which change only the fields "
        "given (merged into the record on file).",
    )
    edit.add_argument("registry_id", metavar="ID")
    edit.add_argument("--reason", required=True, help="why the case is changed (audited)")
    edit.add_argument(
        "--version",
        type=int,
        help="save only if the case is still at this version (as shown by 'case show')",
    )
    _case_fields(edit, creating=False)
    _clinical_fields(edit)
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
    assign.add_argument(
        "--due-days",
        type=int,
        metavar="N",
        help="due N days from now (default: [worklist] in review.toml)",
    )
    assign.add_argument(
        "--suggest",
        action="store_true",
        help="suggest readers: least loaded first, none of the case's own site",
    )
    assign.add_argument("--apply", action="store_true", help="with --suggest: assign them")
    assign.set_defaults(run=_cmd_case_assign)
    show = case_commands.add_parser("show", help="show one case")
    show.add_argument("registry_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(run=_cmd_case_show)
    clinical = case_commands.add_parser("clinical", help="show the case's research clinical record")
    clinical.add_argument("registry_id", metavar="ID")
    clinical.add_argument(
        "--json", action="store_true", help="print the record as JSON (the form --clinical reads)"
    )
    clinical.set_defaults(run=_cmd_case_clinical)
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
        metavar="DRUG[:START[:STOP[:INFUSIONS]]][,KEY=VALUE...]",
        help=f"drug exposure, days relative to the index date (repeatable{replaces}); "
        "after commas: class=CLASS (e.g. anti_integrin, anti_cd20, s1p_modulator, fumarate), "
        "schedule=standard|extended_interval|other, last=DAY (last dose), prior (an earlier "
        "immunosuppressant), e.g. natalizumab:-1100:-20:37,class=anti_integrin,"
        "schedule=extended_interval,last=-25",
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


_CLINICAL_FLAGS = {
    "diagnosis_year": ("--diagnosis-year", "YEAR", "calendar year of the PML diagnosis"),
    "onset_day": ("--onset-day", "DAY", "day of the first PML symptom"),
    "diagnosis_day": ("--diagnosis-day", "DAY", "day of the PML diagnosis"),
    "detection_mode": ("--detection-mode", "MODE", "symptomatic, screening_mri or unknown"),
    "anti_jcv_index": ("--anti-jcv-index", "INDEX", "serum anti-JCV antibody index (number)"),
    "anti_jcv_index_day": ("--anti-jcv-index-day", "DAY", "day of that index"),
    "lymphocytes": ("--lymphocytes", "COUNT", "absolute lymphocyte count, 10^9/L"),
    "lymphocytes_day": ("--lymphocytes-day", "DAY", "day of that count"),
    "cd4_nadir": ("--cd4-nadir", "COUNT", "lowest CD4+ count, cells/uL"),
    "cd4_nadir_day": ("--cd4-nadir-day", "DAY", "day of the CD4 nadir"),
    "iris": ("--iris", "yes|no|unknown", "PML immune reconstitution inflammatory syndrome"),
    "iris_onset_day": ("--iris-onset-day", "DAY", "day IRIS began"),
    "iris_treatment": ("--iris-treatment", "TEXT", "how IRIS was treated"),
    "death_cause": (
        "--death-cause",
        "CAUSE",
        "pml, pml_iris, underlying_condition, other or unknown (needs --outcome died)",
    ),
    "death_cause_detail": ("--death-cause-detail", "TEXT", "what the cause was, in words"),
}
"""The clinical record's single fields that ``case edit`` takes as options: (option, metavar,
help). An empty value (``--onset-day ''``) clears a field."""


def _clinical_fields(parser: argparse.ArgumentParser) -> None:
    """The clinical record's options of ``case edit``."""
    group = parser.add_argument_group(
        "clinical record",
        "days are relative to the index date; the options given change only their fields",
    )
    group.add_argument(
        "--clinical",
        type=Path,
        metavar="FILE.json",
        help="the whole clinical record (as 'case clinical ID --json' prints it)",
    )
    for name, (option, metavar, text) in _CLINICAL_FLAGS.items():
        group.add_argument(option, dest=f"clinical_{name}", metavar=metavar, help=text)
    group.add_argument(
        "--other-condition",
        action="append",
        dest="clinical_other_conditions",
        metavar="CONDITION",
        help="a further predisposing condition, e.g. solid_neoplasm, primary_immunodeficiency, "
        "non_ms_inflammatory (repeatable; the given ones replace the record's; '' clears them)",
    )
    group.add_argument(
        "--outcome", help="alive, died, lost_to_follow_up or unknown (the case's outcome)"
    )
    group.add_argument("--outcome-day", metavar="DAY", help="day of the outcome (e.g. death)")


def _clinical_wanted(args: argparse.Namespace) -> bool:
    given = [getattr(args, f"clinical_{name}") for name in _CLINICAL_FLAGS]
    given += [args.clinical, args.clinical_other_conditions, args.outcome, args.outcome_day]
    return any(value is not None for value in given)


def _read_clinical_file(path: Path) -> dict[str, Any]:
    from workbench.errors import ValidationError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(f"{path}: no such file", field="clinical") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationError(f"{path}: cannot be read: {error}", field="clinical") from None
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"{path}: not JSON ({error.msg} at line {error.lineno}, column {error.colno})",
            field="clinical",
        ) from None
    if not isinstance(data, dict):
        raise ValidationError(
            f"{path}: expected a JSON object (the clinical record), not {type(data).__name__}",
            field="clinical",
        )
    return data


def _clinical_changes(args: argparse.Namespace, current: Any) -> tuple[Any, Any]:
    """``(record, outcome)``: the record on file (``current``, a ClinicalView) with the file
    and options given applied, and the case's outcome to set (or ``None``), all validated."""
    from workbench.clinical import ClinicalRecord
    from workbench.errors import ValidationError
    from workbench.services.clinical import CaseOutcome

    data = current.record.as_json()
    if args.clinical is not None:
        data = _read_clinical_file(args.clinical)
        try:
            ClinicalRecord.from_json(data)
        except ValidationError as error:
            raise ValidationError(f"{args.clinical}: {error}", field=error.field) from None
    for name in _CLINICAL_FLAGS:
        value = getattr(args, f"clinical_{name}")
        if value is not None:
            data[name] = value
    if args.clinical_other_conditions is not None:
        data["other_conditions"] = [c for c in args.clinical_other_conditions if c.strip()]
    try:
        record = ClinicalRecord.from_json(data)
    except ValidationError as error:
        name = (error.field or "").replace(" ", "_").replace("-", "_").lower()
        option = _CLINICAL_FLAGS.get(name, ("--other-condition",) if "condition" in name else "")
        where = f" (option {option[0]})" if option else ""
        raise ValidationError(f"{error}{where}", field=error.field) from None
    outcome = None
    if args.outcome is not None or args.outcome_day is not None:
        day = current.outcome_day if args.outcome_day is None else args.outcome_day
        if isinstance(day, str):
            try:
                day = int(day) if day.strip() else None
            except ValueError:
                raise ValidationError(
                    f"outcome day: {day!r} is not a whole number", field="outcome day"
                ) from None
        outcome = CaseOutcome(args.outcome or current.outcome, day)
    return record, outcome


def _cmd_cases(args: argparse.Namespace) -> int:
    from workbench.domain import CaseStatus, Condition
    from workbench.services import cases
    from workbench.services.cases import (
        MAX_PAGE,
        CaseFilter,
        CaseListQuery,
        CaseSummary,
        SortKey,
    )

    query = CaseListQuery(
        CaseFilter(
            status=choice(CaseStatus, args.status, "--status"),
            site=args.site,
            condition=choice(Condition, args.condition, "--condition"),
            text=args.search,
        ),
        sort=choice(SortKey, args.sort, "--sort") or SortKey.REGISTRY_ID,
        descending=args.desc,
    )
    if (args.limit is not None and args.limit < 0) or args.offset < 0:
        raise ValidationError("--limit and --offset: must not be negative", field="--limit")
    registry = open_registry(args)
    try:
        actor = acting_user(args, registry)
        rows: list[CaseSummary] = []
        offset = args.offset
        # Page through the database (the same query the window runs), never one huge read.
        while args.limit is None or len(rows) < args.limit:
            want = MAX_PAGE if args.limit is None else min(MAX_PAGE, args.limit - len(rows))
            page = cases.list_page(registry, actor, query, offset=offset, limit=want, counts=False)
            rows.extend(page.rows)
            offset += len(page.rows)
            if len(page.rows) < want or offset >= page.matching:
                break
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
            r.status.label + (" !" if r.criteria_flag else ""),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    flagged = [r for r in rows if r.criteria_flag]
    if flagged:
        print(f"\n! the criteria no longer give the final decision of {len(flagged)} case(s):")
        for r in flagged:
            print(f"  {r.registry_id}: {r.criteria_flag}")
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

    if args.suggest:
        from workbench.cli.worklist import run_suggestion

        return run_suggestion(args)
    if args.apply:
        raise ValidationError("case assign: --apply assigns what --suggest suggests; add --suggest")
    if not args.reader and not args.panel:
        raise ValidationError("case assign: name at least one --reader or --panel, or --suggest")
    registry = open_registry(args)
    try:
        status = cases.assign(
            registry,
            acting_user(args, registry),
            args.registry_id,
            readers=args.reader,
            panel=args.panel,
            due_days=args.due_days,
        )
    finally:
        registry.close()
    print(f"{args.registry_id}: assigned; status {status.value}")
    return EXIT_OK


def _cmd_case_edit(args: argparse.Namespace) -> int:
    from workbench.services import cases, clinical
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
    wants_clinical = _clinical_wanted(args)
    registry = open_registry(args)
    try:
        actor = acting_user(args, registry)
        record = outcome = None
        if wants_clinical:
            # Everything is validated before anything is written.
            current = clinical.clinical_record(registry, actor, args.registry_id)
            if args.version is not None and args.version != current.version:
                from workbench.errors import ConflictError

                raise ConflictError(
                    f"case {args.registry_id} was changed by someone else since you opened it "
                    f"(version {args.version}, now {current.version}); nothing was saved"
                )
            record, outcome = _clinical_changes(args, current)
        status = None
        if record is not None:  # the case's fields and its record in one transaction
            version = clinical.set_clinical_record(
                registry,
                actor,
                args.registry_id,
                record,
                reason=args.reason,
                version=current.version,
                outcome=outcome,
                case_changes=changes if changes.as_changes() else None,
            )
        else:
            edited = cases.edit_case(
                registry, actor, args.registry_id, changes, reason=args.reason, version=args.version
            )
            version, status = edited.version, edited.status
    finally:
        registry.close()
    done = f"changed case {args.registry_id} (version {version})"
    print(done + (f"; status {status.value}" if status is not None else ""))
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


def _cmd_case_clinical(args: argparse.Namespace) -> int:
    from workbench.services import clinical

    registry = open_registry(args)
    try:
        view = clinical.clinical_record(registry, acting_user(args, registry), args.registry_id)
    finally:
        registry.close()
    if args.json:
        print(json.dumps(view.record.as_json(), indent=2, ensure_ascii=False))
        return EXIT_OK
    for line in clinical_lines(view):
        print(line)
    return EXIT_OK


def clinical_lines(view: Any) -> list[str]:
    """A clinical record (a ClinicalView) as lines of text, unknown fields left out."""
    from workbench.display import format_day

    record = view.record
    lines = [f"{view.registry_id} (version {view.version})"]

    def add(label: str, value: object) -> None:
        if value not in (None, "", (), "unknown"):
            lines.append(f"  {label}: {value}")

    def day(value: int | None) -> str | None:
        return None if value is None else f"day {format_day(value)}"

    def with_day(value: float | int | None, when: int | None) -> str | None:
        if value is None:
            return None
        text = f"{value:g}" if isinstance(value, float) else str(value)
        return text + (f" ({day(when)})" if when is not None else "")

    add("diagnosis year", record.diagnosis_year)
    add("symptom onset", day(record.onset_day))
    add("diagnosis", day(record.diagnosis_day))
    add("detection", record.detection_mode.value.replace("_", " "))
    add("other conditions", ", ".join(c.label for c in record.other_conditions))
    add("anti-JCV index", with_day(record.anti_jcv_index, record.anti_jcv_index_day))
    add("lymphocytes (10^9/L)", with_day(record.lymphocytes, record.lymphocytes_day))
    add("CD4 nadir (cells/uL)", with_day(record.cd4_nadir, record.cd4_nadir_day))
    for h in record.histopathology:
        parts = [
            f"demyelination {h.demyelination.value}",
            f"bizarre astrocytes {h.bizarre_astrocytes.value}",
            f"enlarged oligodendroglial nuclei {h.enlarged_oligodendroglial_nuclei.value}",
            f"tissue JCV {h.tissue_jcv.value.replace('_', ' ')}",
        ]
        how = "/".join(t.value.upper() for t in h.techniques)
        lines.append(
            f"  {h.kind.value} ({day(h.day) or 'day unknown'}): triad {h.triad}; "
            + ", ".join(parts)
            + (f" by {how}" if how else "")
        )
    for t in record.treatments:
        span = " to ".join(filter(None, (day(t.start_day), day(t.stop_day))))
        text = t.kind.value.replace("_", " ") + (f" ({t.detail})" if t.detail else "")
        lines.append(f"  treatment: {text}" + (f", {span}" if span else ""))
    if record.iris.value != "unknown":
        iris = record.iris.value
        if record.iris_onset_day is not None:
            iris += f", onset {day(record.iris_onset_day)}"
        if record.iris_treatment:
            iris += f", treated with {record.iris_treatment}"
        add("PML-IRIS", iris)
    outcome = view.outcome.value.replace("_", " ")
    if view.outcome_day is not None:
        outcome += f" ({day(view.outcome_day)})"
    if record.death_cause is not None:
        outcome += f", cause {record.death_cause.value.replace('_', ' ')}"
        if record.death_cause_detail:
            outcome += f": {record.death_cause_detail}"
    add("outcome", outcome)
    for s in record.scores:
        lines.append(f"  {s.scale.value.upper()} {s.time.value.replace('_', ' ')}: {s.value:g}")
    if len(lines) == 1:
        lines.append("  no clinical record yet ('case edit ID --clinical FILE.json' adds one)")
    return lines


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
