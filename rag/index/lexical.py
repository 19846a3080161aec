"""BM25 over Chinese-aware tokens, with bm25s.

Whitespace tokenization turns a whole Chinese sentence into one "word", which
is how BM25 silently breaks on Chinese elsewhere. Here text is cut either by
jieba (search mode, so 脱贫攻坚 also yields 脱贫 and 攻坚) or into overlapping
character bigrams; Latin words and numbers are lower-cased whole words in both.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from rag.errors import ConfigError

TokenizerName = Literal["jieba", "bigram"]
TOKENIZERS: tuple[str, ...] = ("jieba", "bigram")

HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideograph ranges, for regex classes
_PIECES = re.compile(rf"[{HAN}]+|[A-Za-z0-9\u00c0-\u024f]+(?:[.'][A-Za-z0-9]+)*")
# Function words and question words carry no topic; dropping them sharpens BM25.
STOPWORDS = frozenset(
    "的 了 和 是 在 与 及 或 等 也 就 都 而 又 被 把 对 为 以 于 之 其 这 那 此 该 并 上 中 下 "
    "吗 呢 吧 啊 呀 么 什么 哪 哪里 哪儿 哪个 哪些 谁 几 多少 怎么 怎样 如何 为什么 何 何时 "
    "是否 有没有 有 没有 请问 一个 一些 这个 那个 哪一 哪位 the a an of to in is are was what "
    "who where when which how".split()
)
_jieba_lock = threading.Lock()


def tokenize(text: str, method: TokenizerName = "jieba") -> list[str]:
    """Tokens for BM25: lower-cased, stopwords and punctuation dropped."""
    if method not in TOKENIZERS:
        raise ConfigError(f"unknown lexical tokenizer {method!r}; valid: {', '.join(TOKENIZERS)}")
    tokens: list[str] = []
    for piece in _PIECES.findall(text.lower()):
        if not ("\u3400" <= piece[0] <= "\ufaff"):
            tokens.append(piece)
        elif method == "bigram":
            tokens.extend(piece[i : i + 2] for i in range(max(1, len(piece) - 1)))
        else:
            tokens.extend(_jieba_cut(piece))
    return [t for t in tokens if t not in STOPWORDS]


def _jieba_cut(text: str) -> list[str]:
    import jieba

    with _jieba_lock:  # jieba initializes its dictionary lazily and not thread-safely
        if not jieba.dt.initialized:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
    return [t for t in jieba.cut_for_search(text) if t.strip()]


class LexicalIndex:
    """A bm25s index over pre-tokenized chunks; built once, saved, never rebuilt per query."""

    def __init__(self, method: TokenizerName = "jieba") -> None:
        if method not in TOKENIZERS:
            raise ConfigError(f"unknown lexical tokenizer {method!r}; valid: {', '.join(TOKENIZERS)}")
        self.method = method
        self._bm25 = None
        self.size = 0

    def build(self, token_lists: Sequence[list[str]]) -> LexicalIndex:
        import bm25s

        self.size = len(token_lists)
        # bm25s needs at least one token per document; "" stands in for none.
        corpus = [tokens or [""] for tokens in token_lists]
        self._bm25 = bm25s.BM25()
        self._bm25.index(corpus, show_progress=False)
        return self

    def search(self, query: str | list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(indexes, scores) of the top-k chunks by BM25, best first; zero scores dropped."""
        tokens = tokenize(query, self.method) if isinstance(query, str) else query
        if self._bm25 is None or self.size == 0 or not tokens:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ids = self._bm25.get_tokens_ids(tokens)
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self._bm25.get_scores_from_ids(ids)
        k = min(k, self.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return top.astype(np.int64), scores[top].astype(np.float32)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(folder))
        (folder / "rag_lexical.json").write_text(
            json.dumps({"method": self.method, "size": self.size}), encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        meta = json.loads((folder / "rag_lexical.json").read_text(encoding="utf-8"))
        index = cls(meta["method"])
        index.size = int(meta["size"])
        index._bm25 = bm25s.BM25.load(str(folder))
        return index
