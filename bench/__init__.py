"""Developer benchmarks, run from a clone (`python -m bench.runtime`, ...): they measure the shipped
packages against transformers, CTranslate2 and llama.cpp, so the product itself knows none of them.
Not installed with the wheel; nothing in model/, santa_lsp/ or train/ imports this package."""
