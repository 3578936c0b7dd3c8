"""Optional repository-stars filter (off by default: BigCode found it hurt the model)."""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from train.data.config import StarsFilterConfig


class StarsFilter(BaseFilter):
    """Drops files from repositories with fewer than `min_stars` stars.

    Files without star information (a team's own tree) are kept: stars say nothing about them.
    """

    name = "stars"

    def __init__(self, cfg: StarsFilterConfig):
        super().__init__()
        if cfg.min_stars is None:
            raise ValueError("StarsFilter needs min_stars")
        self.min_stars = cfg.min_stars

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        stars = doc.metadata.get("stars")
        return stars is None or int(stars) >= self.min_stars or (False, "stars")
