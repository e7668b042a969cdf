"""Text guards shared by source selection and both generators: spans never rewritten (code,
quotations, math, URLs), code-like lines, English detection, few-shot template frames.

Stage: RAGRouter step 1, augmentation.
"""

from __future__ import annotations

import re
from typing import Any

# Spans never rewritten: code, quotations, LaTeX math, URLs. A quotation or a code snippet is part of
# the task, so a change there would change the question itself.
_PROTECTED_RES = [
    re.compile(r"```.*?(?:```|\Z)", re.S),  # fenced code (an unclosed fence runs to the end)
    re.compile(r"`[^`\n]+`"),  # inline code
    re.compile(r"\$\$.+?\$\$", re.S),  # display math
    re.compile(r"\\\(.+?\\\)|\\\[.+?\\\]", re.S),  # \( \) and \[ \] math
    re.compile(r"\$[^$\n]*?[\\^_{}=][^$\n]*?\$"),  # $...$ with a math character (not "$5 and $3")
    re.compile(r"\"[^\"\n]*\"|“[^”\n]*”|‘[^’\n]*’|(?<!\w)'[^'\n]{1,200}?'(?!\w)"),  # quotations
    re.compile(r"``[^`'\n]*''"),  # LaTeX-style quotations
    re.compile(r"\[[^\]\n]*\]|<[^>\n]*>|\{[^}\n]*\}"),  # placeholders, links, tags: "[industry]"
    re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\w+"),  # URLs, e-mail addresses
    # Benchmark scaffolding: answer options ("A) dry palms") and fixed instructions; the answer key
    # of a few-shot prompt refers to them, so they stay verbatim.
    re.compile(r"(?m)^[ \t]*\(?[A-Ha-h][).:][ \t].*$"),
    re.compile(r"(?m)^[ \t]*(?:Print only|Please answer with|Answer\s*:|Options?\s*:|Choices?\s*:).*$"),
]
_CODE_LINE_RE = re.compile(
    r"^(?:\t| {4})|==|!=|<=|>=|->|=>|::|;\s*$|[{}]|\w\(.*\)|\b\w+_\w+\b|\[\s*\d|"
    r"^\s*(?:def|class|import|from|return|assert|print|elif|else:|try:|except|#include|public|private|"
    r"function|var|let|const|SELECT|>>>)\b"
)
_MATH_CHARS = set("=+*/^<>%\\{}|~_#@&$")
# Words that are numbers (spaCy's like_num misses some): never a source, never a replacement.
NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion trillion dozen dozens score gross half halves quarter quarters third thirds couple pair "
    "pairs twice thrice double triple single once percent percentage".split()
)
_ENGLISH_FUNCTION_WORDS = frozenset(
    "a an the of to in on at for from by with and or but if is are was were be been it this that these "
    "those what which who whom whose how why when where do does did can could will would should shall "
    "may might must not no you your i we he she they his her their its my our as than then so".split()
)
# A sentence with one of these words may rely on the order of its coordinated items.
ORDER_WORDS = frozenset(
    "respectively former latter ratio difference minus subtract subtracted divide divided quotient "
    "versus vs order ordered sequence first second third then followed before after between from".split()
)
_TEMPLATE_RE = re.compile(
    r"^(?P<prefix>(?:Question|Q|Instruction)\s*:[ \t]*)?(?P<body>.*?)(?P<suffix>\s*\n\s*Answer\s*:\s*)?$", re.S
)


def split_template(prompt: str) -> tuple[str, str, str]:
    """Split a benchmark frame ("Question:<body>\\nAnswer:") into prefix, body and suffix.

    The frame confuses the parser ("Question:Which" parses as one noun phrase) and must survive
    unchanged, so only the body is parsed and rewritten."""
    m = _TEMPLATE_RE.match(prompt)
    if not m or not m.group("body").strip():
        return "", prompt, ""
    return m.group("prefix") or "", m.group("body"), m.group("suffix") or ""


def protected_char_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges that no generator may touch: code, quotations, math, URLs, code-like lines."""
    spans = [(m.start(), m.end()) for rx in _PROTECTED_RES for m in rx.finditer(text)]
    offset = 0
    for line in text.splitlines(keepends=True):
        if _CODE_LINE_RE.search(line):
            spans.append((offset, offset + len(line)))
        offset += len(line)
    return sorted(spans)


def protected_mask(doc: Any) -> list[bool]:
    """Per token: True if the token overlaps a protected span, is a number, a named entity, or a
    math/code-like token (digits, operators, underscores, camelCase)."""
    spans = protected_char_spans(doc.text)
    mask = []
    for t in doc:
        start, end = t.idx, t.idx + len(t.text)
        covered = any(s < end and start < e for s, e in spans)
        text = t.text
        code_like = (
            any(c.isdigit() for c in text)
            or any(c in _MATH_CHARS for c in text)
            or (any(c.isupper() for c in text[1:]) and any(c.islower() for c in text))
        )
        number = t.like_num or t.pos_ == "NUM" or t.lower_ in NUMBER_WORDS
        mask.append(covered or code_like or number or bool(t.ent_type_))
    return mask


def is_code_like_line(line: str) -> bool:
    return bool(_CODE_LINE_RE.search(line))


def code_line_share(text: str) -> float:
    """Share of non-empty lines that are code (inside a fence or code-like by `_CODE_LINE_RE`)."""
    lines, in_fence, code = 0, False, 0
    for line in text.splitlines():
        if not line.strip():
            continue
        lines += 1
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            code += 1
            continue
        code += int(in_fence or is_code_like_line(line))
    return code / lines if lines else 0.0


def looks_english(text: str, min_ascii_letter_share: float = 0.95, min_function_word_share: float = 0.08) -> bool:
    """Cheap language check (no model): mostly ASCII letters and, for eight words or more, a share of
    common English function words. Non-English queries would get English-only rewrites."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    if sum(c.isascii() for c in letters) / len(letters) < min_ascii_letter_share:
        return False
    words = re.findall(r"[a-z']+", text.lower())
    if len(words) < 8:
        return True
    return sum(w in _ENGLISH_FUNCTION_WORDS for w in words) / len(words) >= min_function_word_share


def article_for(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" and not re.match(r"(?i)(?:uni|use|eu|one)", word) else "a"
