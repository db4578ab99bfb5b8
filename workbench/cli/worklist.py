"""Worklists: ``queue`` (my own open work), ``dashboard`` (coordinators) and the suggestion
that ``case assign ID --suggest [--apply]`` prints and applies."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workbench.cli._common import EXIT_OK, acting_user, open_registry
from workbench.display import one_line

if TYPE_CHECKING:
    from workbench.services.worklist import AssignmentSuggestion, QueueItem


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``queue`` and ``dashboard``."""
    queue = commands.add_parser(
        "queue",
        help="my queue: the cases waiting for me, most urgent first",
        description="Your own open work: as reader, the cases assigned to you whose read is "
        "not submitted; as panel member, the cases waiting for the panel's decision or your "
        "signature. Overdue items are marked.",
    )
    queue.add_argument("--json", action="store_true", help="print JSON")
    queue.set_defaults(run=_cmd_queue)
    board = commands.add_parser(
        "dashboard",
        help="the review dashboard: cases by status, reader and site (coordinators)",
    )
    board.add_argument("--json", action="store_true", help="print JSON")
    board.set_defaults(run=_cmd_dashboard)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> None:
    table = [tuple(header), *(tuple(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        text = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        print(indent + text.rstrip())


def _due(item: QueueItem, now: dt.datetime) -> tuple[str, str]:
    """``(due date, remark)`` of a queue item: ``OVERDUE 3 d`` or ``in 5 d``."""
    if item.due_at is None:
        return "-", ""
    days = item.days_left(now)
    assert days is not None
    if item.overdue:
        return f"{item.due_at:%Y-%m-%d}", f"OVERDUE {max(-days, 0)} d"
    return f"{item.due_at:%Y-%m-%d}", "today" if days == 0 else f"in {days} d"


def _cmd_queue(args: argparse.Namespace) -> int:
    from workbench.services import worklist

    registry = open_registry(args)
    try:
        queue = worklist.my_queue(registry, acting_user(args, registry))
    finally:
        registry.close()
    if args.json:
        print(json.dumps(queue.as_json(), indent=2))
        return EXIT_OK
    print(f"My queue ({queue.username}): {queue.summary()}")
    if not queue.items:
        print("Nothing waits for you.")
        return EXIT_OK
    rows = []
    for item in queue.items:
        due, remark = _due(item, queue.as_of)
        rows.append(
            (
                item.registry_id,
                item.site,
                item.role.value,
                item.state.label,
                item.status.label,
                due,
                remark,
            )
        )
    _table(("registry id", "site", "role", "state", "status", "due", ""), rows)
    return EXIT_OK


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from workbench.domain import CaseStatus
    from workbench.services import worklist

    registry = open_registry(args)
    try:
        board = worklist.dashboard(registry, acting_user(args, registry))
    finally:
        registry.close()
    if args.json:
        print(json.dumps(board.as_json(), indent=2))
        return EXIT_OK
    print(
        f"Review dashboard, {board.as_of:%Y-%m-%d %H:%M} UTC: {board.total} case(s), "
        f"{board.open_reads} open read(s), {board.overdue} overdue"
    )
    print("\nCases by status")
    _table(("status", "cases"), [(s.label, str(n)) for s, n in board.by_status.items()], "  ")
    print("\nReaders")
    if board.readers:
        _table(
            ("reader", "site", "open", "overdue", "submitted", "median days"),
            [
                (
                    r.username + ("" if r.active else " (inactive)"),
                    r.site or "-",
                    str(r.open_reads),
                    str(r.overdue),
                    str(r.submitted),
                    "-" if r.median_turnaround_days is None else f"{r.median_turnaround_days:.1f}",
                )
                for r in board.readers
            ],
            "  ",
        )
    else:
        print("  No user holds the reader role.")
    print("\nSites")
    statuses = list(CaseStatus)
    _table(
        ("site", "readers", *(s.label for s in statuses), "total"),
        [
            (
                s.site,
                str(s.readers),
                *(str(s.by_status.get(status, 0)) for status in statuses),
                str(s.total),
            )
            for s in board.sites
        ],
        "  ",
    )
    return EXIT_OK


def print_suggestion(suggestion: AssignmentSuggestion) -> None:
    """The suggestion as ``case assign --suggest`` prints it."""
    s = suggestion
    print(
        f"{s.registry_id} (site {s.site}, {s.status.label}): {s.readers_assigned} of "
        f"{s.readers_required} reader(s) assigned, {s.needed} needed"
    )
    print("suggested: " + (", ".join(s.suggested) if s.suggested else "nobody"))
    if s.note:
        print(f"note: {s.note}")
    if s.ranking:
        print("active readers, least loaded first:")
        _table(
            ("reader", "site", "open", "overdue", ""),
            [
                (
                    r.username,
                    r.site or "-",
                    str(r.open_reads),
                    str(r.overdue),
                    "suggested"
                    if r.username in s.suggested
                    else ("excluded: " + one_line(r.excluded) if r.excluded else ""),
                )
                for r in s.ranking
            ],
            "  ",
        )


def run_suggestion(args: argparse.Namespace) -> int:
    """``case assign ID --suggest [--apply] [--due-days N]``."""
    from workbench.errors import ValidationError
    from workbench.services import worklist

    if args.reader or args.panel:
        raise ValidationError(
            "case assign: --suggest chooses the readers itself; leave out --reader and "
            "--panel (assign panel members with a separate 'case assign ID --panel USER')"
        )
    if args.due_days is not None:
        worklist.check_due_days(args.due_days)
    registry = open_registry(args)
    try:
        actor = acting_user(args, registry)
        if not args.apply:
            print_suggestion(worklist.suggest_assignment(registry, actor, args.registry_id))
            print(
                f"assign them with: pml-workbench case assign {args.registry_id} --suggest --apply"
            )
            return EXIT_OK
        applied = worklist.assign_suggested(
            registry, actor, args.registry_id, due_days=args.due_days
        )
    finally:
        registry.close()
    print_suggestion(applied.suggestion)
    print(
        f"{args.registry_id}: assigned {', '.join(applied.suggestion.suggested)}; status "
        f"{applied.status.value}"
    )
    return EXIT_OK
