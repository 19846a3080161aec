"""What this machine is, as far as the fastest compute path is concerned.

A runtime choice measured on one machine is only valid on a machine with the same
CPU model, the same instruction-set flags, the same thread count and the same
library versions. `machine_key()` folds all of those into one short hash.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")  # the ones that move matmul speed
LIBRARIES = ("torch", "transformers", "sentence-transformers", "tokenizers", "onnxruntime")


@dataclass(frozen=True)
class Machine:
    cpu: str
    flags: tuple[str, ...]  # those of FLAGS the CPU reports
    threads: int
    libraries: tuple[tuple[str, str], ...]  # (name, version or "absent")

    def key(self) -> str:
        text = repr(sorted(asdict(self).items()))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def describe(self) -> str:
        shown = ("amx_bf16", "avx512_bf16", "avx2")
        flags = ", ".join(f"{f} {'yes' if f in self.flags else 'no'}" for f in shown)
        return f"{self.cpu} ({flags}); {self.threads} threads"


def this_machine() -> Machine:
    cpu, flags = _cpuinfo(Path("/proc/cpuinfo"))
    import torch

    return Machine(cpu=cpu or platform.processor() or "unknown CPU", flags=flags,
                   threads=torch.get_num_threads(), libraries=tuple(_versions()))


def _cpuinfo(path: Path) -> tuple[str, tuple[str, ...]]:
    """(model name, the FLAGS it has) from /proc/cpuinfo; ("", ()) where there is none."""
    model, have = "", set()
    try:
        for line in path.read_text(errors="replace").splitlines():
            name, _, value = line.partition(":")
            name = name.strip()
            if name == "model name" and not model:
                model = value.strip()
            elif name == "flags" and not have:
                have = set(value.split())
    except OSError:
        pass
    return model, tuple(f for f in FLAGS if f in have)


def _versions() -> list[tuple[str, str]]:
    out = []
    for name in LIBRARIES:
        try:
            out.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            out.append((name, "absent"))
    out.append(("python", platform.python_version()))
    out.append(("cpu_count", str(os.cpu_count())))
    return out
