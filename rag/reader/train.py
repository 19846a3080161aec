"""`rag reader train`: fine-tune the reader on SQuAD-format data, on a CPU.

1. Load the files, split contexts into train and validation (hash-based).
2. Make windows (rag.reader.data) with a fixed seed.
3. Train the top layers and the span head, everything below frozen, in batches of
   similar length, under bfloat16 autocast where the CPU computes it natively.
4. Every `save_every` steps write a checkpoint (atomically); a killed run started
   again with the same settings resumes from it.
5. At `evals` points, score the validation windows; the weights with the highest
   validation span F1 (lowest loss among equals) are the ones exported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rag.errors import DatasetError
from rag.evaluation.metrics import exact_match, f1
from rag.reader.data import Corpus, Example, load_squad, make_examples, split, validation_examples
from rag.reader.net import ReaderNet, best_spans, encode, precision, span_loss, token_span
from rag.reader.tokens import reader_tokenizer


@dataclass(frozen=True)
class TrainSettings:
    files: tuple[str, ...]
    trained_from: int = 3  # layers below this stay e5-small's own (as in reader-v4)
    max_chars: int = 160  # window size, as at answer time
    cross_negatives: float = 0.5
    validation_share: float = 0.08
    epochs: float = 1.0
    batch_size: int = 32
    lr: float = 1e-4
    warmup: float = 0.06
    weight_decay: float = 0.01
    seed: int = 0
    evals: int = 3
    save_every: int = 50
    max_answer_tokens: int = 48
    init: str | None = None  # a reader folder to continue from (its layers and head), or None
    char_tokens: bool = False  # Chinese pieces cut into characters (rag/reader/tokens.py)

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class TrainResult:
    steps: int
    wall_s: float
    best_step: int
    history: list[dict[str, float]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def load_data(settings: TrainSettings) -> tuple[list[Example], list[Example], Corpus, dict[str, Any]]:
    corpora, stats = [], {}
    val_parts: list[Corpus] = []
    for f in settings.files:
        corpus = load_squad(Path(f))
        train, val = split(corpus, settings.validation_share)
        corpora.append(train)
        val_parts.append(val)
        stats[Path(f).name] = {"questions": len(corpus.questions), "misplaced_skipped": corpus.misplaced,
                               "train": len(train.questions), "validation": len(val.questions)}
    val = Corpus({k: v for c in val_parts for k, v in c.contexts.items()},
                 [q for c in val_parts for q in c.questions])
    if not val.questions:
        raise DatasetError(f"no validation questions: {settings.validation_share} of "
                           f"{sum(len(c.contexts) for c in corpora)} contexts is none; "
                           "give more data or a larger validation share")
    train_ex = make_examples(corpora, settings.max_chars, settings.cross_negatives, settings.seed)
    val_ex = validation_examples(val, settings.max_chars, settings.cross_negatives)
    stats["examples"] = {"train": len(train_ex), "train_positive": sum(e.start >= 0 for e in train_ex),
                         "validation": len(val_ex)}
    return train_ex, val_ex, val, stats


def batches(examples: list[Example], size: int, seed: int, epoch: int) -> list[list[int]]:
    """Shuffled batches of similar window length (less padding), in a seeded order."""
    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(examples)))
    rng.shuffle(order)
    pool = size * 50
    out: list[list[int]] = []
    for i in range(0, len(order), pool):
        group = sorted(order[i : i + pool], key=lambda j: len(examples[j].window))
        out.extend(group[k : k + size] for k in range(0, len(group), size))
    rng.shuffle(out)
    return out


def labels(batch: Any, examples: list[Example]) -> tuple[torch.Tensor, torch.Tensor]:
    starts, ends = [], []
    for row, ex in enumerate(examples):
        span = token_span(batch, row, ex.start, ex.end) if ex.start >= 0 else None
        starts.append(span[0] if span else 0)
        ends.append(span[1] if span else 0)
    return torch.tensor(starts), torch.tensor(ends)


@torch.no_grad()
def validate(net: ReaderNet, tokenizer: Any, examples: list[Example], settings: TrainSettings,
             dtype: str) -> dict[str, float]:
    """Loss, span EM/F1 on answerable windows, and answer/no-answer accuracy."""
    net.eval()
    loss_sum, n, em, f1s, right = 0.0, 0, [], [], 0
    for idx in batches(examples, 64, 0, 0):
        group = [examples[i] for i in idx]
        batch = encode(tokenizer, [e.question for e in group], [e.window for e in group])
        with precision(dtype):
            logits = net(batch.input_ids, batch.attention_mask)
        s, e = labels(batch, group)
        loss_sum += float(span_loss(logits, batch, s, e)) * len(group)
        n += len(group)
        for ex, span in zip(group, best_spans(logits, batch, settings.max_answer_tokens), strict=True):
            if ex.start >= 0:
                pred, gold = ex.window[span.start:span.end], ex.window[ex.start:ex.end]
                em.append(exact_match(pred, [gold]))
                f1s.append(f1(pred, [gold]))
            right += (span.margin > 0) == (ex.start >= 0)
    net.train()
    return {"loss": round(loss_sum / n, 4), "em": round(sum(em) / len(em), 4),
            "f1": round(sum(f1s) / len(f1s), 4), "null_accuracy": round(right / n, 4)}


def train(net: ReaderNet, tokenizer: Any, settings: TrainSettings, work: Path, dtype: str,
          on_best: Callable[[ReaderNet, dict[str, float]], None], progress: bool = True,
          stop_after: int | None = None) -> TrainResult:
    """Train `net` in place; `on_best` receives it whenever validation improves.

    `stop_after` ends this call after that many steps (with a checkpoint), as a kill would.
    """
    from tqdm import tqdm

    torch.manual_seed(settings.seed)
    random.seed(settings.seed)
    tokenizer = reader_tokenizer(tokenizer, settings.char_tokens)
    train_ex, val_ex, _, stats = load_data(settings)
    per_epoch = len(batches(train_ex, settings.batch_size, settings.seed, 0))
    total = max(1, math.ceil(per_epoch * settings.epochs))
    eval_at = {round(total * (i + 1) / settings.evals) for i in range(settings.evals)}
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    warm = max(1, int(total * settings.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    state = {"step": 0, "wall_s": 0.0, "best": (math.inf, math.inf), "best_step": 0, "history": []}
    ckpt = work / "checkpoint.pt"
    if ckpt.is_file():
        saved = torch.load(ckpt, weights_only=False)
        if saved.get("fingerprint") == settings.fingerprint():
            net.load_state_dict(saved["net"])
            opt.load_state_dict(saved["opt"])
            sched.load_state_dict(saved["sched"])
            state = saved["state"]
            torch.set_rng_state(saved["rng"])
    bar = tqdm(total=total, initial=state["step"], desc="reader", unit="step", disable=not progress)
    started = time.perf_counter() - state["wall_s"]
    net.train()
    stop_at = total if stop_after is None else min(total, state["step"] + stop_after)
    while state["step"] < stop_at:
        epoch, within = divmod(state["step"], per_epoch)
        order = batches(train_ex, settings.batch_size, settings.seed, epoch)
        for idx in order[within:]:
            group = [train_ex[i] for i in idx]
            batch = encode(tokenizer, [e.question for e in group], [e.window for e in group])
            s, e = labels(batch, group)
            with precision(dtype):
                logits = net(batch.input_ids, batch.attention_mask)
            loss = span_loss(logits, batch, s, e)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            state["step"] += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if state["step"] in eval_at:
                scores = validate(net, tokenizer, val_ex, settings, dtype)
                scores["step"] = state["step"]
                state["history"].append(scores)
                bar.write(f"step {state['step']}: validation {scores}")
                # F1 of the spans, the score answers are judged by; loss only breaks ties. reader-v4's
                # run had its lowest loss at step 858 but higher F1 at 1287, in windows and in the
                # full pipeline on validation questions
                rank = (-scores["f1"], scores["loss"])
                best = state["best"] if isinstance(state["best"], (tuple, list)) else (math.inf, math.inf)
                if rank < tuple(best):  # (a checkpoint from before F1 ranked holds a float: start over)
                    state["best"], state["best_step"] = rank, state["step"]
                    on_best(net, scores)
            if state["step"] % settings.save_every == 0 or state["step"] >= stop_at:
                state["wall_s"] = time.perf_counter() - started
                _save_checkpoint(ckpt, net, opt, sched, state, settings)
            if state["step"] >= stop_at:
                break
    bar.close()
    wall = time.perf_counter() - started
    return TrainResult(state["step"], wall, state["best_step"], state["history"], stats)


def _save_checkpoint(path: Path, net: ReaderNet, opt: Any, sched: Any, state: dict[str, Any],
                     settings: TrainSettings) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"fingerprint": settings.fingerprint(), "net": net.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict(), "state": state, "rng": torch.get_rng_state()}, tmp)
    os.replace(tmp, path)
