"""`python -m santa_lsp`: the same as the `santa-lsp` command."""

import sys

from santa_lsp.cli import main

sys.exit(main())
