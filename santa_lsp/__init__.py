"""santa-lsp's language server: completions from a local GPT-BigCode model, over LSP."""

__version__ = "0.1.0"
