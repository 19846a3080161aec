"""Training on a tiny SQuAD file: a killed run resumes to exactly the weights of an unbroken one."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from rag.config import Config
from rag.errors import DatasetError
from rag.reader.session import train_reader
from rag.reader.train import TrainSettings
from rag.reader.weights import read_meta
from tests.conftest import ARTICLE


def _tiny_squad(tmp_path: Path) -> Path:
    """Each paragraph of the article is a context; its first 4-character word is the answer."""
    paragraphs = [p for p in ARTICLE.read_text("utf-8").splitlines() if len(p) > 40]
    data = []
    for i, p in enumerate(paragraphs):
        answer = p[5:9]
        qas = [{"id": f"q{i}", "question": f"第{i}段说了什么{answer[:1]}？",
                "answers": [{"text": answer, "answer_start": 5}]}]
        data.append({"paragraphs": [{"context": p, "qas": qas}]})
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"data": data}, ensure_ascii=False), "utf-8")
    return path


def _settings(path: Path, **changes: object) -> TrainSettings:
    base = TrainSettings(files=(str(path),), max_chars=40, cross_negatives=0.0, validation_share=0.5,
                         batch_size=2, evals=1, save_every=1, epochs=2.0)
    return dataclasses.replace(base, **changes)


def test_a_killed_training_resumes_where_it_stopped(base_config: Config, tmp_path: Path) -> None:
    settings = _settings(_tiny_squad(tmp_path))
    whole = train_reader(base_config, settings, tmp_path / "whole", progress=False)
    assert whole.steps >= 4

    first = train_reader(base_config, settings, tmp_path / "broken", progress=False, stop_after=2)
    assert first.steps == 2 and not (tmp_path / "broken" / "best").exists()
    resumed = train_reader(base_config, settings, tmp_path / "broken", progress=False)
    assert resumed.steps == whole.steps

    a, b = (load_file(str(tmp_path / run / "best" / "model.safetensors")) for run in ("whole", "broken"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert read_meta(tmp_path / "broken" / "best").trained_from == settings.trained_from


def test_other_settings_start_afresh(base_config: Config, tmp_path: Path) -> None:
    path = _tiny_squad(tmp_path)
    train_reader(base_config, _settings(path), tmp_path / "w", progress=False, stop_after=1)
    again = train_reader(base_config, _settings(path, seed=1), tmp_path / "w", progress=False, stop_after=1)
    assert again.steps == 1  # the checkpoint of seed 0 was not resumed


def test_no_validation_split_is_a_clear_error(base_config: Config, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="validation"):
        train_reader(base_config, _settings(_tiny_squad(tmp_path), validation_share=0.0),
                     tmp_path / "w", progress=False)


def test_rag_reader_train_writes_a_calibrated_reader_that_answers(tmp_path: Path) -> None:
    """The whole command on tiny data: train, calibrate on validation, write, load, answer."""
    from click.testing import CliRunner

    from rag.cli import main
    from rag.pipeline import Pipeline

    data = _tiny_squad(tmp_path)
    out = tmp_path / "reader-tiny"
    result = CliRunner().invoke(main, ["reader", "train", "--train", str(data), "--work", str(tmp_path / "w"),
                                       "--out", str(out), "--epochs", "1", "--batch-size", "2",
                                       "--validation-share", "0.5"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and (out / "MODEL_CARD.md").is_file()
    meta = json.loads((out / "reader.json").read_text("utf-8"))
    assert meta["calibration"]["w_margin"] != 1.0  # fitted, not the default
    assert meta["calibration"]["w_null"] == 0.0  # the margin rule unless --null-logits
    assert meta["calibration"]["max_answer_tokens"] in (32, 48, 64, 96, 160)  # step 0 chose a cap
    assert "length_prior_windows" in (out / "MODEL_CARD.md").read_text("utf-8")  # step 0: fitted
    assert '"read_with": {"reader_windows": 4' in (out / "MODEL_CARD.md").read_text("utf-8")
    with safe_open(str(out / "model.safetensors"), "pt") as f:  # format 2: int8 matrices, row scales
        assert meta["version"] == 2 and f.metadata()["version"] == "2"
        assert str(f.get_tensor("top.0.intermediate.dense.weight").dtype) == "torch.int8"
        assert f.get_tensor("top.0.intermediate.dense.weight.scale").shape[1] == 1
    card = (out / "MODEL_CARD.md").read_text("utf-8")
    assert "tiny.json" in card and meta["sha256"] in card
    # `rag reader calibrate --null-logits` refits the same weights with the other refusal rule
    refit = tmp_path / "reader-null"
    result = CliRunner().invoke(main, ["reader", "calibrate", "--work", str(tmp_path / "w"),
                                       "--out", str(refit), "--null-logits"])
    assert result.exit_code == 0, result.output
    again = json.loads((refit / "reader.json").read_text("utf-8"))
    assert again["calibration"]["w_null"] != 0.0 and again["sha256"] == meta["sha256"]
    assert '"null_logits": true' in (refit / "MODEL_CARD.md").read_text("utf-8")

    config = Config.load(env=False)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / ARTICLE.name).write_text(ARTICLE.read_text("utf-8"), "utf-8")
    config = config.replace(answer={"reader": str(out)},
                            index={"root": str(tmp_path / "index"), "corpus": str(corpus)})
    answer = Pipeline(config).answer("全省脱贫攻坚推进会在哪里召开？")
    assert answer.refused or (answer.short and answer.citations)


def test_rag_reader_train_rejects_a_file_that_is_not_squad(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rag.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text('{"questions": []}', "utf-8")
    result = CliRunner().invoke(main, ["reader", "train", "--train", str(bad), "--work", str(tmp_path / "w")])
    assert result.exit_code == 2
    assert "expected SQuAD format" in result.output and "Traceback" not in result.output


def test_init_from_a_reader_that_trained_fewer_layers(base_config: Config) -> None:
    """The shipped reader (layers k-11) seeds a run that trains k-2 to 11: its layers land on
    top, layers k-2 and k-1 start as e5's own."""
    from rag.errors import ReaderError
    from rag.reader.loading import init_from, load_base, new_net
    from rag.reader.weights import DEFAULT_READER, dequantize, read_meta, resolve_folder

    base, tokenizer = load_base(base_config.embedding)
    folder = resolve_folder(DEFAULT_READER)
    k = read_meta(folder).trained_from
    net = new_net(base, k - 2)
    init_from(net, folder, tokenizer)
    shipped = load_file(str(folder / "model.safetensors"))
    top, head = dequantize(shipped, "top."), dequantize(shipped, "head.")
    assert torch.allclose(net.top[2].attention.self.query.weight, top["0.attention.self.query.weight"])
    assert torch.equal(net.top[0].output.dense.weight, base.encoder.layer[k - 2].output.dense.weight)
    assert torch.allclose(net.head.weight, head["weight"])
    with pytest.raises(ReaderError, match=f"--trained-from {k} or lower"):
        init_from(new_net(base, k + 2), folder, tokenizer)
