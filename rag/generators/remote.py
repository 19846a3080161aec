"""Any OpenAI-compatible /v1/chat/completions server (vLLM, llama.cpp server, Ollama), over SSE."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from rag.config import DEFAULT_REFUSAL
from rag.errors import ConfigError, GenerationError
from rag.generators import ChatGenerator


class OpenAIGenerator(ChatGenerator):
    def __init__(self, config: Any, *, refusal: str = DEFAULT_REFUSAL) -> None:
        if not config.base_url:
            raise ConfigError("generation.base_url must be set for the openai backend, "
                             "e.g. http://127.0.0.1:8000/v1")
        if config.timeout_s <= 0:
            raise ConfigError(f"generation.timeout_s must be > 0, got {config.timeout_s}")
        self.config = config
        self.refusal = refusal
        self.url = config.base_url.rstrip("/") + "/chat/completions"

    def stream_messages(self, messages: list[dict[str, str]]) -> Iterator[str]:
        c = self.config
        body = {"model": c.model, "messages": messages, "stream": True,
                "max_tokens": c.max_new_tokens, "temperature": c.temperature}
        key = c.api_key or os.environ.get("OPENAI_API_KEY", "")
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers)
        try:
            response = urllib.request.urlopen(request, timeout=c.timeout_s)
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace")
            raise GenerationError(f"{self.url} answered HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise GenerationError(f"cannot reach the generation server at {self.url}: "
                                  f"{getattr(exc, 'reason', exc)}") from exc
        try:
            with response:
                yield from _sse_pieces(response, self.url)
        except TimeoutError as exc:
            raise GenerationError(f"{self.url} stopped sending for {c.timeout_s}s (timeout)") from exc


def _sse_pieces(response: Any, url: str) -> Iterator[str]:
    """The content deltas of an SSE chat-completions stream."""
    for raw in response:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError as exc:
            raise GenerationError(f"{url} sent a malformed event: {data[:200]}") from exc
        if "error" in event:
            raise GenerationError(f"{url} reported an error: {event['error']}")
        for choice in event.get("choices", []):
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                yield piece
