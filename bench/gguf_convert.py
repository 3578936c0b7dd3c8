"""Run llama.cpp's own converter (convert_hf_to_gguf.py) on one of our checkpoints.

    python bench/gguf_convert.py LLAMA_CPP_SOURCE MODEL_DIR OUT.gguf [OUTTYPE]

OUTTYPE is the converter's --outtype: f32 by default (what our fp32 runtime computes, for the
tests), f16 or bf16 for a GPU server.

The converter names a tokenizer's pre-tokenizer (the regex split before BPE) by hashing how
the tokenizer encodes a fixed text, and refuses a hash it does not know: ours, trained by
train/tokenizer_train.py, is new to it. Our pre-tokenizer is StarCoder's (single digits, then
the GPT-2 byte-level split), which llama.cpp implements as "starcoder"; so an unknown hash is
answered with that name, and nothing else of the converter changes. The GGUF's tokenization is
checked against ours through llama-server's /tokenize (tests/test_backend_llama_cpp.py).
Run in its own process: the converter is a script that reads sys.argv and imports from its folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

PRE_TOKENIZER = "starcoder"


def main() -> None:
    source, model_dir, out = (Path(arg) for arg in sys.argv[1:4])
    outtype = sys.argv[4] if len(sys.argv) > 4 else "f32"
    sys.path[:0] = [str(source), str(source / "gguf-py")]
    import convert_hf_to_gguf
    from conversion.base import TextModel

    known = TextModel.get_vocab_base_pre

    def pre_tokenizer(self: TextModel, tokenizer: object) -> str:
        try:
            return known(self, tokenizer)
        except NotImplementedError:
            return PRE_TOKENIZER

    TextModel.get_vocab_base_pre = pre_tokenizer  # type: ignore[method-assign]
    sys.argv = ["convert_hf_to_gguf.py", str(model_dir), "--outfile", str(out), "--outtype", outtype]
    convert_hf_to_gguf.main()


if __name__ == "__main__":
    main()
