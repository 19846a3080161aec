from __future__ import annotations

import pytest

from rag.chunking import Chunker, split_sentences
from rag.config import ChunkingConfig
from rag.types import Document

from .conftest import ARTICLE


def doc(text: str) -> Document:
    return Document.from_text(text, "t.txt")


def test_offsets_round_trip_on_the_article() -> None:
    d = doc(ARTICLE.read_text(encoding="utf-8"))
    chunker = Chunker(ChunkingConfig())
    sentences = chunker.sentences(d)
    assert all(d.text[s.start : s.end] == s.text for s in sentences)
    assert [s.number for s in sentences] == list(range(1, len(sentences) + 1))
    chunks = chunker.chunk(d, sentences)
    assert all(d.text[c.start : c.end] == c.text for c in chunks)
    covered = {i for c in chunks for i in range(*c.sentences)}
    assert covered == set(range(len(sentences)))  # nothing is lost


def test_sentence_ends_and_closing_quotes_stay() -> None:
    d = doc("他说：“好。”然后离开了！真的吗？是的；结束……最后")
    assert [s.text for s in split_sentences(d)] == ["他说：“好。”", "然后离开了！", "真的吗？", "是的；",
                                                   "结束……", "最后"]


def test_paragraph_numbers_follow_non_empty_lines() -> None:
    d = doc("第一段。\n\n第二段第一句。第二句。\n第三段")
    assert [(s.paragraph, s.text) for s in split_sentences(d)] == [
        (1, "第一段。"), (2, "第二段第一句。"), (2, "第二句。"), (3, "第三段")]


@pytest.mark.parametrize("text", ["", "中", "a", "😀"])
def test_tiny_inputs(text: str) -> None:
    sentences = split_sentences(doc(text))
    assert [s.text for s in sentences] == ([text] if text else [])
    assert len(Chunker(ChunkingConfig()).chunk(doc(text))) == (1 if text else 0)


def test_mixed_chinese_english_emoji() -> None:
    d = doc("RAG works. 中文也行😀！Emoji 👍 here? 好")
    texts = [s.text for s in split_sentences(d)]
    assert texts == ["RAG works.", "中文也行😀！", "Emoji 👍 here?", "好"]


def test_long_sentence_is_cut_at_a_comma() -> None:
    d = doc("，".join(["这是一个很长的分句"] * 30) + "。")
    sentences = split_sentences(d, max_chars=50)
    assert all(len(s.text) <= 50 for s in sentences)
    assert "".join(s.text for s in sentences) == d.text
    assert all(s.text.endswith(("，", "。")) for s in sentences)


def test_chunks_overlap_by_sentences() -> None:
    d = doc("".join(f"第{i}句话写在这里。" for i in range(20)))
    chunks = Chunker(ChunkingConfig(chunk_chars=40, overlap_sentences=1)).chunk(d)
    assert len(chunks) > 2
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.sentences[0] == a.sentences[1] - 1  # one shared sentence
    assert len({c.id for c in chunks}) == len(chunks)


def test_invalid_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="overlap_sentences"):
        Chunker(ChunkingConfig(overlap_sentences=-1))
