"""The ``deid-check`` and ``deidentify`` commands, as functions the CLI wires in.

Each takes its arguments already parsed, writes to ``out`` and returns the exit status:

``deid_check_main``: 0 the path is de-identified, 1 findings, 2 the path (or the policy
file) cannot be read or some file under it is unreadable. One line per finding,
``FILE: KEYWORD (gggg,eeee) [rule]: message``, then unreadable files, merged notes and a
summary line.

``deidentify_main``: 0 the copy was written and passes the gate, 1 it was written but the
gate still finds something (the findings are printed), 2 nothing was written (bad case id,
input missing, output inside the input or not empty, unreadable input, bad policy).
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from workbench.deid.deidentify import DeidentifyError, deidentify
from workbench.deid.gate import EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE, check
from workbench.deid.policy import Policy, load_policy


def _policy(policy_path: Path | None, out: TextIO) -> Policy | None:
    try:
        return load_policy(policy_path)
    except (OSError, ValueError) as exc:
        print(f"error: cannot use the policy {policy_path}: {exc}", file=out)
        return None


def deid_check_main(path: Path, policy_path: Path | None, out: TextIO) -> int:
    """Check ``path`` (file or folder) and print the report; return 0, 1 or 2."""
    policy = _policy(policy_path, out)
    if policy is None:
        return EXIT_UNREADABLE
    try:
        report = check(Path(path), policy)
    except FileNotFoundError:
        print(f"error: {path}: no such file or folder", file=out)
        return EXIT_UNREADABLE
    except OSError as exc:
        print(f"error: {path}: cannot read: {exc.strerror or type(exc).__name__}", file=out)
        return EXIT_UNREADABLE
    for line in report.lines():
        print(line, file=out)
    return report.exit_code


def deidentify_main(
    input: Path,
    outdir: Path,
    case_id: str,
    policy_path: Path | None,
    out: TextIO,
    *,
    secret: str | None = None,
    date_shift_days: int | None = None,
) -> int:
    """De-identify ``input`` into ``outdir`` as ``case_id``; print what was written.

    ``secret`` is the case's secret (same secret, same new UIDs and date shift across runs);
    without it a random one is used. The date shift itself is not printed: with the output
    it would reveal the real dates.
    """
    policy = _policy(policy_path, out)
    if policy is None:
        return EXIT_UNREADABLE
    try:
        result = deidentify(
            Path(input), Path(outdir), case_id, policy, date_shift_days, secret=secret
        )
    except DeidentifyError as exc:
        print(f"error: {exc}", file=out)
        return EXIT_UNREADABLE
    except OSError as exc:
        print(f"error: cannot write {outdir}: {exc.strerror or type(exc).__name__}", file=out)
        return EXIT_UNREADABLE
    for path in result.written:
        print(f"wrote {path}", file=out)
    for note in result.skipped:
        print(note.line(), file=out)
    if result.renamed:
        print(
            f"note: {result.renamed} file or folder name(s) replaced (IM00001.dcm, folder001): "
            "they looked identifying",
            file=out,
        )
    report = result.report
    if report.clean:
        print(
            f"{len(result.written)} file(s) written to {result.outdir} as {case_id}; "
            "the copy passes the de-identification gate",
            file=out,
        )
        return EXIT_CLEAN
    for line in report.lines():
        print(line, file=out)
    print(
        f"error: the copy in {result.outdir} does not pass the de-identification gate",
        file=out,
    )
    return EXIT_FINDINGS
