"""Put a ReaderNet together: the e5 base (shared with the embedder when given) plus trained parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.config import EmbeddingConfig
from rag.reader.net import ReaderNet


def load_base(config: EmbeddingConfig) -> tuple[Any, Any]:
    """(BertModel, tokenizers.Tokenizer) of the embedding model, loaded on its own, frozen."""
    from rag.models.backbone import load_frozen
    from rag.models.resolve import force_offline, resolve_model

    force_offline()
    resolved = resolve_model(config.model, config.cache_dir, query_prompt=config.query_prompt,
                             passage_prompt=config.passage_prompt)
    return load_frozen(resolved.path)


def shared_base(embedder: Any) -> tuple[Any, Any]:
    """The embedder's own BertModel and tokenizer, so the frozen layers exist once in memory."""
    backbone = getattr(embedder, "backbone", None)
    if backbone is not None:  # the CPU path: loaded without sentence-transformers
        return backbone.model, backbone.tokenizer
    module = embedder.model[0]
    base = getattr(module, "auto_model", None) or module.model
    return base, embedder.model.tokenizer.backend_tokenizer


def new_net(base: Any, trained_from: int) -> ReaderNet:
    net = ReaderNet(base, trained_from)
    for p in net.parameters():
        p.requires_grad = True
    return net


def init_from(net: ReaderNet, folder: Path, tokenizer: Any) -> None:
    """Start `net` from an earlier reader, which may have fine-tuned fewer top layers.

    A reader that trained layers 8-11 can seed a run that trains 6-11: its layers go to
    the top, and layers 6-7 start as e5-small's own (which is what they were in it).
    """
    from rag.errors import ReaderError
    from rag.reader import weights

    meta = weights.read_meta(folder)
    if meta.trained_from < net.trained_from:
        raise ReaderError(f"the reader in {folder} fine-tuned layers {meta.trained_from}+, more than "
                          f"this run's {net.trained_from}+; pass --trained-from {meta.trained_from} or lower")
    earlier = ReaderNet(net.__dict__["base"], meta.trained_from)
    weights.load_into(earlier, folder, meta, tokenizer)
    shift = meta.trained_from - net.trained_from
    for i, layer in enumerate(earlier.top):
        net.top[shift + i].load_state_dict(layer.state_dict())
    net.head.load_state_dict(earlier.head.state_dict())
