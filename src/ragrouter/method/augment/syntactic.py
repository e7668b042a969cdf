"""Dependency-syntax rewrites: the same words in another order, read from the spaCy parse
(fronted adverbial <-> trailing adverbial, swapped coordinated conjuncts). They teach the router
that word order alone does not change how hard a query is; a pattern that is not clear-cut yields
nothing.

Stage: RAGRouter step 1, augmentation. Reads a spaCy Doc; returns variant texts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ragrouter.method.augment.guards import (
    NUMBER_WORDS,
    ORDER_WORDS,
    article_for,
    protected_mask,
)

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
        if protected[t.i] and not (t.like_num or t.pos_ == "NUM" or t.lower_ in NUMBER_WORDS or t.ent_type_):
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
    if not allow or any(t.lower_ in ORDER_WORDS for t in toks):
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
        if before is not None and before.lower_ in ("a", "an") and article_for(b[0].text) != before.lower_:
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
    protected = protected_mask(doc)
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
