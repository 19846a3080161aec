"""Choosing the compute path by measurement: the timing rule, its cache, and the direct encoder."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.config import Config
from rag.embed import Embedder
from rag.runtime import Candidate, ChoiceCache, Machine, Measured, Planner, fastest, min_row_cosine
from rag.runtime.encoder import PATHS
from rag.runtime.machine import _cpuinfo, this_machine

REF = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)


def slow(seconds: float, out: np.ndarray = REF) -> Candidate:
    def run() -> np.ndarray:
        time.sleep(seconds)
        return out
    return Candidate(f"sleep{seconds}", run)


def test_the_fastest_faithful_candidate_wins_and_drifting_or_broken_ones_are_dropped(
        caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> np.ndarray:
        raise OSError("libonnxruntime.so: cannot open shared object file")

    drifting = Candidate("fast-but-wrong", lambda: np.array([[1.0, 0.1], [0.1, 1.0]]))
    with caplog.at_level(logging.WARNING):
        m = fastest([slow(0.02), slow(0.001), drifting, Candidate("onnx", broken)], REF, repeat=2)
    assert m.best == "sleep0.001"
    assert set(m.median_ms) == {"sleep0.02", "sleep0.001"} and m.median_ms["sleep0.02"] >= 20
    assert "below 0.999" in m.dropped["fast-but-wrong"]
    assert "cannot open shared object" in m.dropped["onnx"]
    assert sum("onnx failed, skipped" in r.message for r in caplog.records) == 1  # one warning line


def test_a_preferred_candidate_wins_a_near_tie_only() -> None:
    near = [slow(0.010), slow(0.0102)]
    assert fastest(near, REF, repeat=3, prefer="sleep0.0102", slack=0.5).best == "sleep0.0102"
    far = [slow(0.001), slow(0.02)]
    assert fastest(far, REF, repeat=2, prefer="sleep0.02", slack=0.05).best == "sleep0.001"


def test_without_a_reference_the_first_candidate_is_the_baseline_and_runs_once_less() -> None:
    calls = {"baseline": 0}

    def baseline() -> np.ndarray:
        calls["baseline"] += 1
        return REF

    drifting = Candidate("fast-but-wrong", lambda: -REF)
    m = fastest([Candidate("baseline", baseline), drifting, slow(0.001)], repeat=2)
    assert calls["baseline"] == 3  # warm-up (also the reference) + 2 timed, no extra reference run
    assert m.cosine["baseline"] == 1.0 and "below 0.999" in m.dropped["fast-but-wrong"]

    def broken() -> np.ndarray:
        raise OSError("no float32 today")

    with pytest.raises(RuntimeError, match="baseline candidate broken failed"):
        fastest([Candidate("broken", broken), slow(0.001)])


def test_no_candidate_left_is_an_error() -> None:
    with pytest.raises(ValueError, match="no candidates"):
        fastest([], REF)
    with pytest.raises(RuntimeError, match="every runtime candidate failed"):
        fastest([Candidate("wrong", lambda: -REF)], REF)
    with pytest.raises(ValueError, match="shape"):
        min_row_cosine(np.ones((2, 3)), np.ones((3, 2)))
    assert min_row_cosine(np.zeros((0, 4)), np.zeros((0, 4))) == 1.0


def test_choice_cache_round_trip_and_a_foreign_or_broken_file_is_measured_again(tmp_path: Path) -> None:
    cache = ChoiceCache(tmp_path / "runtime.json")
    assert cache.get("k") is None
    m = Measured("bfloat16/16", {"bfloat16/16": 10.5, "float32/16": 20.0}, {"bfloat16/16": 0.99999}, {})
    cache.put("k", m)
    assert ChoiceCache(tmp_path / "runtime.json").get("k") == m
    assert json.loads((tmp_path / "runtime.json").read_text())["version"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["runtime.json"]  # no temporary file left
    for text in ("{not json", json.dumps({"format": "someone else's", "entries": {"k": {}}}),
                 json.dumps({"format": "rag-zh runtime choices", "version": 1, "entries": {"k": {"x": 1}}})):
        (tmp_path / "runtime.json").write_text(text)
        assert cache.get("k") is None
    cache.put("k", m)
    assert cache.get("k") == m


def test_a_choice_is_measured_once_per_machine_and_never_reused_on_another(tmp_path: Path) -> None:
    here = Machine("AMD EPYC", ("avx2", "avx512_bf16"), 2, (("torch", "2.13.0"),))
    there = dataclasses.replace(here, cpu="Intel(R) Xeon(R)", flags=("amx_bf16", "amx_tile", "avx2"))
    newer = dataclasses.replace(here, libraries=(("torch", "2.14.0"),))
    calls = []

    def measure() -> Measured:
        calls.append(1)
        return Measured(f"choice{len(calls)}", {f"choice{len(calls)}": 1.0})

    assert Planner(tmp_path, "e5", here).choose("query", measure).best == "choice1"
    assert Planner(tmp_path, "e5", here).choose("query", measure).best == "choice1"  # read back
    again = Planner(tmp_path, "e5", here, fresh=True)  # `rag models --measure`: once more, then kept
    assert again.choose("query", measure).best == "choice2" == again.choose("query", measure).best
    calls.pop()
    assert Planner(tmp_path, "e5", here).choose("query", measure).best == "choice2"
    assert Planner(tmp_path, "e5", there).choose("query", measure).best == "choice2"
    assert Planner(tmp_path, "e5", newer).choose("query", measure).best == "choice3"
    assert Planner(tmp_path, "other-model", here).choose("query", measure).best == "choice4"
    assert len({here.key(), there.key(), newer.key()}) == 3


def test_this_machine_reads_cpu_model_and_flags(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu avx2 avx512f avx512_bf16\n"
                    "processor\t: 1\nmodel name\t: AMD EPYC 9R14\n")
    assert _cpuinfo(info) == ("AMD EPYC 9R14", ("avx512_bf16", "avx512f", "avx2"))
    assert _cpuinfo(tmp_path / "missing") == ("", ())
    m = this_machine()
    assert m.threads >= 1 and dict(m.libraries)["torch"] != "absent" and len(m.key()) == 16


@pytest.mark.parametrize("dtype, floor", [("float32", 0.99999), ("bfloat16", 0.999),
                                          ("bfloat16-weights", 0.999)])
def test_direct_encoder_matches_sentence_transformers(embedder: Embedder, dtype: str, floor: float) -> None:
    texts = ["", "中", "全省脱贫攻坚推进会在菏泽召开。", "😀 emoji 与 English mixed 混合",
             "长" * 3000, "菏泽 " * 40]
    fixed = Embedder(dataclasses.replace(embedder.config, dtype=dtype, batch_size=4))
    for kind in ("passage", "query"):
        ours = fixed.embed(texts, kind)
        library = fixed._library_embed(texts, kind)
        assert ours.shape == (len(texts), 384) and ours.dtype == np.float32
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        assert min_row_cosine(ours, library) >= floor, kind
    assert fixed.encoder is not None and fixed.plan("passage") == (dtype, 4, 1)  # the config decides
    shared = fixed.encoder.tokenizer  # a shared tokenizer may be left padding and truncating
    shared.enable_padding(pad_id=1, length=64)
    shared.enable_truncation(max_length=512)
    try:
        assert min_row_cosine(fixed.embed(texts), fixed._library_embed(texts, "passage")) >= floor
    finally:
        shared.no_padding()
        shared.no_truncation()


def test_measured_choices_are_stored_and_shown_by_rag_models(cfg: Path) -> None:
    config = Config.load(cfg)
    embedder = Embedder(config.embedding)
    dtype, batch, workers = embedder.plan("passage")
    assert dtype in PATHS and batch in (8, 16, 32) and workers >= 1 and embedder.dtype == dtype
    embedder.plan("query")
    chosen = {shape: embedder.planner.cached(shape) for shape in ("passages", "query")}
    for m in chosen.values():
        assert m is not None and m.best in m.median_ms and all(v >= 0.999 for v in m.cosine.values())
    result = CliRunner().invoke(main, ["--config", str(cfg), "models"])
    assert result.exit_code == 0, result.output
    assert "runtime    " in result.output and "avx512_bf16" in result.output
    assert f"passages {chosen['passages'].best}  (median ms: " in result.output
    assert f"query    {chosen['query'].best}  (median ms: " in result.output
    fixed = CliRunner().invoke(main, ["--config", str(cfg), "models"],
                               env={"RAG_EMBEDDING__DTYPE": "float32", "RAG_EMBEDDING__BATCH_SIZE": "8"})
    assert "passages set in the config (embedding.dtype: float32, batch_size: 8)" in fixed.output


@pytest.mark.slow
def test_rag_models_measure_times_every_shape_again(cfg: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(cfg), "models", "--measure"])
    assert result.exit_code == 0, result.output
    runtime = result.output.split("runtime    ", 1)[1].splitlines()
    for shape in ("passages ", "query ", "reader "):
        line = next(x for x in runtime if x.strip().startswith(shape))
        assert "median ms" in line, result.output


def test_lean_layers_compute_what_transformers_computes(embedder: Embedder) -> None:
    """In float32 the lean layers must agree with BertModel to rounding, padding rows included."""
    import torch

    from rag.runtime.lean import LeanEncoder

    enc = embedder.encoder
    assert enc is not None
    model = enc.model
    ids = enc.token_ids(["全省脱贫攻坚推进会在菏泽召开。", "中", "😀 emoji 与 English 混合"])
    width = max(map(len, ids))
    input_ids = torch.tensor([i + [enc.pad_id] * (width - len(i)) for i in ids])
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i in ids])
    with torch.inference_mode():
        want = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        lean = LeanEncoder(model.encoder.layer, model.config, torch.float32)
        got = lean(model.embeddings(input_ids=input_ids), mask)
        alone = lean(model.embeddings(input_ids=input_ids[1:2, :len(ids[1])]))  # one text: no mask
    real = mask.bool()
    assert torch.allclose(got[real], want[real], atol=1e-4)
    assert torch.allclose(alone[0], want[1, :len(ids[1])], atol=1e-4)
    # one copy per layer and dtype: the reader's lean bottom layers are the embedder's
    bf16 = LeanEncoder(model.encoder.layer, model.config, torch.bfloat16)
    bottom = LeanEncoder(model.encoder.layer[:3], model.config, torch.bfloat16)
    assert all(a is b for a, b in zip(bottom.layers, bf16.layers[:3], strict=True))
    assert lean.layers[0] is not bf16.layers[0] and lean.layers[0].qkv.weight.dtype == torch.float32


@pytest.mark.parametrize("dtype", ["float32", "bfloat16-weights"])
def test_workers_give_the_same_vectors_in_order_and_put_torch_threads_back(embedder: Embedder,
                                                                            dtype: str) -> None:
    import torch

    enc = embedder.encoder
    assert enc is not None
    texts = ["菏泽", "", "全省脱贫攻坚推进会在菏泽召开。" * 3, "😀 emoji 与 English", "中"] * 3
    threads = torch.get_num_threads()
    one = enc.encode(texts, dtype, batch_size=2)
    two = enc.encode(texts, dtype, batch_size=2, workers=2)
    assert torch.get_num_threads() == threads
    assert min_row_cosine(two, one) >= 0.99999  # same batches, same rows; only the threads differ
    assert not np.allclose(two[0], two[2])  # rows did not trade places
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        enc.encode(texts, dtype, workers=0)


def test_trim_gives_freed_heap_back_to_the_os() -> None:
    from rag.runtime.memory import trim

    blocks = [bytearray(100_000) for _ in range(500)]  # under glibc's mmap threshold: on the heap
    del blocks
    assert trim() is True  # glibc (Linux) released pages; elsewhere this is a no-op returning False
    assert trim() in (True, False)
