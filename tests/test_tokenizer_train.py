"""Tokenizer training: SantaCoder layout, files loadable by tokenizers and transformers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

from tests.test_data_helpers import java_class, python_module
from train.cli import main as cli_main
from train.tokenizer_train import SPECIAL_TOKENS, iter_corpus, train_tokenizer

VOCAB = 400
CORPUS = [python_module(seed, lines=20) for seed in range(40)] + [java_class(seed) for seed in range(10)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tok")
    train_tokenizer(CORPUS, vocab_size=VOCAB, out_dir=out)
    return out


def test_special_tokens_follow_the_bpe_vocabulary(trained: Path) -> None:
    tok = Tokenizer.from_file(str(trained / "tokenizer.json"))
    assert tok.get_vocab_size() == VOCAB + len(SPECIAL_TOKENS)
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == list(range(VOCAB, VOCAB + 5))
    assert all(tok.id_to_token(i) not in SPECIAL_TOKENS for i in range(VOCAB))


def test_pipeline_matches_santacoder_layout(trained: Path) -> None:
    spec = json.loads((trained / "tokenizer.json").read_text())
    assert spec["model"]["type"] == "BPE"
    assert spec["normalizer"] is None
    digits, byte_level = spec["pre_tokenizer"]["pretokenizers"]
    assert digits == {"type": "Digits", "individual_digits": True}
    assert byte_level["type"] == "ByteLevel" and byte_level["add_prefix_space"] is False
    assert spec["decoder"]["type"] == "ByteLevel"
    assert all(t["special"] for t in spec["added_tokens"])


def test_digits_are_split_and_round_trip_is_lossless(trained: Path) -> None:
    tok = Tokenizer.from_file(str(trained / "tokenizer.json"))
    text = "total = 12345 * ünïcode_λ\n\tif x: return '🙂'\n"
    encoding = tok.encode(text)
    assert [t for t in encoding.tokens if t.isdigit()] == ["1", "2", "3", "4", "5"]
    assert tok.decode(encoding.ids) == text


def test_loads_in_transformers(trained: Path) -> None:
    hf = PreTrainedTokenizerFast.from_pretrained(str(trained))
    raw = Tokenizer.from_file(str(trained / "tokenizer.json"))
    text = "def f(x):\n    return x + 1\n"
    assert hf(text)["input_ids"] == raw.encode(text).ids
    assert hf.eos_token == hf.bos_token == "<|endoftext|>"
    assert hf.eos_token_id == VOCAB
    assert hf.convert_tokens_to_ids("<fim-middle>") == VOCAB + 2
    assert hf.model_max_length > 10**20  # no model yet: transformers sets no limit (test_tokenizer_config)
    assert hf.decode(hf(text)["input_ids"]) == text
    # special tokens are atomic in transformers too
    assert hf("<fim-prefix>x<fim-suffix>")["input_ids"][0] == VOCAB + 1


def test_small_corpus_warns(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="corpus too small"):
        tok = train_tokenizer(["tiny text"], vocab_size=5000)
    assert tok.token_to_id("<|endoftext|>") == tok.get_vocab_size() - len(SPECIAL_TOKENS)


def test_corpus_from_pipeline_output_skips_intermediates(tmp_path: Path) -> None:
    data = tmp_path / "out" / "data"
    data.mkdir(parents=True)
    with gzip.open(data / "00000.jsonl.gz", "wt") as f:
        f.write(json.dumps({"content": "x = 1\n", "lang": "python", "path": "a.py"}) + "\n")
    work = tmp_path / "out" / "_work" / "filtered"
    work.mkdir(parents=True)
    with gzip.open(work / "00000.jsonl.gz", "wt") as f:
        f.write(json.dumps({"text": "not training data"}) + "\n")
    assert list(iter_corpus([tmp_path / "out"])) == ["x = 1\n"]


def test_cli_trains_from_a_source_tree(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for seed, text in enumerate(CORPUS):
        (src / f"f{seed}.py").write_text(text)
    out = tmp_path / "tok"
    assert cli_main(["tokenizer", "--input", str(src), "--output", str(out), "--vocab-size", "300"]) == 0
    assert {p.name for p in out.iterdir()} == {
        "tokenizer.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
    }
    assert Tokenizer.from_file(str(out / "tokenizer.json")).token_to_id("<fim-pad>") == 304
