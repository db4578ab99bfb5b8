"""De-identification: the import gate (DICOM PS3.15 Annex E) and a de-identifying copy.

Architecture (no Qt here; pydicom and nibabel are imported where used):

- :mod:`~workbench.deid.annex_e` is PS3.15 Table E.1-1 with its Basic Profile actions,
  *generated* from the ``dicom-anonymizer`` package by ``scripts/generate_annex_e.py``;
  nobody types the list of identifying attributes by hand.
- :mod:`~workbench.deid.rules` is the vocabulary: :class:`Rule`, the option codes
  :class:`DeidOption`, what each option lets a file keep, and the text heuristics.
- :mod:`~workbench.deid.policy` is what the registry accepts (:class:`Policy`, from TOML).
- :mod:`~workbench.deid.gate` checks a file or folder: :func:`check` returns a frozen
  :class:`DeidReport` of :class:`Finding` (never the identifying value itself).
- :mod:`~workbench.deid.deidentify` writes a copy that passes the gate: :func:`deidentify`.
- :mod:`~workbench.deid.commands` are the ``deid-check`` and ``deidentify`` commands as
  functions (exit codes 0 / 1 / 2) for :mod:`workbench.cli`.
"""

from workbench.deid.deidentify import DeidentifyError, DeidentifyResult, deidentify
from workbench.deid.gate import DeidReport, Finding, Note, UnreadableFile, check, check_dataset
from workbench.deid.policy import Policy, load_policy
from workbench.deid.rules import DeidOption, Rule

__all__ = [
    "DeidOption",
    "DeidReport",
    "DeidentifyError",
    "DeidentifyResult",
    "Finding",
    "Note",
    "Policy",
    "Rule",
    "UnreadableFile",
    "check",
    "check_dataset",
    "deidentify",
    "load_policy",
]
