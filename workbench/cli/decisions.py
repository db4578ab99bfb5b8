"""The panel's decisions: ``decision propose``, ``decision sign`` and ``decision list``."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from adjudication.vocabulary import Certainty, ImagingJudgement, Pathway
from workbench.cli._common import (
    EXIT_OK,
    acting_user,
    ask_password,
    iso,
    open_registry,
    read_line,
    when,
)
from workbench.display import one_line

if TYPE_CHECKING:
    from workbench.services.panel import DecisionRecord


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``decision`` with its actions."""
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
        "--imaging",
        choices=[j.value for j in ImagingJudgement],
        help="the panel's own imaging judgement (reclassify then uses it instead of the reads')",
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


def _decision_json(view: DecisionRecord) -> dict[str, object]:
    return {
        "id": view.id,
        "version": view.version,
        "case": view.registry_id,
        "state": view.state.value,
        "certainty": view.certainty.value,
        "pathway": view.pathway.value if view.pathway else None,
        "rationale": view.rationale,
        "alternative_diagnosis": view.alternative_diagnosis,
        "panel_imaging": view.panel_imaging.value if view.panel_imaging else None,
        "change_reason": view.change_reason,
        "supersedes": view.supersedes_id,
        "engine_version": view.engine_version,
        "engine_certainty": view.engine_certainty.value if view.engine_certainty else None,
        "differs_from_engine": view.differs_from_engine,
        "proposed_by": view.proposed_by,
        "created_at": iso(view.created_at),
        "signatures_required": view.signatures_required,
        "signatures": [
            {
                "username": s.username,
                "printed_name": s.printed_name,
                "meaning": s.meaning,
                "signed_at": iso(s.signed_at),
            }
            for s in view.signatures
        ],
        "manifest": [s.manifest() for s in view.signatures],
    }


def _cmd_decision_propose(args: argparse.Namespace) -> int:
    from workbench.errors import ValidationError
    from workbench.services import panel
    from workbench.services.panel import DecisionState, Proposal

    config = panel.review_config()
    proposal = Proposal(
        certainty=Certainty(args.certainty),
        pathway=Pathway(args.pathway) if args.pathway else None,
        rationale=args.rationale,
        alternative_diagnosis=args.alternative,
        imaging=ImagingJudgement(args.imaging) if args.imaging else None,
    )
    registry = open_registry(args)
    try:
        actor = acting_user(args, registry)
        pending = [
            d.id
            for d in panel.decisions(registry, actor, args.registry_id, config)
            if d.state is DecisionState.PENDING
        ]
        if pending and args.replaces is None:
            # Without this, the proposal would be refused as a concurrent one.
            raise ValidationError(
                f"case {args.registry_id}: decision {pending[-1]} is pending signatures; "
                f"to replace it, name it with --replaces {pending[-1]} (its signatures stay "
                "on record)"
            )
        decision = panel.propose(
            registry,
            actor,
            args.registry_id,
            proposal,
            replaces=args.replaces,
            change_reason=args.change_reason,
            config=config,
        )
    finally:
        registry.close()
    engine = decision.engine_certainty.value if decision.engine_certainty else None
    change = decision.change_reason is not None
    pathway = f" ({args.pathway} pathway)" if args.pathway else ""
    print(
        f"{'change ' if change else ''}proposed decision #{decision.id} for {args.registry_id}: "
        f"{args.certainty}{pathway}; criteria engine {decision.engine_version}: {engine}"
    )
    print(
        f"it is final once {config.signatures_required} panel member(s) sign it: "
        f"pml-workbench decision sign {decision.id}"
    )
    return EXIT_OK


def _cmd_decision_sign(args: argparse.Namespace) -> int:
    from workbench.services import panel
    from workbench.services.panel import DecisionState

    config = panel.review_config()
    registry = open_registry(args)
    try:
        actor = acting_user(args, registry)
        # Say which decision before asking for a password.
        registry_id = panel.decision(registry, actor, args.decision_id, config).registry_id
        if args.password_stdin:
            password = read_line("password")
        else:
            password = ask_password(
                f"Password of {actor.username} to sign decision {args.decision_id} "
                f"of {registry_id}: ",
                twice=False,
            )
        # A wrong password is refused and, in a transaction of its own, audited.
        panel.sign(registry, actor, args.decision_id, password, meaning=args.meaning, config=config)
        decision = panel.decision(registry, actor, args.decision_id, config)
    finally:
        registry.close()
    signed = next(s for s in decision.signatures if s.username == actor.username)
    print(
        f"signed decision #{args.decision_id} of {registry_id}: {one_line(signed.printed_name)} — "
        f"{one_line(signed.meaning)} ({len(decision.signatures)} of {config.signatures_required} "
        "signature(s))"
    )
    if decision.state is DecisionState.FINAL:
        print(f"decision #{args.decision_id} is final; case {registry_id} is final")
    return EXIT_OK


def _cmd_decision_list(args: argparse.Namespace) -> int:
    from workbench.services import panel

    config = panel.review_config()
    registry = open_registry(args)
    try:
        views = panel.decisions(registry, acting_user(args, registry), args.registry_id, config)
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
        print(f"    proposed by {one_line(v.proposed_by)} at {when(v.created_at)}")
        engine = v.engine_certainty.value if v.engine_certainty else "not recorded"
        differs = " (the panel decided otherwise)" if v.differs_from_engine else ""
        print(f"    criteria engine {v.engine_version} at the time: {engine}{differs}")
        for label, text in (
            ("rationale", v.rationale),
            ("alternative diagnosis", v.alternative_diagnosis),
            ("change reason", v.change_reason),
        ):
            if text:
                print(f"    {label}: {one_line(text)}")
        if v.supersedes_id is not None:
            print(f"    replaces decision #{v.supersedes_id}")
        print(f"    signatures ({len(v.signatures)} of {v.signatures_required}):")
        for signature in v.signatures:
            print(f"      {one_line(signature.manifest())}")
    return EXIT_OK
