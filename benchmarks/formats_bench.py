"""Parse time of a generated 300-page Chinese PDF, and the end-to-end index time.

    python benchmarks/formats_bench.py [--pages 300] [--repeats 3]

Writes benchmarks/reports/formats.md. The PDF is made with reportlab (STSong-Light),
each page holding ~30 lines of the bundled article's sentences plus a running header
and a page number, so the cleaning steps run as they would on a real report.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.office_files import make_pdf  # noqa: E402

ARTICLE = ROOT / "data" / "corpus" / "全省脱贫攻坚推进会在菏泽召开.txt"


def lines_for(pages: int, per_page: int = 30, width: int = 38) -> list[list[str]]:
    text = ARTICLE.read_text(encoding="utf-8").replace("\n", "")
    out = []
    for p in range(pages):
        start = (p * per_page * width) % max(1, len(text) - width * per_page)
        body = text[start : start + per_page * width]
        out.append([f"（第{p + 1}页）" + body[:width - 6]]
                   + [body[k : k + width] for k in range(width - 6, len(body), width)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from rag.config import Config
    from rag.documents import load_file
    from rag.embed import Embedder
    from rag.index.builder import IndexBuilder

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        t0 = time.perf_counter()
        pdf = make_pdf(folder / "report.pdf", lines_for(args.pages),
                       header="山东省扶贫开发领导小组办公室 简报", footer_numbers=True)
        made = time.perf_counter() - t0
        size_mb = pdf.stat().st_size / 1e6
        parse = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            doc, notes = load_file(pdf)
            parse.append(time.perf_counter() - t0)
        config = Config.load(ROOT / "configs" / "default.yaml", env=False).replace(
            index={"root": str(Path(tmp) / "index")})
        embedder = Embedder(config.embedding)
        embedder.embed(["预热"], "query")
        t0 = time.perf_counter()
        report = IndexBuilder(config, embedder, dim=embedder.dim).build([folder])
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = IndexBuilder(config, embedder, dim=embedder.dim).build([folder])
        rebuild = time.perf_counter() - t0
    p50 = statistics.median(parse)
    rows = [
        f"Machine: {platform.processor() or platform.machine()}, torch threads 2; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| PDF pages | {args.pages} ({size_mb:.2f} MB, written in {made:.1f} s) |",
        f"| extracted characters | {len(doc.text):,} |",
        f"| parse + clean, median of {args.repeats} | {p50:.2f} s ({1000 * p50 / args.pages:.1f} ms/page) |",
        f"| running headers / page numbers left in text | {doc.text.count('简报')} / "
        f"{sum(1 for ln in doc.text.splitlines() if ln.strip(' -').isdigit())} |",
        f"| index build, end to end (parse, chunk, embed {report.embedded_texts:,} texts, write) | "
        f"{build:.1f} s |",
        f"| rebuild of the same bytes (nothing parsed or embedded) | {rebuild:.2f} s, "
        f"embedded {again.embedded_texts} |",
        "",
    ]
    out = ROOT / "benchmarks" / "reports" / "formats.md"
    out.write_text("# Reading a 300-page PDF\n\n" + "\n".join(rows), encoding="utf-8")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
