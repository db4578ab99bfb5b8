"""A narrow, strict header reader for the common case of discovery: classic image files.

Discovery needs about 30 values from each file, and a series holds hundreds of files.
``pydicom.dcmread`` builds a ``Dataset`` of every element (about 0.3 ms per file even with
``specific_tags`` or ``stop_before_pixels``), and each ``Dataset.get`` then converts a raw
value; that was 90 % of a first import. This module walks the encoded elements itself,
keeps only the values discovery uses, and converts them with the rules pydicom applies
(``pydicom.values``: ``UI`` and ``CS`` strip trailing spaces and NULs and split on ``\\``,
``DS`` becomes ``float(text)``, ``IS`` ``int(text)``, an empty value is pydicom's
``empty_value_for_VR``: ``""`` for text, ``None`` for numbers...).

It is *deliberately partial*: :func:`read_classic_header` returns ``None`` ("ask pydicom")
for anything outside its scope or anything it could not convert exactly as pydicom would:
no preamble, another transfer syntax than (explicit or implicit VR) little endian, an
unknown VR, a VR other than the dictionary's for a value it keeps, a value that is not
plain ASCII or not strictly numeric, a private diffusion tag in an implicit VR file,
enhanced functional groups, a malformed sequence, pixel data that does not end the file
exactly, and so on. The caller then reads that file with pydicom, so every check and every
message of the careful path still applies to it. Declining costs only the time of this walk.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from typing import Any, Protocol

from pydicom import config
from pydicom.datadict import DicomDictionary, dictionary_VR, tag_for_keyword
from pydicom.dataelem import empty_value_for_VR

PIXEL_DATA = 0x7FE00010
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LE = "1.2.840.10008.1.2"
_UNDEFINED = 0xFFFFFFFF
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_FIRST_READ = 16384
"""Bytes read first: the whole header of most classic files (headers past it are read on)."""

_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())
"""VRs whose explicit VR header has a 4-byte length (after 2 reserved bytes)."""
_SHORT_VRS = frozenset(b"AE AS AT CS DA DS DT FL FD IS LO LT PN SH SL SS ST TM UI UL US".split())
"""VRs whose explicit VR header has a 2-byte length."""

_KEYWORDS = (
    "SpecificCharacterSet",
    "ImageType",
    "SOPClassUID",
    "SOPInstanceUID",
    "Manufacturer",
    "SeriesInstanceUID",
    "AcquisitionNumber",
    "InstanceNumber",
    "TemporalPositionIdentifier",
    "EchoNumbers",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "ImagerPixelSpacing",
    "SliceThickness",
    "SpacingBetweenSlices",
    "RescaleIntercept",
    "RescaleSlope",
    "DiffusionBValue",
    "DiffusionGradientOrientation",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "BitsAllocated",
    "BitsStored",
    "PixelRepresentation",
)
_KEPT = {
    tag: (keyword, dictionary_VR(tag))
    for keyword in _KEYWORDS
    if (tag := tag_for_keyword(keyword)) is not None
}
"""The standard elements discovery reads from a classic image: tag → keyword and VR (pydicom's
dictionary VR: the one pydicom decodes an implicit VR value with)."""

_VALUE_COUNT = {
    "ImagePositionPatient": 3,
    "ImageOrientationPatient": 6,
    "PixelSpacing": 2,
    "ImagerPixelSpacing": 2,
    "DiffusionGradientOrientation": 3,
}
"""Values these elements must hold; any other count is left to pydicom (and its message)."""

_MULTI = frozenset(("ImageType", *_VALUE_COUNT))
"""Elements that may hold several values; the others must hold one (or none)."""

_PRIVATE = frozenset(
    {
        *(0x00431039, 0x0043102F, 0x001910BB, 0x001910BC, 0x001910BD),  # GE
        *(0x0019100C, 0x0019100E),  # Siemens
        *(0x20011003, 0x200510B0, 0x200510B1, 0x200510B2),  # Philips
        *(0x00651009, 0x00651037),  # UIH
    }
)
"""The vendor tags discovery reads: diffusion (GE, Siemens, Philips, UIH) and GE's image type
(magnitude, phase, real, imaginary), which splits a GE B0 map series into its volumes."""

_WANTED = frozenset(_KEPT) | _PRIVATE
_ELEMENT = struct.Struct("<HH2sH")
"""An explicit VR element header: group, element, VR and (short form) length."""

_NUMERIC_VRS = {b"FD": "d", b"FL": "f", b"SL": "l", b"SS": "h", b"UL": "L", b"US": "H"}

_ENHANCED = frozenset((0x52009229, 0x52009230))
"""Shared / per-frame functional groups: an enhanced image, read by pydicom."""

_PLAIN_CHARSETS = frozenset(
    {"", *(f"ISO_IR {n}" for n in (6, 100, 101, 109, 110, 126, 127, 138, 144, 148, 192, 203))}
)
"""Character sets in which ASCII bytes decode as ASCII; with another, text is left to pydicom."""

_DS = re.compile(r" *[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)? *")
_IS = re.compile(r" *[+-]?\d+ *")
_DS_TEXT = re.compile(rb"[0-9 .+\-eE\\]*")
_IS_TEXT = re.compile(rb"[0-9 +\-\\]*")


class HeaderValues(Protocol):
    """What discovery reads from a header: keyword values, and private tags by number.

    Values are those of pydicom: ``get`` returns what ``Dataset.get`` would, and
    ``private`` the value of a private element (``None`` where absent or unreadable).
    """

    def get(self, keyword: str, default: Any = None) -> Any:
        """The value of the element ``keyword``, or ``default`` where it is absent."""
        ...

    def private(self, group: int, element: int) -> Any:
        """The value of the private element ``(group, element)``, or ``None``."""
        ...


class _OutOfScopeError(Exception):
    """Outside this reader's scope: the file is left to pydicom."""


@dataclass(frozen=True, slots=True)
class ParsedHeader:
    """The values kept from one classic file, already converted (plain Python values)."""

    values: dict[str, Any]
    privates: dict[int, Any]

    def get(self, keyword: str, default: Any = None) -> Any:
        """The value of the element ``keyword`` as pydicom gives it, or ``default``."""
        return self.values.get(keyword, default)

    def private(self, group: int, element: int) -> Any:
        """The value of the private element ``(group, element)``, or ``None``."""
        return self.privates.get((group << 16) | element)

    def __contains__(self, keyword: str) -> bool:
        return keyword in self.values


@dataclass(frozen=True, slots=True)
class ClassicHeader:
    """One file as the fast reader saw it: where its pixels are, and the values kept."""

    size: int
    transfer_syntax: str
    media_storage_sop_class: str
    pixel_offset: int
    pixel_length: int
    header: ParsedHeader


# --------------------------------------------------------------------------- values


def _ascii(raw: bytes) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise _OutOfScopeError from None


def _split(text: str) -> str | tuple[str, ...]:
    """pydicom's ``multi_string``: strip trailing spaces and NULs, split on backslashes."""
    items = text.rstrip(" \x00").split("\\")
    return items[0] if len(items) == 1 else tuple(items)


def _decimal(item: str) -> float | str:
    """One ``DS`` value as ``DSfloat`` makes it: ``float(text)``; blank stays ``""``."""
    if not item.strip():
        return item
    if not _DS.fullmatch(item):
        raise _OutOfScopeError  # pydicom's handling of odd numbers is its own; let it decide
    return float(item)


def _integer(item: str) -> int | str:
    """One ``IS`` value as ``IS`` makes it: ``int(text)``; blank stays ``""``."""
    if not item.strip():
        return item
    if not _IS.fullmatch(item):
        raise _OutOfScopeError
    return int(item)


def _convert(vr: bytes, raw: bytes) -> Any:
    """A value as pydicom converts it (default configuration), or :class:`_OutOfScopeError`."""
    if not raw:
        return empty_value_for_VR(vr.decode())  # "" for text, None for DS, IS, US, FD...
    if vr in (b"UI", b"CS"):
        text = _ascii(raw)
        return _split(text.rstrip("\0 ") if vr == b"UI" else text)
    if vr == b"LO":
        if b"\\" in raw or b"\x1b" in raw:
            raise _OutOfScopeError
        return _ascii(raw).rstrip("\0 ")
    if vr == b"DS":
        if not _DS_TEXT.fullmatch(raw):
            raise _OutOfScopeError
        parts = _split(raw.decode("ascii").strip())
        if isinstance(parts, str):
            return _decimal(parts)
        values = tuple(_decimal(p) for p in parts)
        if any(isinstance(v, str) for v in values):
            raise _OutOfScopeError
        return values
    if vr == b"IS":
        if not _IS_TEXT.fullmatch(raw):
            raise _OutOfScopeError
        parts = _split(raw.decode("ascii"))
        if isinstance(parts, str):
            return _integer(parts)
        numbers = tuple(_integer(p) for p in parts)
        if any(isinstance(v, str) for v in numbers):
            raise _OutOfScopeError
        return numbers
    code = _NUMERIC_VRS.get(vr)
    if code is not None:
        size = struct.calcsize(code)
        if len(raw) % size:
            raise _OutOfScopeError
        numbers = struct.unpack(f"<{len(raw) // size}{code}", raw)
        return numbers[0] if len(numbers) == 1 else numbers
    raise _OutOfScopeError


# --------------------------------------------------------------------------- walking


class _Bytes:
    """The head of a file, read on demand (never past what the walk needs, plus a chunk)."""

    __slots__ = ("data", "fd", "size")

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size
        self.data = os.pread(fd, min(size, _FIRST_READ), 0)

    def need(self, end: int) -> bytes:
        """The bytes, holding at least ``[0, end)``; a walk past the file's end declines."""
        if end > len(self.data):
            if end > self.size:
                raise _OutOfScopeError  # truncated: pydicom's reading says how
            more = min(self.size, max(end, 2 * len(self.data))) - len(self.data)
            self.data += os.pread(self.fd, more, len(self.data))
            if len(self.data) < end:
                raise _OutOfScopeError  # the file shrank while it was read
        return self.data


def _looks_explicit(data: bytes, pos: int) -> bool:
    """pydicom's test for an explicit VR: two upper-case letters after the first tag."""
    return 0x40 < data[pos + 4] < 0x5B and 0x40 < data[pos + 5] < 0x5B


def _walk_items(src: _Bytes, pos: int, end: int | None, implicit: bool) -> int:
    """Check a sequence's items (contents included) up to ``end`` or its delimiter; return
    the position after it. pydicom parses sequences when it reads a file, so a malformed
    one must fail here too (by declining) rather than pass unnoticed."""
    while end is None or pos < end:
        data = src.need(pos + 8)
        tag_group, tag_element, length = struct.unpack_from("<HHI", data, pos)
        tag = (tag_group << 16) | tag_element
        pos += 8
        if tag == _SEQUENCE_END and end is None:
            if length:
                raise _OutOfScopeError
            return pos
        if tag != _ITEM:
            raise _OutOfScopeError
        if length == _UNDEFINED:
            pos = _walk_dataset(src, pos, None, implicit)
        else:
            if length:
                _walk_dataset(src, pos, pos + length, implicit)
            pos += length
    if pos != end:
        raise _OutOfScopeError
    return pos


def _walk_dataset(src: _Bytes, pos: int, end: int | None, implicit: bool) -> int:
    """Check the elements of one sequence item; return the position after it."""
    if end is None or pos < end:
        data = src.need(pos + 8)
        if not implicit and not _looks_explicit(data, pos):
            implicit = True  # pydicom allows implicit VR items in an explicit VR file
    while end is None or pos < end:
        data = src.need(pos + 8)
        group, element = struct.unpack_from("<HH", data, pos)
        tag = (group << 16) | element
        if tag == _ITEM_END and end is None:
            if struct.unpack_from("<I", data, pos + 4)[0]:
                raise _OutOfScopeError
            return pos + 8
        if implicit:
            (length,) = struct.unpack_from("<I", data, pos + 4)
            at = pos + 8
            entry = DicomDictionary.get(tag)
            is_sequence = length == _UNDEFINED or (entry is not None and entry[0] == "SQ")
        else:
            vr = data[pos + 4 : pos + 6]
            if vr in _SHORT_VRS:
                (length,) = struct.unpack_from("<H", data, pos + 6)
                at = pos + 8
            elif vr in _LONG_VRS:
                (length,) = struct.unpack_from("<I", src.need(pos + 12), pos + 8)
                at = pos + 12
            else:
                raise _OutOfScopeError
            is_sequence = vr == b"SQ"
            if length == _UNDEFINED and not is_sequence:
                raise _OutOfScopeError
        if is_sequence:
            pos = _walk_items(src, at, None if length == _UNDEFINED else at + length, implicit)
        else:
            pos = at + length
        if end is not None and pos > end:
            raise _OutOfScopeError
    if pos != end:
        raise _OutOfScopeError
    return pos


def _walk_meta(src: _Bytes) -> tuple[int, str, str]:
    """The file meta group (explicit VR little endian): where the data set starts, the
    transfer syntax and the media storage SOP class."""
    data = src.need(132 + 8)
    if data[128:132] != b"DICM" or not _looks_explicit(data, 132):
        raise _OutOfScopeError  # no preamble, or an implicit VR meta group
    pos = 132
    syntax: str | None = None
    sop_class = ""
    while True:
        data = src.need(pos + 8)
        group, element, vr, length = struct.unpack_from("<HH2sH", data, pos)
        if group != 2:
            break
        at = pos + 8
        if vr in _LONG_VRS:
            (length,) = struct.unpack_from("<I", src.need(pos + 12), pos + 8)
            at = pos + 12
        elif vr not in _SHORT_VRS:
            raise _OutOfScopeError
        if length == _UNDEFINED:
            raise _OutOfScopeError
        if element in (0x0002, 0x0010):
            if vr != b"UI":
                raise _OutOfScopeError
            value = _convert(vr, src.need(at + length)[at : at + length])
            if not isinstance(value, str):
                raise _OutOfScopeError
            if element == 0x0010:
                syntax = value
            else:
                sop_class = value
        pos = at + length
    if syntax not in (EXPLICIT_VR_LE, IMPLICIT_VR_LE):
        raise _OutOfScopeError
    return pos, syntax, sop_class


def _walk_top(src: _Bytes, pos: int, implicit: bool) -> tuple[int, int, ParsedHeader]:
    """Walk the top-level data set up to the pixel data: its offset, length and the values."""
    data = src.need(pos + 8)
    if _looks_explicit(data, pos) == implicit:
        raise _OutOfScopeError  # pydicom would switch encodings (with a warning)
    values: dict[str, Any] = {}
    privates: dict[int, Any] = {}
    kept: dict[int, tuple[bytes, bytes]] = {}
    previous = -1
    while True:
        if pos + 12 > len(data):  # the hot loop: ``need`` only where the bytes run out
            data = src.need(pos + 8)
        group, element, vr, length = _ELEMENT.unpack_from(data, pos)
        tag = (group << 16) | element
        if tag <= previous or group == 2:
            raise _OutOfScopeError  # out of order or repeated (pydicom keeps the last)
        previous = tag
        if implicit:
            (length,) = struct.unpack_from("<I", data, pos + 4)
            at = pos + 8
            entry = DicomDictionary.get(tag)
            vr = entry[0].encode() if entry is not None else b"UN"
            if length == _UNDEFINED:
                vr = b"SQ"
        elif vr in _SHORT_VRS:
            at = pos + 8
        elif vr in _LONG_VRS:
            (length,) = struct.unpack_from("<I", src.need(pos + 12), pos + 8)
            at = pos + 12
        else:
            raise _OutOfScopeError
        if tag == PIXEL_DATA:
            if length == _UNDEFINED or (vr not in (b"OB", b"OW") and not implicit):
                raise _OutOfScopeError
            break
        if tag in _ENHANCED:
            raise _OutOfScopeError
        if vr == b"SQ":
            pos = _walk_items(src, at, None if length == _UNDEFINED else at + length, implicit)
            continue
        if length == _UNDEFINED:
            raise _OutOfScopeError
        if tag in _WANTED:
            kept[tag] = (vr, src.need(at + length)[at : at + length])
        pos = at + length
    for tag, (vr, raw) in kept.items():
        if tag in _PRIVATE:
            if implicit or vr not in (b"DS", b"IS", *_NUMERIC_VRS):
                raise _OutOfScopeError  # pydicom would look the VR up by private creator
            privates[tag] = _convert(vr, raw)
            continue
        keyword, expected = _KEPT[tag]
        if vr != expected.encode():
            raise _OutOfScopeError
        value = _convert(vr, raw)
        count = _VALUE_COUNT.get(keyword)
        if value not in ("", None):
            if count is not None and (not isinstance(value, tuple) or len(value) != count):
                raise _OutOfScopeError
            if keyword not in _MULTI and isinstance(value, tuple):
                raise _OutOfScopeError
        values[keyword] = value
    charset = values.get("SpecificCharacterSet", "")
    if "Manufacturer" in values and charset not in _PLAIN_CHARSETS:
        raise _OutOfScopeError
    return at, length, ParsedHeader(values, privates)


def _non_default_conversions() -> bool:
    """Whether pydicom is configured to convert values otherwise than this module does."""
    return bool(
        config.use_DS_decimal
        or config.use_DS_numpy
        or config.use_IS_numpy
        or config.use_none_as_empty_text_VR_value
    )


def read_classic_header(path: str | os.PathLike[str]) -> ClassicHeader | None:
    """The header values of a classic image file, or ``None`` to leave it to pydicom.

    Reads the file meta group and the top-level elements up to the pixel data (not the
    pixel data). Declines (``None``) whenever the file is not an uncompressed little-endian
    image whose pixel data ends the file, or anything it holds could be read differently by
    pydicom.
    """
    if _non_default_conversions():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None  # pydicom's attempt will say what is wrong
    try:
        size = os.fstat(fd).st_size
        if size < 132 + 8:
            return None
        src = _Bytes(fd, size)
        pos, syntax, sop_class = _walk_meta(src)
        offset, length, header = _walk_top(src, pos, syntax == IMPLICIT_VR_LE)
        if offset + length != size:
            return None
        return ClassicHeader(size, syntax, sop_class, offset, length, header)
    except (_OutOfScopeError, struct.error, IndexError, OSError):
        return None
    finally:
        os.close(fd)
