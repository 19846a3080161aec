"""Put a ReaderNet together: the e5 base (shared with the embedder when given) plus trained parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.config import EmbeddingConfig
from rag.reader.net import ReaderNet


def load_base(config: EmbeddingConfig) -> tuple[Any, Any]:
    """(BertModel, tokenizers.Tokenizer) of the embedding model, loaded on its own, frozen."""
    from tokenizers import Tokenizer
    from transformers import AutoModel

    from rag.models.resolve import force_offline, resolve_model

    force_offline()
    resolved = resolve_model(config.model, config.cache_dir, query_prompt=config.query_prompt,
                             passage_prompt=config.passage_prompt)
    base = AutoModel.from_pretrained(str(resolved.path), local_files_only=True)
    base.eval()
    for p in base.parameters():
        p.requires_grad = False
    return base, Tokenizer.from_file(str(Path(resolved.path) / "tokenizer.json"))


def shared_base(sentence_transformer: Any) -> tuple[Any, Any]:
    """The embedder's own BertModel and tokenizer, so the frozen layers exist once in memory."""
    module = sentence_transformer[0]
    base = getattr(module, "auto_model", None) or module.model
    return base, sentence_transformer.tokenizer.backend_tokenizer


def new_net(base: Any, trained_from: int) -> ReaderNet:
    net = ReaderNet(base, trained_from)
    for p in net.parameters():
        p.requires_grad = True
    return net
