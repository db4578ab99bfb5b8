"""A compact, checked byte form of a label map, for storing masks in the registry database.

Masks are mostly background with a few compact blobs, so the voxels are run-length coded
(one value and one ``uint32`` length per run, in C order) and the runs zlib-compressed. A
mask that is not run-friendly (noise, very many tiny labels) is zlib-compressed as it is;
the encoder picks whichever is smaller by the run count. Measured on a 256³ mask with 20
lesions: about 3 ms and 1.3 kB with runs, against 17 to 35 ms and 22 to 80 kB for zlib
alone (levels 1 to 6).

Layout (little-endian)::

    magic "PMLM" | version u8 = 1 | method u8 (0 zlib, 1 runs + zlib) | itemsize u8 (1, 2, 4)
    | ndim u8 = 3 | order u8 (0 C, 1 Fortran) | shape 3 × u32 | runs u64 | payload length u64
    | payload | CRC-32 u32

``order`` records the memory order the voxels were coded in: a transposed view (as DICOM
volumes hold their arrays) is coded as it lies in memory, because copying it into C order
cost 20 times the coding itself; it decodes to an array of the same layout and values.

The CRC covers everything before it, so a flipped bit anywhere (the shape too) is caught.
:func:`decode_mask` checks every field before it allocates: the declared size must stay
under a limit (a decompression bomb is refused before any work), the payload must inflate
to exactly the declared size, and the runs must add up to the voxel count.

:func:`mask_sha256` hashes a canonical form (the shape, then the flat C-order indices and
labels of the non-zero voxels), so the same labels give the same hash whatever type or memory
layout they are held in, at a cost proportional to the lesion, not the grid.
"""

from __future__ import annotations

import hashlib
import math
import struct
import zlib
from typing import Any

import numpy as np

from workbench.lesions.errors import MaskCodecError
from workbench.lesions.labels import checked_labels

MAGIC = b"PMLM"
VERSION = 1
METHOD_ZLIB = 0
"""The voxels' bytes (C order, smallest unsigned type), zlib-compressed."""
METHOD_RUNS = 1
"""Run-length coded (values, then ``uint32`` lengths), zlib-compressed."""

DEFAULT_MAX_BYTES = 1 << 30
"""Largest decoded label map :func:`decode_mask` accepts by default (1 GiB)."""

_HEADER = struct.Struct("<4sBBBBB3IQQ")
_CRC = struct.Struct("<I")
_DTYPES: dict[int, np.dtype[Any]] = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4")}
_CANONICAL_PREFIX = b"pml-label-map/2\x00"


def _runs(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run values and run lengths of a 1-D array."""
    if flat.size == 0:
        return flat[:0], np.zeros(0, dtype="<u4")
    starts = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], starts))
    lengths = np.diff(np.append(starts, flat.size))
    return flat[starts], lengths.astype("<u4")


def encode_mask(labels: Any) -> bytes:
    """The byte form of a 3-D label map (see the module docstring); :func:`decode_mask` inverts it.

    Labels are stored in the smallest unsigned type that holds them (``uint8``, ``uint16``
    or ``uint32``); a signed or boolean array is accepted when it has no negative value.
    """
    array = checked_labels(labels, "encode_mask")
    if array.size > np.iinfo(np.uint32).max:
        raise MaskCodecError(f"encode_mask: {array.size:,} voxels is more than a mask can hold")
    high = int(array.max()) if array.size else 0
    itemsize = 1 if high <= 0xFF else 2 if high <= 0xFFFF else 4
    dtype = _DTYPES[itemsize]
    fortran = array.flags.f_contiguous and not array.flags.c_contiguous
    in_memory_order = array.T if fortran else array
    flat = np.ascontiguousarray(in_memory_order, dtype=dtype).reshape(-1)
    values, lengths = _runs(flat)
    run_bytes = values.size * (itemsize + 4)
    if run_bytes * 4 < flat.nbytes:
        method, runs = METHOD_RUNS, values.size
        payload = zlib.compress(values.tobytes() + lengths.tobytes(), 6)
    else:
        method, runs = METHOD_ZLIB, 0
        payload = zlib.compress(flat.tobytes(), 1)
    header = _HEADER.pack(
        MAGIC, VERSION, method, itemsize, 3, int(fortran), *array.shape, runs, len(payload)
    )
    body = header + payload
    return body + _CRC.pack(zlib.crc32(body))


def decode_mask(blob: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """The label map stored by :func:`encode_mask`, in its smallest unsigned type.

    The array has the memory layout it was encoded from (C order, or a Fortran-ordered view).

    Raises :class:`~workbench.lesions.errors.MaskCodecError` for anything but an intact blob
    of this format, and for a declared size above ``max_bytes`` (checked before inflating).
    """
    data = bytes(blob)
    if len(data) < _HEADER.size + _CRC.size:
        raise MaskCodecError(f"mask blob: {len(data)} bytes, too short for a mask")
    fields = _HEADER.unpack_from(data)
    magic, version, method, itemsize, ndim, order, ni, nj, nk, runs, length = fields
    if magic != MAGIC:
        raise MaskCodecError(f"mask blob: not a stored mask (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise MaskCodecError(f"mask blob: format version {version}, this workbench reads {VERSION}")
    expected_length = _HEADER.size + length + _CRC.size
    if len(data) != expected_length:
        raise MaskCodecError(
            f"mask blob: {len(data)} bytes, the header declares {expected_length} (truncated?)"
        )
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(data[: -_CRC.size]) != crc:
        raise MaskCodecError("mask blob: checksum mismatch, the stored mask is corrupted")
    if method not in (METHOD_ZLIB, METHOD_RUNS):
        raise MaskCodecError(f"mask blob: unknown compression method {method}")
    if itemsize not in _DTYPES or ndim != 3 or order not in (0, 1):
        raise MaskCodecError(
            f"mask blob: bad header (itemsize {itemsize}, ndim {ndim}, order {order})"
        )
    shape = (ni, nj, nk)
    voxels = math.prod(shape)
    if voxels * itemsize > max_bytes:
        raise MaskCodecError(
            f"mask blob: declares {shape[0]} x {shape[1]} x {shape[2]} voxels of {itemsize} "
            f"byte(s) = {voxels * itemsize:,} bytes, above the limit of {max_bytes:,}; refused"
        )
    dtype = _DTYPES[itemsize]
    if method == METHOD_RUNS:
        if runs > voxels or (voxels and runs == 0):
            raise MaskCodecError(f"mask blob: {runs:,} runs cannot make {voxels:,} voxels")
        raw = _inflate(data[_HEADER.size : -_CRC.size], runs * (itemsize + 4))
        values = np.frombuffer(raw, dtype=dtype, count=runs)
        lengths = np.frombuffer(raw, dtype="<u4", offset=runs * itemsize, count=runs)
        if runs and (int(lengths.min()) == 0 or int(lengths.sum(dtype=np.uint64)) != voxels):
            raise MaskCodecError("mask blob: run lengths do not add up to the voxel count")
        flat = np.repeat(values, lengths)
    else:
        raw = _inflate(data[_HEADER.size : -_CRC.size], voxels * itemsize)
        flat = np.frombuffer(raw, dtype=dtype).copy()
    native = flat.astype(dtype.newbyteorder("="), copy=False)
    if order == 1:
        return native.reshape(shape[::-1]).T
    return native.reshape(shape)


def _inflate(payload: bytes, expected: int) -> bytes:
    """Inflate ``payload``, refusing anything but exactly ``expected`` bytes (bomb-safe)."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(payload, expected + 1)
    except zlib.error as exc:
        raise MaskCodecError(f"mask blob: corrupted compressed data ({exc})") from None
    if len(raw) != expected or not inflater.eof or inflater.unconsumed_tail:
        raise MaskCodecError(
            f"mask blob: compressed data inflates to {'more' if len(raw) > expected else 'less'} "
            f"than the declared {expected:,} bytes"
        )
    return raw


def mask_sha256(labels: Any) -> str:
    """SHA-256 (hex) of a label map's canonical form, independent of type and memory layout.

    The form is the shape, then the flat C-order indices (``<u8``) of the non-zero voxels and
    their labels (``<u4``): the same labels on the same grid always give the same digest, and
    a sparse lesion mask is hashed in time proportional to its voxels, not to the grid.
    """
    array = checked_labels(labels, "mask_sha256")
    where = np.nonzero(array)
    flat = np.ravel_multi_index(where, array.shape)
    return sparse_mask_sha256(array.shape, flat, array[where])


def sparse_mask_sha256(shape: tuple[int, ...], flat_indices: Any, values: Any) -> str:
    """:func:`mask_sha256` from the non-zero voxels alone (flat C-order indices, labels)."""
    order = np.argsort(flat_indices, kind="stable")
    digest = hashlib.sha256(_CANONICAL_PREFIX)
    digest.update(struct.pack("<B3Q", len(shape), *shape))
    digest.update(np.asarray(flat_indices, dtype="<u8")[order].tobytes())
    digest.update(np.asarray(values, dtype="<u4")[order].tobytes())
    return digest.hexdigest()
