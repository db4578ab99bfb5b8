"""A reader's reads: ``read submit``, ``read correct`` and ``read list`` (blinded)."""

from __future__ import annotations

import argparse
import json

from adjudication.vocabulary import ImagingJudgement
from workbench.cli._common import EXIT_OK, acting_user, iso, open_registry
from workbench.display import one_line


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``read`` with its actions."""
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


def _cmd_read_submit(args: argparse.Namespace) -> int:
    from workbench.review_config import load_review_config
    from workbench.services import reading

    config = load_review_config()  # a bad configuration file stops us before any write
    registry = open_registry(args)
    try:
        done = reading.set_choices_and_submit(
            registry,
            acting_user(args, registry),
            args.registry_id,
            args.judgement,
            args.confidence,
            args.comment,
            config=config,
        )
    finally:
        registry.close()
    what = "correction" if done.correction else "read"
    status = done.case_status.value if done.case_status is not None else "unknown"
    print(
        f"submitted {what} #{done.read_id} of {args.registry_id} (revision {done.revision}): "
        f"{args.judgement}, {done.lesions} lesion(s), {done.total_ml:.2f} mL"
    )
    if done.assessment is not None:
        verdict = (
            f"discordant ({', '.join(done.assessment.fired)})"
            if done.assessment.discordant
            else "concordant, the case goes to the panel"
        )
        print(f"{args.registry_id}: all reads in: {verdict}; status {status}")
    elif done.all_in:
        print(f"{args.registry_id}: all reads in; status {status}")
    else:
        print(
            f"{args.registry_id}: {done.readers_submitted} of {done.readers_assigned} assigned "
            f"read(s) in; status {status}"
        )
    return EXIT_OK


def _cmd_read_correct(args: argparse.Namespace) -> int:
    from workbench.services import reading

    registry = open_registry(args)
    try:
        draft = reading.start_correction(
            registry, acting_user(args, registry), args.read_id, args.reason
        )
    finally:
        registry.close()
    draft_id, revision = draft.read_id, draft.revision
    print(
        f"correction of read #{args.read_id} opened as draft read #{draft_id} "
        f"(revision {revision}); read #{args.read_id} stays in force until it is submitted "
        "('pml-workbench read submit')"
    )
    return EXIT_OK


def _cmd_read_list(args: argparse.Namespace) -> int:
    from workbench.services import reading

    registry = open_registry(args)
    try:
        views = reading.reads_of_case(registry, acting_user(args, registry), args.registry_id)
    finally:
        registry.close()
    rows = [
        {
            "id": v.id,
            "reader": v.reader,
            "revision": v.revision,
            "status": v.status.value,
            "submitted_at": iso(v.submitted_at),
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
            print(f"    comment: {one_line(str(row['comment']))}")
    return EXIT_OK
