"""Traditional Chinese questions over Simplified documents.

會議由誰主持？ should find what 会议由谁主持？ finds. When the index's text is
Simplified, a question is converted with OpenCC (t2s) for retrieval and matching;
the answer still quotes the documents as written. An index that is itself
Traditional (or mixed) is left alone: its questions already match it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable


@functools.cache
def _t2s() -> Callable[[str], str]:
    from opencc import OpenCC

    return OpenCC("t2s").convert


def to_simplified(text: str) -> str:
    return _t2s()(text)


def is_simplified(texts: Iterable[str], sample_chars: int = 20_000, tolerance: float = 0.002) -> bool:
    """Whether at most `tolerance` of a sample of `texts` changes under t2s."""
    sample, size = [], 0
    for text in texts:
        sample.append(text[: sample_chars - size])
        size += len(sample[-1])
        if size >= sample_chars:
            break
    joined = "".join(sample)
    if not joined:
        return True
    converted = to_simplified(joined)
    changed = sum(a != b for a, b in zip(joined, converted, strict=False)) + abs(len(joined) - len(converted))
    return changed <= tolerance * len(joined)
