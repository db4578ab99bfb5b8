"""The stored byte form of label maps: exact round trips, size, and refusal of bad blobs."""

from __future__ import annotations

import struct
import time
import zlib

import numpy as np
import pytest

from workbench.lesions.codec import _HEADER, MAGIC, decode_mask, encode_mask, mask_sha256
from workbench.lesions.errors import LesionMaskError, MaskCodecError


def lesion_mask(shape: tuple[int, int, int] = (256, 256, 256), n: int = 20) -> np.ndarray:
    """``n`` ball-shaped lesions (radius 3 to 9 voxels) in an otherwise empty volume."""
    rng = np.random.default_rng(11)
    labels = np.zeros(shape, dtype=np.uint8)
    x, y, z = np.ogrid[: shape[0], : shape[1], : shape[2]]
    for label in range(1, n + 1):
        cx, cy, cz = (int(rng.integers(s // 5, s - s // 5)) for s in shape)
        r = int(rng.integers(2, max(3, min(shape) // 25)))
        labels[(x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 < r * r] = label
    return labels


@pytest.mark.parametrize(
    ("high", "dtype", "expected"),
    [(5, np.uint8, np.uint8), (255, np.int64, np.uint8), (4000, np.uint16, np.uint16),
     (70_000, np.uint32, np.uint32), (3_000_000_000, np.uint64, np.uint32)],
)  # fmt: skip
def test_random_label_maps_round_trip_voxel_for_voxel(
    high: int, dtype: type, expected: type
) -> None:
    rng = np.random.default_rng(high)
    labels: np.ndarray = rng.integers(0, high + 1, size=(19, 23, 11)).astype(dtype)
    labels[0, 0, 0] = high
    decoded = decode_mask(encode_mask(labels))
    assert decoded.dtype == expected
    assert decoded.shape == labels.shape
    assert np.array_equal(decoded, labels)


def test_many_labels_above_255_in_blobs_round_trip() -> None:
    labels = np.zeros((64, 64, 32), dtype=np.uint16)
    for label in range(1, 1001):
        i, j, k = (label * 7) % 60, (label * 13) % 60, (label * 3) % 30
        labels[i : i + 2, j : j + 2, k : k + 2] = label + 300
    blob = encode_mask(labels)
    assert np.array_equal(decode_mask(blob), labels)
    assert mask_sha256(decode_mask(blob)) == mask_sha256(labels)


def test_layouts_and_edge_cases_round_trip() -> None:
    labels = lesion_mask((40, 30, 20), n=5)
    fortran = np.asfortranarray(labels)
    assert np.array_equal(decode_mask(encode_mask(fortran)), labels)
    view = np.ascontiguousarray(labels.transpose(2, 1, 0)).transpose(2, 1, 0)
    assert np.array_equal(decode_mask(encode_mask(view)), labels)
    assert np.array_equal(decode_mask(encode_mask(labels[::2, 3:, ::-1])), labels[::2, 3:, ::-1])
    empty = np.zeros((5, 6, 7), dtype=np.uint8)
    assert np.array_equal(decode_mask(encode_mask(empty)), empty)
    full = np.full((5, 6, 7), 9, dtype=np.uint8)
    assert np.array_equal(decode_mask(encode_mask(full)), full)
    assert np.array_equal(decode_mask(encode_mask(labels.astype(bool))), labels != 0)


def test_a_256_cube_with_20_lesions_is_small_and_fast() -> None:
    labels = lesion_mask()
    encode_mask(labels)  # warm up
    start = time.perf_counter()
    blob = encode_mask(labels)
    elapsed = time.perf_counter() - start
    assert len(blob) < 10_000  # 16.8 MB of voxels
    assert elapsed < 0.5  # typically ~5 ms; generous for a loaded CI machine
    assert np.array_equal(decode_mask(blob), labels)


def test_hash_is_canonical() -> None:
    labels = lesion_mask((30, 20, 10), n=4)
    digest = mask_sha256(labels)
    assert len(digest) == 64
    assert mask_sha256(labels.astype(np.uint32)) == digest
    assert mask_sha256(labels.astype(np.int16)) == digest
    assert mask_sha256(np.asfortranarray(labels)) == digest
    changed = labels.copy()
    changed[0, 0, 0] += 1
    assert mask_sha256(changed) != digest
    assert mask_sha256(labels.reshape(20, 30, 10)) != digest  # same bytes, another grid


def _reheader(blob: bytes, **fields: int) -> bytes:
    """``blob`` with header fields replaced and a valid CRC (a well-formed lie)."""
    names = ("magic", "version", "method", "itemsize", "ndim", "order", "ni", "nj", "nk")
    values = dict(zip((*names, "runs", "length"), _HEADER.unpack_from(blob), strict=True))
    values.update(fields)
    body = _HEADER.pack(*values.values()) + blob[_HEADER.size : -4]
    return body + struct.pack("<I", zlib.crc32(body))


def test_decompression_bomb_is_refused_before_inflating() -> None:
    # A tiny payload that claims 2048^3 voxels (8 GiB as uint8).
    labels = np.zeros((4, 4, 4), dtype=np.uint8)
    bomb = _reheader(encode_mask(labels), ni=2048, nj=2048, nk=2048)
    with pytest.raises(MaskCodecError, match="above the limit"):
        decode_mask(bomb)
    with pytest.raises(MaskCodecError, match="above the limit"):
        decode_mask(encode_mask(np.zeros((64, 64, 64), dtype=np.uint8)), max_bytes=1000)
    # A payload that inflates to more than the header declares is cut off, not expanded.
    zeros = zlib.compress(bytes(50_000_000), 9)
    header = _HEADER.pack(MAGIC, 1, 0, 1, 3, 0, 10, 10, 10, 0, len(zeros))
    overflow = header + zeros + struct.pack("<I", zlib.crc32(header + zeros))
    with pytest.raises(MaskCodecError, match="inflates to more than the declared 1,000 bytes"):
        decode_mask(overflow)


def test_corrupted_or_foreign_blobs_are_refused_clearly() -> None:
    blob = encode_mask(lesion_mask((30, 20, 10), n=4))
    flipped = bytearray(blob)
    flipped[_HEADER.size + 3] ^= 0xFF
    with pytest.raises(MaskCodecError, match="checksum mismatch"):
        decode_mask(bytes(flipped))
    with pytest.raises(MaskCodecError, match="truncated"):
        decode_mask(blob[:-10])
    with pytest.raises(MaskCodecError, match="too short"):
        decode_mask(b"PMLM")
    with pytest.raises(MaskCodecError, match="not a stored mask"):
        decode_mask(b"\x89PNG" + blob[4:])
    with pytest.raises(MaskCodecError, match="format version 9"):
        decode_mask(_reheader(blob, version=9))
    with pytest.raises(MaskCodecError, match="unknown compression method"):
        decode_mask(_reheader(blob, method=7))
    with pytest.raises(MaskCodecError, match="bad header"):
        decode_mask(_reheader(blob, itemsize=3))
    # A consistent header whose runs do not cover the grid it claims.
    with pytest.raises(MaskCodecError, match=r"do not add up|inflates to"):
        decode_mask(_reheader(blob, nk=11))
    garbage = _HEADER.pack(MAGIC, 1, 0, 1, 3, 0, 2, 2, 2, 0, 5) + b"\x00" * 5
    with pytest.raises(MaskCodecError, match="corrupted compressed data"):
        decode_mask(garbage + struct.pack("<I", zlib.crc32(garbage)))


def test_encode_refuses_non_labels() -> None:
    with pytest.raises(LesionMaskError, match="negative"):
        encode_mask(np.full((2, 2, 2), -3, dtype=np.int16))
    with pytest.raises(LesionMaskError, match="integers"):
        encode_mask(np.zeros((2, 2, 2), dtype=np.float32))
