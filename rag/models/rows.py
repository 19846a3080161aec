"""The word-embedding lookup, reading each row from the weights file the first time it is needed.

e5-small's word-embedding matrix is 250,037 pieces x 384 floats: 366 MiB, four fifths of
the model, of which a Chinese corpus uses a few thousand rows. transformers maps the
safetensors file, so only touched pages are resident, but a page is not a row: each fault
maps the pages around it too (whole page-cache folios), and here (Linux 6.18) 1,000 random rows
made 56 to 134 MB of the file resident. Embedding the 1,000 contexts of CMRC trial and DRCD
dev kept 184 to 356 MiB of it in memory (benchmarks/embed_memory.py). `FileRows` reads just
the rows of the pieces it sees (1.5 KB each, with `os.pread`), keeps them, and answers every
lookup from them.

    rows = FileRows.from_safetensors(folder / "model.safetensors", model.get_input_embeddings())
    if rows is not None:
        model.set_input_embeddings(rows)
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

NAME_END = "word_embeddings.weight"


class FileRows(nn.Module):
    """A frozen float32 embedding whose rows live in a file until first looked up."""

    def __init__(self, path: Path, offset: int, shape: tuple[int, int]) -> None:
        super().__init__()
        if offset < 0 or len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"bad row file layout: offset {offset}, shape {shape}")
        self.path, self.offset, self.num_embeddings, self.embedding_dim = path, offset, *shape
        self._row_bytes = 4 * self.embedding_dim
        self._slot = torch.full((self.num_embeddings,), -1, dtype=torch.long)  # piece -> row held
        self._rows = torch.empty((64, self.embedding_dim), dtype=torch.float32)
        self._held = 0
        self._lock = threading.Lock()  # index builds embed from several threads at once

    @classmethod
    def from_safetensors(cls, weights: Path, embedding: nn.Module) -> FileRows | None:
        """The rows of `embedding` as stored in `weights`, or None where the file has no
        float32 matrix named *word_embeddings.weight of the same shape and values."""
        weight = getattr(embedding, "weight", None)
        if weight is None or weight.dtype != torch.float32 or weight.dim() != 2 or not weights.is_file():
            return None
        shape = (int(weight.shape[0]), int(weight.shape[1]))
        with weights.open("rb") as f:  # 8 bytes of header length, then JSON of byte ranges
            size = int.from_bytes(f.read(8), "little")
            try:
                header = json.loads(f.read(size))
            except ValueError:
                return None
        found = [info for name, info in header.items() if name.endswith(NAME_END)
                 and isinstance(info, dict) and info.get("dtype") == "F32"
                 and [int(n) for n in info.get("shape", ())] == list(shape)]
        if len(found) != 1:
            return None
        start, end = found[0]["data_offsets"]
        if end - start != 4 * shape[0] * shape[1]:
            return None
        rows = cls(weights, 8 + size + int(start), shape)
        probe = torch.tensor([0, shape[0] // 2, shape[0] - 1])
        if not torch.equal(rows(probe), weight.detach()[probe]):  # the file is not what was loaded
            return None
        return rows

    @property
    def held(self) -> int:
        """How many rows have been read in so far."""
        return self._held

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= self.num_embeddings):
            raise IndexError(f"piece id out of range 0..{self.num_embeddings - 1}")
        ids = input_ids.detach().to("cpu", torch.long)
        with self._lock:
            self._read(torch.unique(ids))
            slots = self._slot[ids]
            rows = self._rows[: self._held]
        return nn.functional.embedding(slots, rows).to(input_ids.device)

    def _read(self, ids: torch.Tensor) -> None:
        """Read in the rows of `ids` not held yet."""
        new = ids[self._slot[ids] < 0].tolist()
        if new:  # held tensors stay ordinary ones, even when the first lookup runs in inference mode
            with torch.inference_mode(False), torch.no_grad():
                self._append(new)

    def _append(self, new: list[int]) -> None:
        """Append the rows of the pieces `new` from the file, doubling the capacity as needed."""
        while self._held + len(new) > self._rows.shape[0]:
            grown = torch.empty((2 * self._rows.shape[0], self.embedding_dim), dtype=torch.float32)
            grown[: self._held] = self._rows[: self._held]
            self._rows = grown
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for k, piece in enumerate(new):
                data = os.pread(fd, self._row_bytes, self.offset + piece * self._row_bytes)
                if len(data) != self._row_bytes:
                    raise OSError(f"{self.path} ends inside row {piece} of its word embeddings")
                self._rows[self._held + k] = torch.from_numpy(np.frombuffer(data, dtype="<f4").copy())
        finally:
            os.close(fd)
        self._slot[torch.tensor(new)] = torch.arange(self._held, self._held + len(new))
        self._held += len(new)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, from {self.path.name}, {self._held} rows held"


def use_file_rows(model: Any, weights: Path) -> bool:
    """Give `model` a FileRows lookup in place of its loaded word embeddings; False where the
    file does not hold them as float32 (the model is then left as loaded)."""
    rows = FileRows.from_safetensors(weights, model.get_input_embeddings())
    if rows is None:
        return False
    model.set_input_embeddings(rows)
    return True
