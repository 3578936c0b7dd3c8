"""`python -m santa_lsp`: the same as the `santa-lsp` command.

`python -m` puts the working directory first on sys.path, and editors start the server in the
user's project: a `model.py` or `train/` there (or any module named like a dependency) would be
imported in place of ours. The `santa-lsp` script never has that directory on its path, so it is
taken off here too, unless it is the directory this package lives in (a source checkout).
"""

import sys
from pathlib import Path

if sys.path and Path(sys.path[0] or ".").resolve() == Path.cwd().resolve() != Path(__file__).resolve().parents[1]:
    del sys.path[0]

from santa_lsp.cli import main  # after the path is fixed

sys.exit(main())
