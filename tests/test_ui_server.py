"""A real `rag serve` process, driven by headless Chromium and by gradio_client."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ARTICLE, ROOT

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "tests" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("serve")
    (root / "corpus").mkdir()
    shutil.copy(ARTICLE, root / "corpus" / ARTICLE.name)
    cfg = root / "rag.yaml"
    cfg.write_text(
        f"index:\n  root: {root / 'index'}\n  corpus: {root / 'corpus'}\n  uploads: {root / 'uploads'}\n"
        f"embedding:\n  cache_dir: {ROOT / 'models'}\nui:\n  max_upload_bytes: 100000\n", "utf-8")
    port = free_port()
    log = (root / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "--config", str(cfg), "serve",
                             "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
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
    chat, box, sources = client.predict("全省脱贫攻坚推进会在哪里召开？", [], api_name="/ask")
    answer = chat[-1]["content"]
    answer = answer if isinstance(answer, str) else str(answer)
    assert "菏泽" in answer and "cite-1" in answer
    assert "<mark>" in sources and box == ""
    chat, _, _ = client.predict("问" * 20_000, [], api_name="/ask")
    assert "太长" in str(chat[-1]["content"])


@pytest.mark.browser
def test_page_in_headless_chromium(server: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server)
        page.wait_for_selector("#question textarea")

        # an empty message sends nothing
        page.click("#send")
        expect(page.get_by_text("请输入一个问题").first).to_be_visible(timeout=10_000)

        # ask, watch it stream, check the fact and the [1] citation
        page.fill("#question textarea", "全省脱贫攻坚推进会在哪里召开？")
        page.click("#send")
        lengths = []
        for _ in range(30):
            lengths.append(len(page.inner_text("#chat")))
            time.sleep(0.03)
        page.wait_for_selector("#sources mark", timeout=30_000)
        assert len(set(lengths)) > 2, f"the answer did not grow: {lengths}"
        chat = page.inner_text("#chat")
        assert "菏泽" in chat and "[1]" in chat
        page.screenshot(path=str(SHOTS / "answer-1280.png"), full_page=True)

        # open the citation: the highlighted sentence is shown in the sources panel
        page.click("#chat a.cite >> nth=0")
        mark = page.locator("#cite-1 mark")
        expect(mark).to_be_visible()
        assert "菏泽" in mark.inner_text()
        page.set_viewport_size({"width": 400, "height": 800})
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
        expect(page.locator("#doc-status")).to_contain_text("未添加", timeout=30_000)
        page.screenshot(path=str(SHOTS / "documents.png"), full_page=True)
        page.get_by_role("tab", name="问答").click()
        page.fill("#question textarea", "趵突泉位于哪里？")
        page.click("#send")
        expect(page.locator("#sources")).to_contain_text("泉水.txt", timeout=30_000)
        assert "济南" in page.inner_text("#chat")
        browser.close()


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
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import expect, sync_playwright

    from .office_files import make_docx, make_pdf

    pdf = make_pdf(tmp_path / "通报.pdf", [["第一页只有开场白。"], ["千佛山景区今年接待游客三百万人次。"]])
    docx = make_docx(tmp_path / "方案.docx", [("h1", "实施方案"), ("h2", "三、保障措施"),
                                              ("p", "黄河滩区迁建工程由省发改委牵头负责。")])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server)
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
            page.fill("#question textarea", question)
            page.click("#send")
            expect(page.locator("#sources")).to_contain_text(where, timeout=30_000)
            assert fact in page.inner_text("#sources")
        page.screenshot(path=str(SHOTS / "office-upload-1280.png"), full_page=True)
        browser.close()
