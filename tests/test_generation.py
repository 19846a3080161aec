"""Generative answers: a real tiny transformers model and a real local OpenAI-style SSE server."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rag.config import Config
from rag.errors import GenerationError
from rag.generators import Generator
from rag.generators.prompt import answer_messages
from rag.generators.verify import verify
from rag.pipeline import Pipeline

from .conftest import ARTICLE
from .tiny_llm import build_tiny_llm

QUESTION = "全省脱贫攻坚推进会在哪里召开？"


@pytest.fixture(scope="module")
def article_config(base_config: Config, tmp_path_factory: pytest.TempPathFactory) -> Config:
    root = tmp_path_factory.mktemp("gen")
    shutil.copy(ARTICLE, root / ARTICLE.name)
    return base_config.replace(index={"root": str(root / "index"), "corpus": str(root)})


@pytest.fixture(scope="module")
def extractive(article_config: Config, embedder) -> Pipeline:
    return Pipeline(article_config, embedder=embedder)


class Canned(Generator):
    """A ten-line fake: replies with fixed pieces and remembers what it was asked."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces, self.calls = pieces, []

    def stream(self, question, passages, history=None) -> Iterator[str]:
        self.calls.append((question, list(passages)))
        yield from self.pieces


def test_verification_keeps_moves_and_drops_markers(extractive: Pipeline) -> None:
    passages = extractive.answer(QUESTION).passages
    index = extractive.index
    home = next(i for i, p in enumerate(passages, 1) if "菏泽召开" in p.chunk.text)
    other = next(i for i, p in enumerate(passages, 1) if "菏泽召开" not in p.chunk.text)
    text = (f"全省脱贫攻坚推进会在菏泽召开[{home}]。会议在菏泽召开[{other}]。"
            "月亮是奶酪做的[1]。这句没有出处[99]。")
    verified, citations = verify(text, passages, index, threshold=0.5)
    assert verified.startswith(f"全省脱贫攻坚推进会在菏泽召开[{home}]。会议在菏泽召开[{home}]。")
    assert "月亮是奶酪做的。" in verified and "[99]" not in verified
    assert [c.n for c in citations] == [home]
    c = citations[0]
    assert index.documents[c.doc_id].text[c.start : c.end] == c.text and "菏泽" in c.text


def test_generator_is_not_called_when_retrieval_refuses(article_config: Config, embedder) -> None:
    p = Pipeline(article_config, embedder=embedder)
    p.generator = Canned(["不该被调用[1]。"])
    assert p.answer("菏泽的GDP是多少？").refused
    assert p.generator.calls == []
    p.generator = Canned(["全省脱贫攻坚推进会", "在菏泽召开[1]。"])
    pieces = list(p.stream(QUESTION))
    assert pieces[0] == "全省脱贫攻坚推进会" and len(pieces) == 3
    question, passages = p.generator.calls[-1]
    assert question == QUESTION and len(passages) == article_config.retrieval.top_k


def test_prompt_numbers_the_passages(extractive: Pipeline) -> None:
    passages = extractive.answer(QUESTION).passages
    messages = answer_messages(QUESTION, passages, [{"role": "user", "content": "上一问"},
                                                    {"role": "assistant", "content": "上一答"}])
    assert messages[0]["role"] == "system" and "[编号]" in messages[0]["content"]
    assert "文中没有提到相关内容" in messages[0]["content"]
    assert [m["content"] for m in messages[1:3]] == ["上一问", "上一答"]
    assert f"[1] {passages[0].chunk.text}" in messages[-1]["content"]
    assert f"[2] {passages[1].chunk.text}" in messages[-1]["content"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llm(tmp_path_factory.mktemp("tiny-llm"), ARTICLE.read_text(encoding="utf-8"))


def test_transformers_generator_end_to_end(article_config: Config, embedder, tiny_model: Path) -> None:
    config = article_config.replace(generation={"backend": "transformers", "model": str(tiny_model),
                                                "max_new_tokens": 24})
    p = Pipeline(config, embedder=embedder)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    passages = Pipeline(article_config, embedder=embedder).answer(QUESTION).passages
    prompt = tok.apply_chat_template(answer_messages(QUESTION, passages), tokenize=False,
                                     add_generation_prompt=True)
    assert "[1] " in prompt and passages[0].chunk.text in prompt and prompt.endswith("assistant\n")
    texts = list(p.stream(QUESTION))
    assert len(texts) > 2  # it streamed
    final = p.answer(QUESTION)
    # random weights write garbage; whatever survives verification must be backed
    for c in final.citations:
        assert p.index.documents[c.doc_id].text[c.start : c.end] == c.text
    assert final.refused == (not final.citations)


REPLY = ["全省脱贫攻坚推进会在菏泽召开[1]。", "会上讨论了[7]很多问题[2]。"]


class _SSE(BaseHTTPRequestHandler):
    reply = REPLY
    delay = 0.0
    requests: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"body": body, "auth": self.headers.get("Authorization")})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in self.reply:
            time.sleep(self.delay)
            event = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sse_server() -> Iterator[str]:
    _SSE.requests, _SSE.delay, _SSE.reply = [], 0.0, REPLY
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SSE)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_openai_generator_against_a_real_sse_server(article_config: Config, embedder,
                                                    sse_server: str) -> None:
    config = article_config.replace(generation={"backend": "openai", "model": "qwen",
                                                "base_url": sse_server, "api_key": "sk-test"})
    p = Pipeline(config, embedder=embedder)
    texts = list(p.stream(QUESTION))
    assert texts[0] == "全省脱贫攻坚推进会在菏泽召开[1]。"
    answer = p.answer(QUESTION)
    assert not answer.refused and "[7]" not in answer.text
    assert all(c.n in (1, 2, 3, 4, 5) for c in answer.citations) and answer.citations
    sent = _SSE.requests[-1]
    assert sent["auth"] == "Bearer sk-test" and sent["body"]["stream"] is True
    assert "[1] " in sent["body"]["messages"][-1]["content"]


def test_openai_server_down_and_timeout(article_config: Config, embedder, sse_server: str) -> None:
    down = article_config.replace(generation={"backend": "openai", "base_url": "http://127.0.0.1:9/v1",
                                              "timeout_s": 2.0})
    with pytest.raises(GenerationError, match="cannot reach the generation server"):
        Pipeline(down, embedder=embedder).answer(QUESTION)
    _SSE.delay = 1.5
    slow = article_config.replace(generation={"backend": "openai", "base_url": sse_server, "timeout_s": 0.5})
    with pytest.raises(GenerationError, match="timeout"):
        Pipeline(slow, embedder=embedder).answer(QUESTION)


def test_configured_refusal_phrase_reaches_the_model_and_is_recognised(
        article_config: Config, embedder, sse_server: str) -> None:
    refusal = "资料里没有这个答案。"
    config = article_config.replace(answer={"refusal_text": refusal},
                                    generation={"backend": "openai", "base_url": sse_server})
    _SSE.reply = ["资料里没有", "这个答案。"]
    answer = Pipeline(config, embedder=embedder).answer(QUESTION)
    assert refusal in _SSE.requests[-1]["body"]["messages"][0]["content"]
    assert "文中没有提到相关内容" not in _SSE.requests[-1]["body"]["messages"][0]["content"]
    assert answer.refused and answer.text == refusal and answer.citations == []
