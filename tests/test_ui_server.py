"""A real `rag serve` process, driven by headless Chromium and by gradio_client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .conftest import ARTICLE, ROOT, free_port

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "tests" / "screenshots"

# Answered with a 100-character sentence after the span: about 20 streamed updates of 60 ms, time
# to act while it streams (a reader that answers "刘家义强调了什么？" in 30 characters leaves none).
LONG_ANSWER = "扶贫措施方面把什么作为主攻方向？"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("serve")
    (root / "corpus").mkdir()
    shutil.copy(ARTICLE, root / "corpus" / ARTICLE.name)
    cfg = root / "rag.yaml"
    cfg.write_text(
        f"index:\n  root: {root / 'index'}\n  corpus: {root / 'corpus'}\n  uploads: {root / 'uploads'}\n"
        f"embedding:\n  cache_dir: {ROOT / 'models'}\n"
        "ui:\n  max_upload_bytes: 100000\n  stream_delay_ms: 60\n", "utf-8")  # slow enough to stop
    port = free_port()
    log = (root / "server.log").open("w")
    os.environ["RAG_TEST_FEEDBACK"] = str(root / "feedback.jsonl")
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "--config", str(cfg), "serve",
                             "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False",
                                 "RAG_UI__FEEDBACK_PATH": str(root / "feedback.jsonl")})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited: {(root / 'server.log').read_text()}")
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("server did not start within 180 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_gradio_client_asks_and_gets_cited_answer(server: str) -> None:
    from gradio_client import Client

    client = Client(server, verbose=False)
    answer = client.predict("全省脱贫攻坚推进会在哪里召开？", api_name="/ask")
    assert not answer["refused"] and "菏泽" in answer["text"] and "[1]" in answer["text"]
    c = answer["citations"][0]
    assert c["n"] == 1 and c["text"] in ARTICLE.read_text("utf-8")


@contextmanager
def _page(url: str) -> Iterator[Any]:
    """A 1280x800 page of headless Chromium, opened at `url`; skips without Debian's chromium."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            yield page
        finally:
            browser.close()


def _ask(page, question: str) -> None:
    """Ask and wait for the answer's sources (they come when the answer is complete)."""
    before = page.locator("#chat .answer").count()
    page.fill("#question textarea", question)
    page.click("#send")
    page.wait_for_function(
        f"document.querySelectorAll('#chat .answer').length > {before} && "
        "[...document.querySelectorAll('#chat .answer')].pop().querySelector('a.copy, .refusal-label')",
        timeout=30_000)


@pytest.mark.browser
def test_page_in_headless_chromium(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    SHOTS.mkdir(exist_ok=True)
    with _page(server) as page:
        page.wait_for_selector("#question textarea")

        # an empty message sends nothing, and says so in Chinese
        page.click("#send")
        expect(page.get_by_text("请输入一个问题").first).to_be_visible(timeout=10_000)
        title = page.locator(".toast-title").first  # headed in Chinese, not the browser's "Error"
        assert title.evaluate("e => getComputedStyle(e, '::before').content") == '"提示"'
        assert title.evaluate("e => getComputedStyle(e).fontSize") == "0px"

        # ask, watch it stream, check the fact, the chip and the answer's own source card
        page.fill("#question textarea", "全省脱贫攻坚推进会在哪里召开？")
        page.click("#send")
        lengths = []
        for _ in range(30):
            lengths.append(len(page.inner_text("#chat")))
            time.sleep(0.03)
        page.wait_for_selector("#chat .answer details.sources mark", timeout=30_000)
        assert len(set(lengths)) > 2, f"the answer did not grow: {lengths}"
        first = page.locator("#chat .answer").first
        assert "菏泽" in first.inner_text()
        first.locator("a.cite").first.click()
        expect(first.locator(".source.active mark")).to_contain_text("菏泽")

        # an old answer's [1] opens its own source, not the newest answer's
        _ask(page, "会议由谁主持？")
        second = page.locator("#chat .answer").nth(1)
        first.locator("a.cite").first.click()
        expect(first.locator(".source.active")).to_have_count(1)
        assert "菏泽" in first.locator(".source.active mark").inner_text()
        assert second.locator(".source.active").count() == 0
        overlap = page.evaluate("""() => {  // the clear button never sits over a message
            const bar = document.querySelector('#chat .top-panel').getBoundingClientRect();
            return [...document.querySelectorAll('#chat .message-row')]
                .map(m => m.getBoundingClientRect()).filter(r => r.right > bar.left).length; }""")
        assert overlap == 0
        page.screenshot(path=str(SHOTS / "answer-1280.png"), full_page=True)

        # at phone width: no sideways scrolling, and the sources sit right under their answer
        page.set_viewport_size({"width": 400, "height": 800})
        time.sleep(0.5)
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        gap = page.evaluate("""() => {
            const a = [...document.querySelectorAll('#chat .answer')].pop();
            return a.querySelector('details.sources').getBoundingClientRect().top
                 - a.querySelector('.body').getBoundingClientRect().bottom; }""")
        assert 0 <= gap < 800, gap
        page.screenshot(path=str(SHOTS / "answer-400.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 800})

        # upload a new document, then ask what only it can answer
        doc = tmp_path / "泉水.txt"
        doc.write_text("趵突泉位于济南市历下区，被誉为天下第一泉。", encoding="utf-8")
        page.get_by_role("tab", name="文档").click()
        page.set_input_files("#upload input[type=file]", str(doc))
        page.click("#add")
        expect(page.locator("#doc-status")).to_contain_text("已添加", timeout=60_000)
        expect(page.locator("#documents")).to_contain_text("泉水.txt")
        bad = tmp_path / "bad.txt"
        bad.write_bytes(b"\x00\x01\x02" * 50)
        page.set_input_files("#upload input[type=file]", str(bad))
        page.click("#add")
        expect(page.locator("#doc-status")).to_contain_text("未添加 bad.txt：看起来是二进制文件",
                                                            timeout=30_000)
        page.screenshot(path=str(SHOTS / "documents.png"), full_page=True)
        page.get_by_role("tab", name="问答").click()
        _ask(page, "趵突泉位于哪里？")
        last = page.locator("#chat .answer").last
        assert "济南" in last.inner_text() and "泉水.txt" in last.inner_text()

        # no dead icons; the one clear control takes the answers and their sources with it
        assert page.locator("#chat button[aria-label='Share']").count() == 0
        page.locator("#chat .top-panel button").last.click()
        expect(page.locator("#chat .answer")).to_have_count(0, timeout=10_000)
        assert page.locator("#chat .source").count() == 0


@pytest.mark.browser
def test_typing_survives_an_answer_and_a_second_send_is_refused(server: str) -> None:
    from playwright.sync_api import expect

    with _page(server) as page:
        page.fill("#question textarea", LONG_ANSWER)
        page.click("#send")
        expect(page.locator("#stop")).to_be_visible(timeout=10_000)  # send became stop
        page.fill("#question textarea", "下一个问题")
        page.press("#question textarea", "Enter")  # sent while the answer streams
        expect(page.get_by_text("正在回答上一个问题").first).to_be_visible(timeout=10_000)
        page.wait_for_selector("#chat .answer a.copy", timeout=30_000)
        expect(page.locator("#send")).to_be_visible()
        assert page.input_value("#question textarea") == "下一个问题"  # never wiped
        assert page.locator("#chat .question").count() == 1


@pytest.mark.browser
def test_stop_mid_answer_keeps_what_was_shown_and_the_next_question_works(server: str) -> None:
    from playwright.sync_api import expect

    with _page(server) as page:
        page.fill("#question textarea", LONG_ANSWER)  # time to stop it
        page.click("#send")
        page.wait_for_selector("#chat .answer .body", timeout=30_000)  # the answer has started
        page.click("#stop")
        expect(page.locator("#chat .stopped")).to_have_text("（已停止，回答不完整）", timeout=10_000)
        expect(page.locator("#send")).to_be_visible()
        assert page.locator("#chat .answer a.copy").count() == 0  # it never finished
        time.sleep(1.0)  # a cancelled stream must not come back and finish the answer
        assert page.locator("#chat .answer a.copy").count() == 0
        _ask(page, "全省脱贫攻坚推进会在哪里召开？")  # not stuck in "busy"
        assert "菏泽" in page.locator("#chat .answer").last.inner_text()


@pytest.mark.browser
def test_documents_stay_literal_feedback_is_logged_and_retry_and_chips_work(server: str,
                                                                           tmp_path: Path) -> None:
    from playwright.sync_api import expect

    doc = tmp_path / "标记.md"
    doc.write_text("负责人是**王小明**，联系人是`李四`，详见[链接](http://example.com/x)。", encoding="utf-8")
    with _page(server) as page:
        page.get_by_role("tab", name="文档").click()
        page.set_input_files("#upload input[type=file]", str(doc))
        page.click("#add")
        expect(page.locator("#doc-status")).to_contain_text("已添加", timeout=60_000)

        # delete works after a reload: the list is read fresh on each page load
        page.reload()
        page.get_by_role("tab", name="文档").click()
        page.click("#uploaded input")
        expect(page.get_by_role("option", name="标记.md")).to_be_visible(timeout=10_000)
        page.keyboard.press("Escape")

        page.get_by_role("tab", name="问答").click()
        _ask(page, "负责人是谁？")
        answer = page.locator("#chat .answer").last
        text = answer.inner_text()
        assert "**王小明**" in text and "`李四`" in text and "[链接](http://example.com/x)" in text
        assert page.locator("#chat a[href^='http']").count() == 0
        assert page.locator("#chat strong").count() == 0
        copied = answer.locator(".copy-text").text_content()
        assert "负责人是**王小明**" in copied and "[1]" in copied and "<a" not in copied

        # 👍 on the answer is appended to the feedback file
        feedback = Path(os.environ["RAG_TEST_FEEDBACK"])
        page.locator("#chat button[aria-label='Like']").last.click()
        deadline = time.time() + 10  # the file can exist a moment before its line is written
        while time.time() < deadline and not (feedback.exists()
                                              and feedback.read_text("utf-8").endswith("\n")):
            time.sleep(0.2)
        row = json.loads(feedback.read_text("utf-8").splitlines()[-1])
        assert row["liked"] is True and row["question"] == "负责人是谁？" and row["citations"]

        # 重新回答 replaces the last answer; an example chip asks at once
        old_id = answer.get_attribute("id")
        page.locator("#chat button[aria-label='Retry']").last.click()
        page.wait_for_function(  # a new answer, complete, in place of the old one
            f"(() => {{ const a = [...document.querySelectorAll('#chat .answer')]; return a.length == 1 "
            f"&& a[0].id != '{old_id}' && a[0].querySelector('a.copy'); }})()", timeout=30_000)
        expect(page.locator("#send")).to_be_visible(timeout=10_000)
        assert page.locator("#chat .question").count() == 1
        page.get_by_role("button", name="会议由谁主持？").click()
        page.wait_for_function("document.querySelectorAll('#chat .answer a.copy').length == 2",
                               timeout=30_000)

        # after deleting it, the document is gone from the list and the index
        page.get_by_role("tab", name="文档").click()
        page.click("#uploaded input")
        page.get_by_role("option", name="标记.md").click()
        page.click("#delete")
        expect(page.locator("#doc-status")).to_contain_text("已删除 标记.md", timeout=60_000)


def test_password_from_config_protects_the_page(tmp_path: Path) -> None:
    import urllib.parse

    from rag.config import Config
    from ui.app import serve

    (tmp_path / "corpus").mkdir()
    shutil.copy(ARTICLE, tmp_path / "corpus" / ARTICLE.name)
    config = Config.load(ROOT / "configs" / "default.yaml", env=False).replace(
        index={"root": str(tmp_path / "index"), "corpus": str(tmp_path / "corpus"),
               "uploads": str(tmp_path / "uploads")},
        ui={"username": "demo", "password": "secret"})
    port = free_port()
    app = serve(config, port=port, prevent_thread_lock=True)
    try:
        base = f"http://127.0.0.1:{port}"
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(base + "/config", timeout=10)
        assert denied.value.code == 401

        def login(password: str) -> int:
            data = urllib.parse.urlencode({"username": "demo", "password": password}).encode()
            try:
                return urllib.request.urlopen(base + "/login", data=data, timeout=10).status
            except urllib.error.HTTPError as exc:
                return exc.code

        assert login("wrong") == 400 and login("secret") == 200
    finally:
        app.close()


@pytest.mark.browser
def test_page_uploads_pdf_and_docx_and_cites_their_page(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from .office_files import make_docx, make_pdf

    pdf = make_pdf(tmp_path / "通报.pdf", [["第一页只有开场白。"], ["千佛山景区今年接待游客三百万人次。"]])
    docx = make_docx(tmp_path / "方案.docx", [("h1", "实施方案"), ("h2", "三、保障措施"),
                                              ("p", "黄河滩区迁建工程由省发改委牵头负责。")])
    with _page(server) as page:
        page.get_by_role("tab", name="文档").click()
        page.set_input_files("#upload input[type=file]", [str(pdf), str(docx)])
        page.click("#add")
        expect(page.locator("#doc-status")).to_contain_text("已添加", timeout=60_000)
        expect(page.locator("#documents")).to_contain_text("通报.pdf")
        expect(page.locator("#documents")).to_contain_text("方案.docx")
        page.get_by_role("tab", name="问答").click()
        for question, fact, where in [
            ("千佛山景区今年接待游客多少人次？", "三百万", "第2页"),
            ("黄河滩区迁建工程由谁牵头负责？", "发改委", "实施方案 › 三、保障措施"),
        ]:
            _ask(page, question)
            sources = page.locator("#chat .answer").last.locator("details.sources")
            expect(sources).to_contain_text(where, timeout=30_000)
            assert fact in sources.inner_text()
        page.screenshot(path=str(SHOTS / "office-upload-1280.png"), full_page=True)
