"""Tokens/s of the transformers generator on this CPU, with the tiny random test model.

    .venv/bin/python benchmarks/generation_speed.py [--tokens 64] [--repeat 3]

Measures the generator alone (prompt of the article's top passages, greedy), so it
shows the streaming machinery's overhead, not a real model's quality or speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from _common import machine, write_report  # noqa: E402

from rag.config import Config  # noqa: E402
from rag.generators.local import TransformersGenerator  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from tests.tiny_llm import build_tiny_llm  # noqa: E402

QUESTION = "全省脱贫攻坚推进会在哪里召开？"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    article = (ROOT / "data" / "corpus").glob("*.txt").__next__().read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_llm(Path(tmp) / "tiny", article)
        config = Config.load().replace(generation={"backend": "transformers", "model": str(folder),
                                                   "max_new_tokens": args.tokens})
        passages = Pipeline(Config.load()).answer(QUESTION).passages
        gen = TransformersGenerator(config.generation)
        list(gen.stream(QUESTION, passages))  # warm-up: load the model
        tok = gen._tokenizer
        rates, prompt_tokens = [], 0
        for _ in range(args.repeat):
            t = time.perf_counter()
            text = "".join(gen.stream(QUESTION, passages))
            seconds = time.perf_counter() - t
            rates.append(len(tok(text, add_special_tokens=False)["input_ids"]) / seconds)
        from rag.generators.prompt import answer_messages

        prompt = tok.apply_chat_template(answer_messages(QUESTION, passages), tokenize=False,
                                         add_generation_prompt=True)
        prompt_tokens = len(tok(prompt, add_special_tokens=False)["input_ids"])
    lines = ["# Generation speed: tiny random Qwen2 (2 layers, hidden 64) on CPU", "",
             f"Machine: {machine()}", "",
             f"Prompt: {prompt_tokens} tokens ({len(passages)} numbered passages); up to {args.tokens} "
             f"new tokens, greedy; median of {args.repeat} runs.", "",
             f"Median generated tokens/s, prefill included: {statistics.median(rates):,.0f} "
             f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})"]
    write_report("generation_speed.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
