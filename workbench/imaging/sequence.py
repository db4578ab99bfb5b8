"""Which MR sequence class a series is, inferred from its headers, with the evidence kept.

:func:`classify` looks at what scanners write: ``ImageType`` (``LOCALIZER``, ``ADC``,
``TRACEW``, ``DIFFUSION``, ``FA``, ``SWI``, ``P`` / ``PHASE``, ``FIELD_MAP`` / ``B0MAP``),
GE's private image type (0043,102F: 0 magnitude, 1 phase, 2 real, 3 imaginary, kept as
``GEImageType``), the diffusion b-value, ``ScanningSequence`` /
``SequenceVariant`` / ``ScanOptions``, the timing (TR, TE, TI), a contrast agent, and the
words in ``SeriesDescription`` / ``ProtocolName`` / ``SequenceName``. The returned evidence
holds the header values it used and the rule that decided, so a coordinator can check the
class and correct it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from workbench.domain import SequenceClass

SUMMARY_KEYS = (
    "ImageType",
    "SeriesDescription",
    "ProtocolName",
    "SequenceName",
    "ScanningSequence",
    "SequenceVariant",
    "ScanOptions",
    "MRAcquisitionType",
    "RepetitionTime",
    "EchoTime",
    "InversionTime",
    "FlipAngle",
    "DiffusionBValue",
    "ContrastBolusAgent",
    "AcquisitionContrast",
    "Manufacturer",
    "GEImageType",
)
"""The header values :func:`classify` reads (top-level keywords of a classic MR image;
:func:`header_summary` finds them in enhanced multi-frame groups too)."""


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9+*]+", " ", text.lower()) + " "


def _has(text: str, *patterns: str) -> str | None:
    """The first pattern found as a whole token (tokens split on anything not alphanumeric)."""
    for pattern in patterns:
        before = "(?<![a-z0-9])" if pattern[0].isalnum() else ""
        after = "(?![a-z0-9])" if pattern[-1].isalnum() else ""
        if re.search(before + re.escape(pattern) + after, text):
            return pattern
    return None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip().upper() for v in value.replace("/", "\\").split("\\") if v.strip()]
    try:
        return [str(v).strip().upper() for v in value if str(v).strip()]
    except TypeError:
        return [str(value).strip().upper()]


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str | bytes) and hasattr(value, "__len__"):
            value = value[0] if len(value) else None
        return None if value is None else float(value)
    except (TypeError, ValueError, IndexError):
        return None


def _seq_item(ds: Any, keyword: str) -> Any:
    seq = getattr(ds, keyword, None) if ds is not None else None
    if seq is None or len(seq) == 0:
        return None
    return seq[0]


def _functional(ds: Any, group: str, keyword: str, frame: int = 0) -> Any:
    """A value from an enhanced file's per-frame (then shared) functional group."""
    for container in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        groups = getattr(ds, container, None)
        if not groups:
            continue
        index = frame if container.startswith("PerFrame") and frame < len(groups) else 0
        item = _seq_item(groups[index], group)
        if item is not None and keyword in item:
            return item.get(keyword)
    return None


GE_IMAGE_TYPES = {0: "MAGNITUDE", 1: "PHASE", 2: "REAL", 3: "IMAGINARY"}
"""GE's private image type (0043,102F): what each image of a series holds. A GE B0 map
series holds the magnitude (0) and the field map in Hz (stored as phase, 1) together."""


def ge_image_type(source: Any) -> int | None:
    """GE's private image type (0043,102F) of a GE image, ``None`` where absent or not GE.

    ``source`` is a pydicom ``Dataset`` or the loader's header values (with ``private``).
    Read without the private creator (implicit VR), the value comes as two raw bytes.
    """
    if not str(source.get("Manufacturer", "") or "").upper().startswith("GE"):
        return None
    if hasattr(source, "private"):
        value = source.private(0x0043, 0x102F)
    else:
        element = source.get(0x0043102F)
        value = None if element is None else element.value
    if isinstance(value, bytes):
        value = int.from_bytes(value[:2], "little", signed=True) if len(value) >= 2 else None
    elif value is not None and not isinstance(value, str | int) and len(value):
        value = value[0]
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def header_summary(ds: Any, frame: int = 0) -> dict[str, Any]:
    """The values :func:`classify` needs, from a pydicom ``Dataset`` (classic or enhanced).

    For an enhanced multi-frame file, frame ``frame``'s functional groups fill what the
    top level lacks (echo time, TR, b-value, frame type, contrast).
    """
    out: dict[str, Any] = {}
    for key in SUMMARY_KEYS:
        if key == "GEImageType":  # a private tag: read below
            continue
        value = ds.get(key) if hasattr(ds, "get") else None
        if value is not None and value != "":
            out[key] = value
    ge_type = ge_image_type(ds) if hasattr(ds, "get") else None
    if ge_type is not None:
        out["GEImageType"] = ge_type
    if "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds:
        frame_type = _functional(ds, "MRImageFrameTypeSequence", "FrameType", frame)
        if frame_type is not None:
            out["FrameType"] = frame_type
        contrast = _functional(ds, "MRImageFrameTypeSequence", "AcquisitionContrast", frame)
        if contrast:
            out["AcquisitionContrast"] = contrast
        te = _functional(ds, "MREchoSequence", "EffectiveEchoTime", frame)
        if te is not None and "EchoTime" not in out:
            out["EchoTime"] = te
        tr = _functional(ds, "MRTimingAndRelatedParametersSequence", "RepetitionTime", frame)
        if tr is not None and "RepetitionTime" not in out:
            out["RepetitionTime"] = tr
        b = _functional(ds, "MRDiffusionSequence", "DiffusionBValue", frame)
        if b is not None and "DiffusionBValue" not in out:
            out["DiffusionBValue"] = b
        ti = _functional(ds, "MRModifierSequence", "InversionTimes", frame)
        if ti is not None and "InversionTime" not in out:
            out["InversionTime"] = ti
        ir = _functional(ds, "MRModifierSequence", "InversionRecovery", frame)
        if ir is not None:
            out["InversionRecovery"] = ir
        agent = _functional(ds, "ContrastBolusUsageSequence", "ContrastBolusAgentAdministered")
        if agent is not None and "ContrastBolusAgent" not in out:
            out["ContrastBolusAgentAdministered"] = agent
    return {key: _plain(value) for key, value in out.items()}


def _plain(value: Any) -> Any:
    """JSON-friendly copy of a header value (MultiValue → list, DS/IS → float/int)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    try:
        return [_plain(v) for v in value]
    except TypeError:
        pass
    for cast in (int, float):
        try:
            if cast is int and float(value) != int(float(value)):
                continue
            return cast(value)
        except (TypeError, ValueError):
            continue
    return str(value)


_ADC_WORDS = ("adc", "apparent diffusion", "dadc")
_DWI_WORDS = ("dwi", "diffusion", "dti", "trace", "tracew", "ep2d diff", "resolve", "b1000", "dwi*")
_SWI_WORDS = ("swi", "swan", "susceptibility", "swip", "venobold", "mnip", "minip")
_FLAIR_WORDS = ("flair", "dark fluid", "darkfluid", "t2 flair", "t2flair", "fluid attenuated")
_T1_WORDS = (
    "t1",
    "t1w",
    "t1wi",
    "mprage",
    "mp rage",
    "tfl",
    "spgr",
    "fspgr",
    "bravo",
    "vibe",
    "t1 ffe",
    "t1ffe",
    "t1 tse",
    "t1 se",
    "space t1",
    "t1 space",
    "mp2rage",
    "irfspgr",
)
_T2_WORDS = ("t2", "t2w", "t2wi", "t2 tse", "t2tse", "t2 frfse", "t2 space", "space t2")
_T2STAR_WORDS = ("t2*", "t2 *", "t2star", "t2 star", "gre t2*", "hemo")
_FIELD_MAP_WORDS = (
    "fieldmap",
    "field map",
    "field mapping",
    "b0map",
    "b0 map",
    "b0",
    "b0 ns",
    "fmap",
)
_SCOUT_WORDS = (
    "localizer",
    "localiser",
    "scout",
    "survey",
    "3 plane loc",
    "3pl loc",
    "3 pl loc",
    "tri plane",
    "aascout",
    "aahead scout",
    "loc",
)
_FIELD_MAP_TYPES = (
    "FIELD_MAP",
    "FIELDMAP",
    "FIELDMAPHZ",
    "B0MAP",
    "B0_MAP",
    "B0 MAP",
    "PHASE_MAP",
)
_PHASE_TYPES = ("P", "PHASE", "PHA")
_MAGNITUDE_TYPES = ("M", "MAGNITUDE", "MAG")
_GE_TYPES = {0: "magnitude", 1: "phase", 2: "real", 3: "imaginary"}
_GD_WORDS = (
    "+c",
    "+ c",
    "gd",
    "gad",
    "gado",
    "post",
    "postcontrast",
    "post contrast",
    "+gd",
    "contrast",
    "ce",
    "kontrast",
    "km",
    "mdc",
    "postgd",
    "post gd",
    "c+",
)


def classify(headers: Mapping[str, Any] | Any) -> tuple[SequenceClass, dict[str, Any]]:
    """The sequence class of a series and the evidence it was inferred from.

    ``headers`` is a pydicom ``Dataset`` (classic or enhanced) or a mapping of DICOM
    keywords to values (for example a dcm2niix/BIDS JSON sidecar, or just
    ``{"SeriesDescription": "..."}`` made from a file name). The evidence dict holds the
    header values used and ``rule``, a sentence saying what decided.
    """
    summary = dict(headers) if isinstance(headers, Mapping) else header_summary(headers)
    image_type = _as_list(summary.get("ImageType")) + _as_list(summary.get("FrameType"))
    text = _words(
        " ".join(
            str(summary.get(key) or "")
            for key in ("SeriesDescription", "ProtocolName", "SequenceName")
        )
    )
    scanning = _as_list(summary.get("ScanningSequence"))
    variant = _as_list(summary.get("SequenceVariant")) + _as_list(summary.get("ScanOptions"))
    tr = _number(summary.get("RepetitionTime"))
    te = _number(summary.get("EchoTime"))
    ti = _number(summary.get("InversionTime"))
    b_value = _number(summary.get("DiffusionBValue"))
    agent = str(
        summary.get("ContrastBolusAgent") or summary.get("ContrastBolusAgentAdministered") or ""
    ).strip()
    evidence: dict[str, Any] = {
        key: summary[key]
        for key in (*SUMMARY_KEYS, "FrameType", "InversionRecovery")
        if key in summary and summary[key] not in (None, "", [])
    }

    def result(kind: SequenceClass, rule: str) -> tuple[SequenceClass, dict[str, Any]]:
        evidence["rule"] = rule
        return kind, evidence

    ge_type = summary.get("GEImageType")
    ge_kind = _GE_TYPES.get(ge_type) if isinstance(ge_type, int) else None
    if "LOCALIZER" in image_type:
        return result(SequenceClass.SCOUT, "ImageType has LOCALIZER")
    field_type = set(_FIELD_MAP_TYPES) & set(image_type)
    if field_type:
        return result(SequenceClass.FIELD_MAP, f"ImageType has {sorted(field_type)[0]}")
    field_word = _has(text, *_FIELD_MAP_WORDS)
    phase_type = set(_PHASE_TYPES) & set(image_type)
    if ge_kind is not None and ge_kind != "magnitude" and field_word:
        return result(
            SequenceClass.FIELD_MAP,
            f"GE image type {ge_type} ({ge_kind}) in a field map series "
            f"(description has {field_word!r})",
        )
    if phase_type and field_word:
        return result(
            SequenceClass.FIELD_MAP,
            f"ImageType has {sorted(phase_type)[0]} (phase) in a field map series "
            f"(description has {field_word!r})",
        )
    if phase_type:
        return result(SequenceClass.PHASE, f"ImageType has {sorted(phase_type)[0]} (phase)")
    if ge_kind == "phase":
        return result(SequenceClass.PHASE, "GE image type 1 (phase)")
    if ge_kind in ("real", "imaginary"):
        return result(SequenceClass.OTHER, f"GE image type {ge_type} ({ge_kind} part)")
    if "ADC" in image_type or (word := _has(text, *_ADC_WORDS)):
        why = "ImageType has ADC" if "ADC" in image_type else f"description has {word!r}"
        return result(SequenceClass.ADC, why)
    if {"FA", "COLFA", "TENSOR_FA"} & set(image_type) or _has(text, "fa", "colfa", "color fa"):
        return result(SequenceClass.OTHER, "fractional anisotropy map (FA)")
    if "EADC" in image_type or _has(text, "eadc", "exp", "exponential"):
        return result(SequenceClass.OTHER, "exponential ADC map")
    diffusion_type = {"TRACEW", "DIFFUSION", "TRACE", "ISODWI", "DWI"} & set(image_type)
    if diffusion_type:
        return result(SequenceClass.DWI, f"ImageType has {sorted(diffusion_type)[0]}")
    if b_value is not None and b_value > 50:
        return result(SequenceClass.DWI, f"diffusion b-value {b_value:g} s/mm2")
    if word := _has(text, *_DWI_WORDS):
        return result(SequenceClass.DWI, f"description has {word!r}")
    swi_type = {"SWI", "SWAN", "MNIP", "SWI_MINIP"} & set(image_type)
    if swi_type:
        return result(SequenceClass.SWI, f"ImageType has {sorted(swi_type)[0]}")
    if word := _has(text, *_SWI_WORDS):
        return result(SequenceClass.SWI, f"description has {word!r}")
    sequence_name = str(summary.get("SequenceName") or "").lower()
    if "swi" in sequence_name:
        return result(SequenceClass.SWI, f"SequenceName {sequence_name!r} (Siemens SWI)")
    if re.search(r"ep_b[1-9]", sequence_name):
        return result(SequenceClass.DWI, f"SequenceName {sequence_name!r} (diffusion EPI)")
    gd_word = _has(text, *_GD_WORDS)
    has_agent = bool(agent) and agent.lower() not in ("none", "no", "0", "n")
    if word := _has(text, *_FLAIR_WORDS):
        if _has(text, "t1", "t1w") and not _has(text, "t2", "t2w"):
            return _t1(result, gd_word, has_agent, agent, "description has T1 and FLAIR")
        return result(SequenceClass.FLAIR, f"description has {word!r}")
    if field_word:
        magnitude = set(_MAGNITUDE_TYPES) & set(image_type)
        if ge_kind == "magnitude" or magnitude:
            why = "GE image type 0" if ge_kind == "magnitude" else f"ImageType has {min(magnitude)}"
            return result(
                SequenceClass.FIELD_MAP_MAGNITUDE,
                f"{why} (magnitude) in a field map series (description has {field_word!r})",
            )
        return result(SequenceClass.FIELD_MAP, f"description has {field_word!r} (field map)")
    if word := _has(text, *_SCOUT_WORDS):
        return result(SequenceClass.SCOUT, f"description has {word!r} (localizer)")
    if word := _has(text, "b1map", "b1 map", "tb1map", "b1"):
        return result(SequenceClass.OTHER, f"description has {word!r} (B1 transmit map)")
    if word := _has(text, *_T2STAR_WORDS):
        return result(SequenceClass.OTHER, f"description has {word!r} (T2*)")
    if word := _has(text, *_T1_WORDS):
        return _t1(result, gd_word, has_agent, agent, f"description has {word!r}")
    if word := _has(text, *_T2_WORDS):
        return result(SequenceClass.T2, f"description has {word!r}")
    if "tfl3d" in sequence_name or "mprage" in sequence_name:
        return _t1(result, gd_word, has_agent, agent, f"SequenceName {sequence_name!r} (MPRAGE)")
    # No telling word: fall back on the physics (TR, TE, TI, sequence type).
    inversion = "IR" in scanning or "IR" in variant or (ti is not None and ti > 0)
    if inversion and ti is not None and ti >= 1500 and (te is None or te >= 60):
        return result(SequenceClass.FLAIR, f"inversion recovery with TI {ti:g} ms (>= 1500)")
    if inversion and ti is not None and 300 <= ti < 1500 and (te is None or te < 30):
        return _t1(result, gd_word, has_agent, agent, f"inversion recovery, TI {ti:g} ms")
    if "EP" in scanning:
        return result(SequenceClass.OTHER, "echo-planar without diffusion (BOLD/field map)")
    if tr is not None and te is not None:
        if tr < 1000 and te < 30:
            return _t1(result, gd_word, has_agent, agent, f"short TR {tr:g} ms and TE {te:g} ms")
        if tr >= 2000 and te >= 60:
            return result(SequenceClass.T2, f"long TR {tr:g} ms and TE {te:g} ms")
    return result(SequenceClass.OTHER, "no header value identifies the contrast")


def _t1(
    result: Any, gd_word: str | None, has_agent: bool, agent: str, why: str
) -> tuple[SequenceClass, dict[str, Any]]:
    if has_agent:
        return result(SequenceClass.T1_GD, f"{why}; ContrastBolusAgent {agent!r}")
    if gd_word:
        return result(SequenceClass.T1_GD, f"{why}; description has {gd_word!r}")
    return result(SequenceClass.T1, why)
