"""Evaluation: HumanEval infilling, FIM exact match on held-out files, pass@k, perplexity."""
