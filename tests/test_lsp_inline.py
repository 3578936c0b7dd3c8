"""Inline completion and completion through the real server, with a tiny random model."""

from __future__ import annotations

import pytest
from pytest_lsp import LanguageClient

from tests import test_lsp_support as support
from tests.test_lsp_support import inline, metrics, open_doc, start

client, tiny_model = support.client, support.tiny_model  # the shared fixtures

CODE = "def add(a, b):\n    return a + b\n\n\ndef fib(n):\n    \n"


@pytest.mark.asyncio
async def test_capabilities_and_inline_completion(client: LanguageClient, tiny_model) -> None:
    await start(client, tiny_model)
    open_doc(client, CODE)
    result = await inline(client, 5, 4)
    assert len(result.items) <= 1
    m = await metrics(client)
    assert m["requests"] == 1 and m["state"] == "ready"
