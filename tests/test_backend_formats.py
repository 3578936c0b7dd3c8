"""The answers of the servers we have not run here, in their documented shapes: vLLM's and TGI's
`/v1/completions` give log-probabilities as the completions API's parallel lists, llama.cpp as
the chat API's list of objects with bytes (tests/test_backend_llama_cpp.py runs that one live)."""

from __future__ import annotations

from santa_lsp.remote import RemoteRequest, _from_infill, _from_openai

URL = "http://gpu-box:8000/v1/completions"


def test_vllm_shaped_answer() -> None:
    answer = {
        "choices": [
            {
                "text": " total += x\n",
                "finish_reason": "stop",
                "logprobs": {
                    "tokens": [" total", " +=", " x", "\n"],
                    "token_logprobs": [-0.1, -0.2, -0.3, -0.4],
                    "text_offset": [0, 6, 9, 11],
                },
            }
        ],
        "usage": {"prompt_tokens": 120, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 96}},
    }
    completion = _from_openai([answer], URL, False, 0.05, trimmed=3)
    assert completion.text == " total += x\n" and completion.finish_reason == "stop"
    assert completion.token_logprobs == [-0.1, -0.2, -0.3, -0.4]
    assert completion.token_ends == [6, 9, 11, 12]
    assert (completion.prompt_tokens, completion.reused_tokens, completion.trimmed_tokens) == (120, 96, 3)


def test_a_length_stop_and_missing_usage_or_logprobs() -> None:
    completion = _from_openai([{"choices": [{"text": "abc", "finish_reason": "length"}]}], URL, False, 0.0, 0)
    assert completion.finish_reason == "length" and completion.prompt_tokens == 0
    assert completion.token_logprobs == [] and completion.token_ends == []  # the confidence gate then passes it


def test_a_character_split_over_tokens_ends_where_it_is_whole() -> None:
    # "é" is two bytes; llama.cpp gives each token's bytes, and a token may hold half a character.
    probs = [{"logprob": -1.0, "bytes": [0xC3]}, {"logprob": -0.5, "bytes": [0xA9, 0x21]}]
    request = RemoteRequest("", "", "", "psm", 8, 0.0, (), 300, True)
    answer = {"content": "é!", "stop_type": "limit", "completion_probabilities": probs,
              "timings": {"predicted_ms": 350.0, "cache_n": 7}, "tokens_evaluated": 9}  # fmt: skip
    completion = _from_infill([answer], URL, False, request, 0.4)
    assert completion.token_ends == [0, 2]
    assert completion.finish_reason == "time"  # stopped at the limit after the budget had passed
    assert (completion.prompt_tokens, completion.reused_tokens) == (9, 7)


def test_a_vllm_stream_joins_its_events_and_reads_the_usage_from_the_last() -> None:
    def chunk(text: str, logprob: float, reason: str | None) -> dict[str, object]:
        logprobs = {"tokens": [text], "token_logprobs": [logprob]}
        return {"choices": [{"text": text, "logprobs": logprobs, "finish_reason": reason}]}

    usage = {"choices": [], "usage": {"prompt_tokens": 50, "prompt_tokens_details": {"cached_tokens": 40}}}
    completion = _from_openai([chunk(" a", -0.1, None), chunk(" b", -0.2, "length"), usage], URL, False, 0.1, 0)
    assert completion.text == " a b" and completion.finish_reason == "length"
    assert completion.token_logprobs == [-0.1, -0.2] and completion.token_ends == [2, 4]
    assert (completion.prompt_tokens, completion.reused_tokens) == (50, 40)
    cut = _from_openai([chunk(" a", -0.1, None)], URL, True, 0.1, 0)
    assert cut.text == " a" and cut.finish_reason == "time"  # the budget ran out: what came is kept
