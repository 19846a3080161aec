"""A local transformers chat model (for example Qwen2.5-1.5B-Instruct), streamed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from rag.config import DEFAULT_REFUSAL
from rag.errors import ConfigError, GenerationError
from rag.generators import ChatGenerator


class TransformersGenerator(ChatGenerator):
    """Loads the model on first use (never at import), then streams with TextIteratorStreamer."""

    def __init__(self, config: Any, *, refusal: str = DEFAULT_REFUSAL) -> None:
        if not config.model:
            raise ConfigError("generation.model must name a local folder or a cached HF id")
        if config.max_new_tokens < 1:
            raise ConfigError(f"generation.max_new_tokens must be >= 1, got {config.max_new_tokens}")
        self.config = config
        self.refusal = refusal
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        from rag.models.resolve import force_offline, resolve_device

        force_offline()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        c = self.config
        device = resolve_device(c.device)
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(c.model, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(c.model, local_files_only=True,
                                                         dtype="auto" if device == "cuda" else torch.float32)
        except OSError as exc:
            raise GenerationError(
                f"generation model {c.model!r} not found locally ({exc}). Set generation.model to a "
                "local folder, or download it on a machine with internet and copy the HF cache here."
            ) from exc
        self._model = model.to(device).eval()

    def stream_messages(self, messages: list[dict[str, str]]) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        with self._lock:
            if self._model is None:
                self._load()
        tok, model, c = self._tokenizer, self._model, self.config
        prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = tok(prompt, return_tensors="pt").to(model.device)
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=c.timeout_s)
        kwargs = dict(**inputs, streamer=streamer, max_new_tokens=c.max_new_tokens,
                      pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
        if c.temperature > 0:
            kwargs.update(do_sample=True, temperature=c.temperature)
        else:
            kwargs.update(do_sample=False)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    model.generate(**kwargs)
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        yield from (piece for piece in streamer if piece)
        worker.join()
        if errors:
            raise GenerationError(f"local generation failed: {errors[0]}") from errors[0]
