"""The reader's tokens: e5's sentencepiece pieces, or the same with Chinese pieces cut into characters.

e5's tokenizer (XLM-R's sentencepiece) merges Chinese characters into pieces: 推进, 会在,
召开. A span can only start and end on a piece, so an answer that begins inside 会在
cannot be read exactly, and the reader learns its boundaries on a coarse grid. Chinese
readers are trained on single characters (BERT-wwm, RBT3, MiniRBT). `CharPieces` gives
the reader that: every piece holding a non-ASCII character is cut into its characters,
each of which is itself a piece of the vocabulary; Latin words and numbers stay whole,
as do pieces with a character the vocabulary lacks.

    tokenizer = reader_tokenizer(e5_tokenizer, char_tokens=True)
    tokenizer.encode_batch(["在菏泽召开"])[0].ids   # one id per character
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SPACE = "▁"  # sentencepiece's word-start mark


@dataclass(frozen=True)
class Pieces:
    ids: list[int]
    offsets: list[tuple[int, int]]  # character span of each piece in the text


class CharPieces:
    """A tokenizer whose `encode_batch` cuts Chinese pieces into single characters."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._space = tokenizer.token_to_id(SPACE)
        if self._space is None:
            raise ValueError(f"this tokenizer has no {SPACE!r} piece; it is not a sentencepiece "
                             "(XLM-R) tokenizer, which character pieces need")
        self._ids: dict[str, int | None] = {}  # character -> its own piece id (None: not in vocab)

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = False) -> list[Pieces]:
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=add_special_tokens)
        return [self._split(e.ids, e.tokens, e.offsets) for e in encodings]

    def _split(self, ids: Sequence[int], tokens: Sequence[str],
               offsets: Sequence[tuple[int, int]]) -> Pieces:
        out_ids: list[int] = []
        out_offsets: list[tuple[int, int]] = []
        for piece_id, token, (a, b) in zip(ids, tokens, offsets, strict=True):
            body = token[1:] if token.startswith(SPACE) else token
            chars = self._char_ids(body) if b - a == len(body) > 1 else None
            if chars is None:  # keep the piece: ASCII, one character, or not cuttable
                out_ids.append(piece_id)
                out_offsets.append((a, b))
                continue
            if token.startswith(SPACE):  # the word-start mark becomes a piece of its own
                out_ids.append(self._space)
                out_offsets.append((a, a))
            out_ids.extend(chars)
            out_offsets.extend((a + k, a + k + 1) for k in range(len(body)))
        return Pieces(out_ids, out_offsets)

    def _char_ids(self, body: str) -> list[int] | None:
        """Each character's own piece id, or None when the piece should stay whole."""
        if body.isascii():
            return None
        ids = []
        for ch in body:
            if ch not in self._ids:
                self._ids[ch] = self.tokenizer.token_to_id(ch)
            found = self._ids[ch]
            if found is None:
                return None
            ids.append(found)
        return ids


def reader_tokenizer(tokenizer: Any, char_tokens: bool) -> Any:
    """The tokenizer a reader trained with (or without) character pieces must read with."""
    return CharPieces(tokenizer) if char_tokens else tokenizer
