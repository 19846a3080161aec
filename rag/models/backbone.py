"""The embedding model's transformer and tokenizer, loaded without sentence-transformers.

A sentence-transformers folder of [Transformer, mean Pooling, Normalize?] (e5 is one)
is, for the CPU path (`TorchEncoder`), just a transformer and its Rust tokenizer. Loading
those two directly skips importing sentence-transformers, which brings scikit-learn and
SciPy along: about 110 MB of a serving process's memory, for code it never runs there.

The 366 MiB word-embedding matrix is looked up through `FileRows` (rows.py), which reads
only the rows of pieces seen from the weights file. The tokenizer adds ~265 MB, nearly all
of it the Unigram model's trie of 250,002 pieces.

    backbone = load_backbone(folder, max_seq_length=512)   # None: not a mean-pooled folder
    backbone.model, backbone.tokenizer

Anything else (another pooling, a GPU) is left to sentence-transformers, which reads the
same folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ST = "sentence_transformers.models."


@dataclass(frozen=True)
class Backbone:
    model: Any  # a transformers encoder (BertModel), eval mode, no gradients
    tokenizer: Any  # tokenizers.Tokenizer, adding <s> and </s> itself
    max_seq_length: int
    pad_id: int


def is_mean_pooled(folder: Path) -> bool:
    """True for modules [Transformer at the root, mean Pooling (prompt included), Normalize?]."""
    try:
        modules = json.loads((folder / "modules.json").read_text("utf-8"))
        kinds = [m["type"].removeprefix(ST) for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return False
        if modules[0]["path"] != "":
            return False
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text("utf-8"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    modes = [k.removeprefix("pooling_mode_") for k, v in pooling.items()
             if k.startswith("pooling_mode") and v and k != "pooling_mode"]
    mode = pooling.get("pooling_mode") or ",".join(modes)  # newer releases name it; older set flags
    return mode in ("mean", "mean_tokens") and pooling.get("include_prompt", True) is not False


def load_frozen(folder: str | Path) -> tuple[Any, Any]:
    """(transformer in eval mode without gradients, tokenizers.Tokenizer) of a model folder."""
    import transformers
    from tokenizers import Tokenizer
    from transformers import AutoModel

    from rag.models.rows import use_file_rows  # imports torch: only once a model loads

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(folder), local_files_only=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad = False
    use_file_rows(model, Path(folder) / "model.safetensors")
    return model, Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))


def load_backbone(folder: str | Path, max_seq_length: int) -> Backbone | None:
    """The transformer and tokenizer of a mean-pooled folder (None for any other folder)."""
    folder = Path(folder)
    if not is_mean_pooled(folder) or not (folder / "tokenizer.json").is_file():
        return None
    model, tokenizer = load_frozen(folder)
    limit = min(max_seq_length, int(getattr(model.config, "max_position_embeddings", 512)), 512)
    pad = model.config.pad_token_id
    return Backbone(model, tokenizer, limit, int(pad) if pad is not None else 0)

