"""Tokenizing text and computing simple word statistics."""

import re
from collections import Counter
from dataclasses import dataclass

WORD_RE = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:\.\d+)?")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

STOP_WORDS = frozenset(
    "a an and are as at be by for from in is it of on or that the to was with".split()
)


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def is_number(self) -> bool:
        return self.text[0].isdigit()


def tokenize(text: str) -> list[Token]:
    tokens = []
    for match in WORD_RE.finditer(text):
        tokens.append(Token(match.group(), match.start(), match.end()))
    return tokens


def words(text: str, lowercase: bool = True) -> list[str]:
    result = [tok.text for tok in tokenize(text) if not tok.is_number]
    if lowercase:
        result = [word.lower() for word in result]
    return result


def split_sentences(text: str) -> list[str]:
    parts = SENTENCE_END.split(text.strip())
    return [part.strip() for part in parts if part.strip()]


def word_frequencies(text: str, skip_stop_words: bool = False) -> Counter[str]:
    counts: Counter[str] = Counter()
    for word in words(text):
        if skip_stop_words and word in STOP_WORDS:
            continue
        counts[word] += 1
    return counts


def top_words(text: str, n: int = 10) -> list[tuple[str, int]]:
    counts = word_frequencies(text, skip_stop_words=True)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]


def average_word_length(text: str) -> float:
    all_words = words(text)
    if not all_words:
        return 0.0
    return sum(len(word) for word in all_words) / len(all_words)


def longest_words(text: str, limit: int = 5) -> list[str]:
    unique = set(words(text))
    return sorted(unique, key=lambda word: (-len(word), word))[:limit]


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    if n <= 0:
        raise ValueError("n must be positive")
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def bigram_counts(text: str) -> Counter[tuple[str, ...]]:
    return Counter(ngrams(words(text), 2))


def lexical_density(text: str) -> float:
    all_words = words(text)
    if not all_words:
        return 0.0
    content = [word for word in all_words if word not in STOP_WORDS]
    return round(len(content) / len(all_words), 4)


def count_syllables(word: str) -> int:
    word = word.lower()
    vowels = "aeiouy"
    count = 0
    previous_vowel = False
    for ch in word:
        is_vowel = ch in vowels
        if is_vowel and not previous_vowel:
            count += 1
        previous_vowel = is_vowel
    if word.endswith("e") and count > 1:
        count -= 1
    return max(count, 1)


def reading_ease(text: str) -> float:
    sentences = split_sentences(text)
    all_words = words(text)
    if not sentences or not all_words:
        return 0.0
    syllables = sum(count_syllables(word) for word in all_words)
    words_per_sentence = len(all_words) / len(sentences)
    syllables_per_word = syllables / len(all_words)
    return round(206.835 - 1.015 * words_per_sentence - 84.6 * syllables_per_word, 2)


def keyword_in_context(text: str, keyword: str, width: int = 20) -> list[str]:
    keyword = keyword.lower()
    snippets = []
    for tok in tokenize(text):
        if tok.text.lower() != keyword:
            continue
        left = text[max(0, tok.start - width):tok.start].rjust(width)
        right = text[tok.end:tok.end + width].ljust(width)
        snippets.append(f"{left}[{tok.text}]{right}".replace("\n", " "))
    return snippets


def report(text: str) -> str:
    lines = [
        f"sentences: {len(split_sentences(text))}",
        f"words: {len(words(text))}",
        f"unique words: {len(set(words(text)))}",
        f"avg word length: {average_word_length(text):.2f}",
        f"lexical density: {lexical_density(text):.2%}",
    ]
    for word, count in top_words(text, 5):
        lines.append(f"  {word:<15}{count:>5}")
    return "\n".join(lines)
