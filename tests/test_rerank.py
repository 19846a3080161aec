"""retrieval.reranker: a real (tiny, random) CrossEncoder loaded offline from a local folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.config import Config
from rag.errors import ModelNotFoundError
from rag.pipeline import Pipeline
from rag.retrieve import HybridRetriever

from .conftest import ARTICLE

QUESTION = "全省脱贫攻坚推进会在哪里召开？"


def build_tiny_cross_encoder(folder: Path, corpus: str) -> Path:
    """A 2-layer BERT scoring (query, passage) pairs, with a WordPiece vocabulary from `corpus`."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(handle_chinese_chars=True)  # one token per Han char
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator([corpus], trainers.WordPieceTrainer(vocab_size=2000, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, num_labels=1,
                        pad_token_id=fast.pad_token_id)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def reranker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("ce"), ARTICLE.read_text(encoding="utf-8"))


def test_reranker_orders_passages_by_its_own_scores(base_config: Config, embedder, reranker: Path,
                                                    tmp_path: Path) -> None:
    shutil.copy(ARTICLE, tmp_path / ARTICLE.name)
    config = base_config.replace(index={"root": str(tmp_path / "index"), "corpus": str(tmp_path)})
    reranking = config.replace(retrieval={"reranker": str(reranker)})
    index = Pipeline(config, embedder=embedder).index
    vector = embedder.embed([QUESTION], "query")[0]
    pool = HybridRetriever(config.retrieval, index).search(QUESTION, vector, 20).fused  # what is reranked
    after = HybridRetriever(reranking.retrieval, index).search(QUESTION, vector, 5)

    from sentence_transformers import CrossEncoder

    scores = CrossEncoder(str(reranker)).predict([(QUESTION, p.chunk.text) for p in pool])
    expected = [pool[j].chunk.id for j in np.argsort(-np.asarray(scores), kind="stable")[:5]]
    assert [p.chunk.id for p in after.fused] == expected
    assert expected != [p.chunk.id for p in pool[:5]]  # it did act

    answer = Pipeline(reranking, embedder=embedder).with_index(index).answer(QUESTION)
    assert [p.chunk.id for p in answer.passages] == expected


def test_a_missing_reranker_folder_is_an_error_naming_it(base_config: Config, embedder,
                                                         tmp_path: Path) -> None:
    shutil.copy(ARTICLE, tmp_path / ARTICLE.name)
    config = base_config.replace(index={"root": str(tmp_path / "index"), "corpus": str(tmp_path)},
                                 retrieval={"reranker": str(tmp_path / "no-such-model")})
    with pytest.raises(ModelNotFoundError, match="retrieval.reranker .*no-such-model.*or to null"):
        Pipeline(config, embedder=embedder).answer(QUESTION)
