"""One training run from end to end: base model -> train -> best weights in `work/best`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from rag.config import Config
from rag.embed import resolve_dtype
from rag.reader import weights
from rag.reader.loading import init_from, load_base, new_net
from rag.reader.net import ReaderNet
from rag.reader.train import TrainResult, TrainSettings, train


def train_reader(config: Config, settings: TrainSettings, work: Path, progress: bool = True,
                 stop_after: int | None = None) -> TrainResult:
    import torch

    base, tokenizer = load_base(config.embedding)
    torch.manual_seed(settings.seed)  # the head's initial weights come from this seed too
    net = new_net(base, settings.trained_from)
    if settings.init is not None:  # continue from an earlier reader, e.g. for another epoch
        init_from(net, weights.resolve_folder(settings.init), tokenizer)
    dtype = resolve_dtype(config.embedding.dtype, "cpu")
    meta = weights.ReaderMeta(
        base_model=config.embedding.model, trained_from=settings.trained_from,
        num_layers=base.config.num_hidden_layers, hidden_size=base.config.hidden_size,
        probe=weights.probe(net, tokenizer), settings=dataclasses.asdict(settings))

    def keep(best: ReaderNet, scores: dict[str, float]) -> None:
        weights.save(best, dataclasses.replace(meta, settings={**meta.settings, "validation": scores}),
                     work / "best")

    result = train(net, tokenizer, settings, work, dtype, keep, progress, stop_after)
    (work / "result.json").write_text(json.dumps(dataclasses.asdict(result), indent=2), "utf-8")
    return result
