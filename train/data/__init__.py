"""Data pipeline for code LMs (BigCode recipe) on datatrove.

Public entry points:
    run_pipeline(inputs, output, config=DataConfig(), workers=1) -> report dict
    DataConfig (and its per-step configs) in train.data.config
"""

from train.data.config import DataConfig

__all__ = ["DataConfig", "run_pipeline"]


def __getattr__(name: str) -> object:
    # The pipeline pulls in datatrove, detect-secrets and Pygments: load it on first use only.
    if name == "run_pipeline":
        from train.data.pipeline import run_pipeline

        return run_pipeline
    raise AttributeError(name)
