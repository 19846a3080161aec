"""The reader's shipped weights: a versioned folder inside the package.

    rag/weights/reader-v4/
        model.safetensors   the top layers and the span head; metadata carries the
                            format header. Version 2 stores every weight matrix of
                            the top layers as int8 with one float32 scale per row
                            (`<name>` and `<name>.scale`), the rest in float16;
                            version 1 stored all of the top layers in float16
        reader.json         format + version, base model, how many layers are
                            frozen, a probe of the base, SHA-256 of model.safetensors,
                            the refusal calibration
        MODEL_CARD.md       data (with SHA-256), settings, wall time and scores

Loading checks, in order: the folder and both files exist, the header is ours,
the SHA-256 matches, the tensors are the ones expected, and the base model the
reader sits on answers the probe as the training base did (cosine >= 0.99), so a
reader trained on another base is refused, not silently misused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import ReaderError

if TYPE_CHECKING:
    import torch

    from rag.reader.net import ReaderNet

FORMAT = "rag-zh-reader"
VERSION = 2
READABLE_VERSIONS = (1, 2)
WEIGHTS_ROOT = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_READER = "reader-v4"
PROBE_TEXT = "query: 全省脱贫攻坚推进会在哪里召开？ passage: 会议在菏泽召开，省委书记出席并讲话。"
PROBE_MIN_COSINE = 0.99
FIX = ("retrain it with `rag reader train`, or switch the reader off with answer.reader: null "
       "(RAG_ANSWER__READER=null)")


@dataclass(frozen=True)
class Calibration:
    """How readings are ranked and when they are refused, fitted on validation data.

    A window ranks by  margin + hand_weight * hand score;  the winner is refused when
    w_margin * its margin + w_null * its "no answer" logits + w_evidence * retrieval
    evidence + bias < 0 (w_null 0: calibrations older than the null term).  Within a window
    the span is chosen by its logits + length_prior * ln(its characters), among spans
    of at most max_answer_tokens tokens (None: the cap it was trained with).
    """

    hand_weight: float = 0.0
    w_margin: float = 1.0
    w_evidence: float = 0.0
    bias: float = 0.0
    w_null: float = 0.0
    length_prior: float = 0.0
    max_answer_tokens: int | None = None

    def value(self, margin: float, null: float, evidence: float) -> float:
        """The decision value: >= 0 answers, < 0 refuses."""
        return self.w_margin * margin + self.w_null * null + self.w_evidence * evidence + self.bias

    def accepts(self, margin: float, null: float, evidence: float) -> bool:
        return self.value(margin, null, evidence) >= 0


@dataclass(frozen=True)
class ReaderMeta:
    base_model: str
    trained_from: int
    num_layers: int
    hidden_size: int
    probe: list[float]
    sha256: str = ""
    calibration: Calibration = field(default_factory=Calibration)
    settings: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT
    version: int = VERSION

    @property
    def max_answer_tokens(self) -> int:
        """The calibrated cap on span length in tokens, else the one it was trained with."""
        cap = self.calibration.max_answer_tokens
        return cap if cap is not None else int(self.settings.get("max_answer_tokens", 48))


def resolve_folder(name_or_path: str) -> Path:
    """A bare name ("reader-v4") is a folder under rag/weights/; anything else is a path."""
    if not name_or_path.strip():
        raise ReaderError(f"answer.reader is empty: name a reader (the shipped one is {DEFAULT_READER!r}) "
                          "or a folder, or set it to null for sentence answers")
    p = Path(name_or_path).expanduser()
    if "/" in name_or_path or p.is_absolute():
        return p
    return WEIGHTS_ROOT / name_or_path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def probe(net: ReaderNet, tokenizer: Any) -> list[float]:
    """Mean hidden state of the frozen base on a fixed text: identifies the base."""
    import torch

    ids = torch.tensor([tokenizer.encode(PROBE_TEXT).ids])
    states = net.frozen_states(ids, torch.ones_like(ids))
    return [round(float(x), 5) for x in states[0].float().mean(0)]


def save(net: ReaderNet, meta: ReaderMeta, folder: Path) -> ReaderMeta:
    """Write model.safetensors and reader.json into `folder`, atomically."""
    import torch
    from safetensors.torch import save_file

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    tensors: dict[str, torch.Tensor] = {}
    for k, v in net.top.state_dict().items():
        if v.dim() == 2:  # a weight matrix: int8 rows, each with its own scale
            tensors[f"top.{k}"], tensors[f"top.{k}.scale"] = quantize_rows(v.detach().float())
        else:
            tensors[f"top.{k}"] = v.detach().to(torch.float16).contiguous()
    tensors.update({f"head.{k}": v.detach().float().contiguous() for k, v in net.head.state_dict().items()})
    save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": FORMAT, "version": str(VERSION)})
    meta = ReaderMeta(**{**asdict(meta), "calibration": meta.calibration,
                         "sha256": sha256_file(tmp / "model.safetensors"), "version": VERSION})
    (tmp / "reader.json").write_text(meta_json(meta), "utf-8")
    for extra in ("MODEL_CARD.md",):
        if (folder / extra).is_file():
            os.replace(folder / extra, tmp / extra)
    swap_in(tmp, folder)
    return meta


def quantize_rows(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per row: w ~ q * scale, with |q| <= 127 and scale = max|row| / 127."""
    import torch

    scale = (w.abs().amax(dim=1, keepdim=True) / 127).clamp(min=1e-12)
    q = torch.round(w / scale).clamp(-127, 127).to(torch.int8)
    return q.contiguous(), scale.float().contiguous()


def dequantize(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The float32 tensors under `prefix`, int8 matrices multiplied back by their row scales."""
    out = {}
    for k, v in tensors.items():
        if not k.startswith(prefix) or k.endswith(".scale"):
            continue
        scale = tensors.get(f"{k}.scale")
        out[k[len(prefix):]] = v.float() * scale if scale is not None else v.float()
    return out


def swap_in(tmp: Path, folder: Path) -> None:
    """Put the finished folder `tmp` at `folder`; an old one stays whole until the new one is in."""
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, folder)


def meta_json(meta: ReaderMeta) -> str:
    """reader.json's text."""
    return json.dumps(asdict(meta), ensure_ascii=False, indent=2) + "\n"


def write_meta(folder: Path, meta: ReaderMeta) -> None:
    """Replace reader.json (e.g. with a new calibration); the weights are not touched."""
    tmp = folder / "reader.json.tmp"
    tmp.write_text(meta_json(meta), "utf-8")
    os.replace(tmp, folder / "reader.json")


def read_meta(folder: Path) -> ReaderMeta:
    path = folder / "reader.json"
    if not folder.is_dir():
        raise ReaderError(f"reader folder {folder} does not exist; {FIX}")
    if not path.is_file():
        raise ReaderError(f"{path} is missing; {FIX}")
    try:
        raw = json.loads(path.read_text("utf-8"))
        if raw.get("format") != FORMAT:
            raise ReaderError(f"{path} is not a rag-zh reader (format {raw.get('format')!r}, "
                              f"expected {FORMAT!r}); {FIX}")
        if raw.get("version") not in READABLE_VERSIONS:
            raise ReaderError(f"{path} has reader format version {raw.get('version')!r}; this rag-zh "
                              f"reads versions {', '.join(map(str, READABLE_VERSIONS))}; {FIX}")
        raw["calibration"] = Calibration(**raw.get("calibration", {}))
        return ReaderMeta(**raw)
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError, AttributeError) as exc:
        raise ReaderError(f"{path} is damaged ({exc}); {FIX}") from exc


def load_into(net: ReaderNet, folder: Path, meta: ReaderMeta, tokenizer: Any) -> None:
    """Check the file's hash and fit, then load the trained tensors into `net`."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / "model.safetensors"
    if not path.is_file():
        raise ReaderError(f"{path} is missing; {FIX}")
    if sha256_file(path) != meta.sha256:
        raise ReaderError(f"{path} is corrupt: its SHA-256 does not match reader.json; {FIX}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise ReaderError(f"{path} cannot be read ({exc}); {FIX}") from exc
    # Layer by layer: one layer's float32 tensors exist at a time beside the network (not all 9).
    layers = {k.split(".")[1] for k in tensors if k.startswith("top.")}
    try:
        if layers != {str(i) for i in range(len(net.top))}:
            raise RuntimeError(f"layers {sorted(layers)} in the file, {len(net.top)} in the network")
        for i, layer in enumerate(net.top):
            layer.load_state_dict(dequantize(tensors, f"top.{i}."))
        net.head.load_state_dict(dequantize(tensors, "head."))
    except RuntimeError as exc:
        raise ReaderError(f"{path} does not fit the reader network ({str(exc)[:200]}); {FIX}") from exc
    have = torch.tensor(probe(net, tokenizer))
    want = torch.tensor(meta.probe)
    cos = float(torch.nn.functional.cosine_similarity(have, want, dim=0)) if len(want) == len(have) else 0.0
    if cos < PROBE_MIN_COSINE:
        raise ReaderError(
            f"the reader in {folder} was trained on another base model ({meta.base_model}, "
            f"layers {meta.trained_from}+ fine-tuned): the embedding model loaded now answers its "
            f"probe with cosine {cos:.3f} (< {PROBE_MIN_COSINE}); {FIX}")
