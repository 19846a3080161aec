"""Generative answerers behind one small interface.

    class Generator(ABC):
        def stream(self, question, passages, history) -> Iterator[str]   # text pieces

`extractive` needs no generator; `transformers` runs a local chat model;
`openai` talks to any OpenAI-compatible /v1/chat/completions server.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

from rag.config import DEFAULT_REFUSAL
from rag.errors import ConfigError
from rag.types import Passage


class Generator(ABC):
    """A text generator: yields pieces of the answer as they are produced."""

    @abstractmethod
    def stream(self, question: str, passages: Sequence[Passage],
               history: Sequence[Any] | None = None) -> Iterator[str]:
        """Yield successive pieces of the answer to `question` from `passages`."""



class ChatGenerator(Generator):
    """A chat model: the prompts are built here, subclasses only move messages."""

    refusal: str = DEFAULT_REFUSAL  # what the model is told to answer when the passages lack it

    @abstractmethod
    def stream_messages(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Yield the reply to a chat `messages` list, piece by piece."""

    def stream(self, question: str, passages: Sequence[Passage],
               history: Sequence[Any] | None = None) -> Iterator[str]:
        from rag.generators.prompt import answer_messages

        return self.stream_messages(answer_messages(question, passages, history, self.refusal))

    def rewrite(self, question: str, history: Sequence[Any] | None) -> str:
        """An elliptical follow-up rewritten as a standalone question."""
        from rag.generators.prompt import rewrite_messages

        text = "".join(self.stream_messages(rewrite_messages(question, history))).strip()
        return text.splitlines()[0].strip() if text else question


def make_generator(config: Any) -> Generator | None:
    """The configured generator, or None for the extractive default. Loads nothing yet."""
    backend = config.generation.backend
    if backend == "extractive":
        return None
    if backend == "transformers":
        from rag.generators.local import TransformersGenerator

        return TransformersGenerator(config.generation, refusal=config.answer.refusal_text)
    if backend == "openai":
        from rag.generators.remote import OpenAIGenerator

        return OpenAIGenerator(config.generation, refusal=config.answer.refusal_text)
    raise ConfigError(f"unknown generation.backend {backend!r}; valid: extractive, transformers, openai")
