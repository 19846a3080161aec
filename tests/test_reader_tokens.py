"""Character pieces for the reader, on e5's real tokenizer."""

from __future__ import annotations

from typing import Any

import pytest

from rag.embed import Embedder
from rag.reader.loading import shared_base
from rag.reader.net import encode, token_span
from rag.reader.tokens import CharPieces, reader_tokenizer


@pytest.fixture(scope="module")
def e5_tokenizer(embedder: Embedder) -> Any:
    return shared_base(embedder)[1]


def _pieces(tokenizer: Any, text: str) -> list[tuple[str, str]]:
    p = CharPieces(tokenizer).encode_batch([text])[0]
    return [(tokenizer.id_to_token(i), text[a:b]) for i, (a, b) in zip(p.ids, p.offsets, strict=True)]


def test_chinese_pieces_become_characters_and_ascii_stays_whole(e5_tokenizer: Any) -> None:
    text = "推进会在菏泽召开，GDP增长7.5%。"
    plain = e5_tokenizer.encode(text, add_special_tokens=False).tokens
    assert "会在" in plain or "召开" in plain  # e5 merges characters: the reason for this module
    pieces = _pieces(e5_tokenizer, text)
    expected = [*"推进会在菏泽召开", ",", "GDP", "增", "长", "7.5", "%", "。"]
    assert [t for t, _ in pieces if t != "▁"] == expected
    assert all(t.lstrip("▁") == s or t == "," or t == "▁" for t, s in pieces)  # offsets point at the text


def test_a_span_inside_a_merged_piece_becomes_reachable(e5_tokenizer: Any) -> None:
    window = "全省脱贫攻坚推进会在菏泽召开"
    start = window.index("在菏泽")  # starts inside the piece 会在
    plain = encode(e5_tokenizer, ["在哪里召开？"], [window])
    chars = encode(CharPieces(e5_tokenizer), ["在哪里召开？"], [window])
    a, b = token_span(chars, 0, start, start + 3)  # type: ignore[misc]
    assert (chars.offsets[0][a][0], chars.offsets[0][b][1]) == (start, start + 3)
    a, b = token_span(plain, 0, start, start + 3)  # type: ignore[misc]
    assert plain.offsets[0][a][0] < start  # with e5's pieces the span must take 会 along


@pytest.mark.parametrize("text", ["", "中", "a", "混合 English 和 emoji 😀 文字…", "\u3000全角　ＡＢＣ１２"])
def test_edge_texts_keep_offsets_inside_the_text(e5_tokenizer: Any, text: str) -> None:
    p = CharPieces(e5_tokenizer).encode_batch([text])[0]
    assert len(p.ids) == len(p.offsets)
    assert all(0 <= a <= b <= len(text) for a, b in p.offsets)
    assert [a for a, _ in p.offsets] == sorted(a for a, _ in p.offsets)
    if text:
        assert p.ids  # nothing is dropped


def test_reader_tokenizer_only_wraps_when_asked(e5_tokenizer: Any) -> None:
    assert reader_tokenizer(e5_tokenizer, False) is e5_tokenizer
    assert isinstance(reader_tokenizer(e5_tokenizer, True), CharPieces)


def test_a_tokenizer_without_sentencepiece_marks_is_refused() -> None:
    class Plain:
        def token_to_id(self, token: str) -> int | None:
            return None

    with pytest.raises(ValueError, match="sentencepiece"):
        CharPieces(Plain())
