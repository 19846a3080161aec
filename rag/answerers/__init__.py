"""Answerers turn retrieved passages into a cited Answer; `make_answerer` picks one from the config."""

from __future__ import annotations

from typing import Any

from rag.answerers.extractive import ExtractiveAnswerer
from rag.answerers.reader import ReaderAnswerer
from rag.config import Config


def make_answerer(config: Config, embedder: Any) -> ExtractiveAnswerer | ReaderAnswerer:
    """The reader when `answer.reader` names one (its files are checked now), else sentences only."""
    if config.answer.reader is None:
        return ExtractiveAnswerer(config.answer)
    from rag.reader.reader import SpanReader

    def base() -> tuple[Any, Any]:
        from rag.embed import Embedder
        from rag.reader.loading import load_base, shared_base

        if isinstance(embedder, Embedder):
            return shared_base(embedder)  # the embedder's own layers: in memory once
        return load_base(config.embedding)  # a test fake: the base model on its own

    planner = getattr(embedder, "planner", None)  # the embedder's, so choices share one cache
    reader = SpanReader(config.answer.reader, base, config.reader_dtype, planner)
    return ReaderAnswerer(config.answer, reader)


__all__ = ["ExtractiveAnswerer", "ReaderAnswerer", "make_answerer"]
