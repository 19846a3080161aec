"""RSS of `rag serve` through a real page session: 50 questions and two uploads.

    python benchmarks/page_memory.py [--questions 50] [--against OTHER_CHECKOUT ...]

Drives the page in headless Chromium (as a user would: typed questions, example
chips, a PDF and a Word upload), then reads VmRSS and VmHWM of the server from
/proc. Writes benchmarks/reports/page_memory.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, article_config, checkouts, machine, memory_mb, serving, write_report

sys.path.insert(0, str(ROOT))  # for tests.office_files
from tests.office_files import make_docx, make_pdf  # noqa: E402

QUESTIONS = ["全省脱贫攻坚推进会在哪里召开？", "会议由谁主持？", "刘家义强调了什么？", "他还强调了什么？",
             "扶贫措施方面把什么作为主攻方向？", "菏泽的GDP是多少？", "哪些人参加了会议？",
             "会议是什么时候召开的？", "千佛山景区今年接待游客多少人次？", "黄河滩区迁建工程由谁牵头负责？"]


def rss_mb(pid: int) -> tuple[float, float]:
    return memory_mb(pid, "VmRSS"), memory_mb(pid, "VmHWM")


def session(root: Path, questions: int) -> tuple[float, float, float, float]:
    """(RSS after start, RSS at the end, peak RSS, seconds for the questions) of one page
    session against `rag serve` run from the checkout `root`."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cfg = article_config(work)
        pdf = make_pdf(work / "通报.pdf", [["第一页只有开场白。"], ["千佛山景区今年接待游客三百万人次。"]])
        docx = make_docx(work / "方案.docx",
                         [("h1", "实施方案"), ("p", "黄河滩区迁建工程由省发改委牵头负责。")])
        with serving("--config", str(cfg), root=root) as (proc, url):
            started = rss_mb(proc.pid)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                            args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(url)
                page.get_by_role("tab", name="文档").click()
                for upload in (pdf, docx):
                    page.set_input_files("#upload input[type=file]", str(upload))
                    page.click("#add")
                    page.wait_for_selector(f"#documents :text('{upload.name}')", timeout=120_000)
                page.get_by_role("tab", name="问答").click()
                t0 = time.perf_counter()
                for i in range(questions):
                    before = page.locator("#chat .answer").count()
                    page.fill("#question textarea", QUESTIONS[i % len(QUESTIONS)])
                    page.click("#send")
                    page.wait_for_function(
                        f"document.querySelectorAll('#chat .answer').length > {before} && "
                        "[...document.querySelectorAll('#chat .answer')].pop()"
                        ".querySelector('a.copy, .refusal-label')", timeout=60_000)
                    page.wait_for_selector("#send", state="visible")
                wall = time.perf_counter() - t0
                browser.close()
            now, peak = rss_mb(proc.pid)
    return started[0], now, peak, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--against", type=Path, action="append", default=[],
                        help="another checkout (e.g. a git worktree of an older commit) whose "
                             "`rag serve` is measured in the same run, as a baseline; repeatable")
    args = parser.parse_args()
    runs = checkouts(parser, args.against, needs="rag/cli.py")
    results = [(label, session(root, args.questions)) for label, root in runs]
    lines = [f"Machine: {machine()}",
             "", "`rag serve` with the default config (answer.reader as configured), one Chromium "
             f"page session each, run one after another: 2 uploads (PDF, docx) and {args.questions} "
             "questions.", "",
             "| server from | RSS after start (MiB) | RSS at the end (MiB) | peak RSS, VmHWM (MiB) "
             "| questions in s |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {label} | {a:.0f} | {b:.0f} | {c:.0f} | {d:.0f} |" for label, (a, b, c, d) in results]
    write_report("page_memory.md", "# `rag serve` memory over a page session\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
