"""LLM-judge labelling of new queries through any OpenAI-compatible chat API.

Stage: RAGRouter step 1, augmentation (`labeling: judge`). Reads prompts; answers and grades are
cached on disk so a rerun asks nothing again.

For a query the strong and the weak model each answer it, and a judge model grades the weak answer
from 1 to 5 against the strong one as reference (RouteLLM's gpt4_dataset labels the same way:
GPT-4 grades Mixtral 1-5). The grade becomes the corpus' `weak_score`; label = weak_score <= 3.

Why the plumbing:
* every response is cached on disk, one JSON file per request keyed by the sha256 of the model,
  the messages and the sampling settings, written atomically: a rerun (or a crashed run resumed)
  sends no request that was answered before, so labels are reproducible and paid for once;
* the openai client runs with max_retries=0 and this module retries itself (timeouts, connection
  errors, 408/409/429, 5xx) with exponential back-off, so the policy is visible, logged and
  testable with a fast back-off base;
* the judge's verdict is parsed strictly (exactly one "[[k]]", k in 1-5); a malformed verdict is
  logged and asked again (with some temperature, as a new cached request) up to `score_attempts`
  times, then the query is dropped rather than given a guessed label.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger
from tqdm import tqdm

from ragrouter.common.io import sha1_text, write_json
from ragrouter.data.benchmarks import STRONG_MODEL, WEAK_MODEL
from ragrouter.data.corpus import routing_label
from ragrouter.method.augment.params import JUDGE_CACHE_DIR

DEFAULT_JUDGE_PARAMS: dict[str, Any] = {
    "base_url": "http://127.0.0.1:8000/v1",  # any OpenAI-compatible server (vLLM, OpenAI, ...)
    "api_key_env": "OPENAI_API_KEY",  # name of the environment variable holding the key
    "strong_model": STRONG_MODEL,
    "weak_model": WEAK_MODEL,
    "judge_model": STRONG_MODEL,
    "cache_dir": JUDGE_CACHE_DIR,
    "timeout_s": 60.0,  # per request
    "max_retries": 6,  # transport retries per request (timeouts, 429, 5xx)
    "backoff_base_s": 1.0,  # delay before retry k is base * 2**k (capped), plus jitter
    "backoff_max_s": 60.0,
    "jitter": 0.1,  # up to this share added at random, so parallel workers do not retry in step
    "score_attempts": 3,  # judge calls per query before a malformed verdict drops the query
    "answer_max_tokens": 1024,
    "judge_max_tokens": 512,
    "temperature": 0.0,
    "retry_temperature": 0.7,  # for a judge call repeated after a malformed verdict
    "workers": 4,  # parallel queries in `label_many` / `grade_many`
}

JUDGE_SYSTEM_PROMPT = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. You are given a reference answer written by a "
    "strong assistant and the assistant's answer to evaluate. Consider correctness first, then "
    "helpfulness, relevance, depth and level of detail, comparing with the reference answer. Rate the "
    "answer on a scale of 1 to 5: 5 means as good as the reference or better, 4 good enough for the "
    "user, 3 noticeably worse with some errors or omissions, 2 mostly wrong or unhelpful, 1 wrong or "
    "useless. Begin your evaluation with a short explanation. After it, output your rating strictly "
    "in this format: [[k]], where k is one of 1, 2, 3, 4, 5, for example: \"Rating: [[3]]\". Do not "
    "write double square brackets anywhere else."
)
JUDGE_USER_TEMPLATE = (
    "[User Question]\n{question}\n\n"
    "[The Start of Reference Answer]\n{reference}\n[The End of Reference Answer]\n\n"
    "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"
)

_VERDICT_RE = re.compile(r"\[\[(.*?)\]\]", re.S)
_RETRYABLE_STATUS = frozenset({408, 409, 429})


class JudgeError(RuntimeError):
    """The API could not be reached or refused the request for good; labelling cannot go on."""


@dataclass(frozen=True)
class JudgeLabel:
    weak_score: int  # 1-5 judge grade of the weak answer
    label: int  # routing label: 1 = the strong model is needed (weak_score <= 3)
    strong_answer: str
    weak_answer: str
    judgement: str


def parse_score(text: str) -> int | None:
    """The judge's 1-5 verdict, or None if malformed: the text must hold exactly one "[[...]]" and it
    must contain a single digit 1-5 (surrounding spaces allowed). "[[4.5]]", "[[6]]", "[[4/5]]",
    two verdicts, or none are all rejected: a guessed label is worse than a dropped query."""
    if not isinstance(text, str):
        return None
    found = _VERDICT_RE.findall(text)
    if len(found) != 1:
        return None
    inner = found[0].strip()
    return int(inner) if re.fullmatch(r"[1-5]", inner) else None


def merge_judge_params(params: dict[str, Any] | None) -> dict[str, Any]:
    merged = dict(DEFAULT_JUDGE_PARAMS)
    for key, value in (params or {}).items():
        if key not in merged:
            raise ValueError(f"judge params: unknown key {key!r}; known: {sorted(merged)}")
        merged[key] = value
    return merged


def request_key(model: str, messages: list[dict[str, str]], settings: dict[str, Any]) -> str:
    """sha256 over the model, the messages and the sampling settings (canonical JSON): two requests
    share a cache entry only if the API would see the same request."""
    payload = json.dumps({"model": model, "messages": messages, **settings}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class JudgeClient:
    """Answers with the strong and weak model and grades the weak answer with the judge model."""

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        client: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        p = merge_judge_params(params)
        self.params = p
        self.strong_model: str = p["strong_model"]
        self.weak_model: str = p["weak_model"]
        self.judge_model: str = p["judge_model"]
        self.cache_dir = Path(p["cache_dir"])
        self._sleep = sleep
        self._rng = random.Random()
        self._lock = threading.Lock()
        self.stats = {"cache_hits": 0, "requests": 0, "retries": 0, "malformed": 0, "dropped": 0}
        if client is None:
            import openai

            key = os.environ.get(p["api_key_env"])
            if not key:
                logger.warning(f"judge: ${p['api_key_env']} is not set; sending a placeholder key (fine for local servers)")
                key = "EMPTY"
            client = openai.OpenAI(base_url=p["base_url"], api_key=key, timeout=float(p["timeout_s"]), max_retries=0)
        self.client = client

    # -- one request -------------------------------------------------------------------------------

    def _cache_path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    def _count(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1

    def chat(self, model: str, messages: list[dict[str, str]], temperature: float, max_tokens: int, attempt: int = 0) -> str:
        """The assistant's reply, from the cache when this exact request was answered before.

        `attempt` > 0 marks a deliberate repeat (a new judge sample after a malformed verdict): it is
        part of the key, so the repeat is a new request yet a rerun finds it cached as well."""
        settings: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens}
        if attempt:
            settings["attempt"] = attempt
        key = request_key(model, messages, settings)
        path = self._cache_path(key)
        if path.exists():
            try:
                content = json.loads(path.read_text(encoding="utf-8"))["content"]
                self._count("cache_hits")
                return content
            except (json.JSONDecodeError, KeyError, OSError) as err:
                logger.warning(f"judge: unreadable cache entry {path} ({err}); asking again")
        content = self._create(model, messages, temperature, max_tokens)
        write_json({"model": model, "messages": messages, "settings": settings, "content": content, "created": time.time()}, path)
        return content

    def _delay(self, retry: int, err: Exception) -> float:
        p = self.params
        delay = min(float(p["backoff_max_s"]), float(p["backoff_base_s"]) * 2**retry)
        response = getattr(err, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after:
            try:
                delay = min(float(p["backoff_max_s"]), max(delay, float(retry_after)))
            except ValueError:
                pass  # an HTTP date: keep our own back-off
        return delay * (1.0 + float(p["jitter"]) * self._rng.random())

    def _create(self, model: str, messages: list[dict[str, str]], temperature: float, max_tokens: int) -> str:
        """One chat completion with retries on transient failures; JudgeError on anything else."""
        import openai

        max_retries = int(self.params["max_retries"])
        for retry in range(max_retries + 1):
            try:
                self._count("requests")
                resp = self.client.chat.completions.create(
                    model=model, messages=messages, temperature=temperature, max_tokens=max_tokens
                )
                content = resp.choices[0].message.content if resp.choices else None
                if content is None:
                    raise JudgeError(f"judge: {model} returned no message content")
                return content
            except (openai.APITimeoutError, openai.APIConnectionError) as err:
                failure: Exception = err
                reason = "timeout" if isinstance(err, openai.APITimeoutError) else f"connection error ({err})"
            except openai.APIStatusError as err:
                if err.status_code not in _RETRYABLE_STATUS and err.status_code < 500:
                    raise JudgeError(f"judge: {model}: HTTP {err.status_code}: {err.message}") from err
                failure, reason = err, f"HTTP {err.status_code}"
            if retry == max_retries:
                raise JudgeError(f"judge: {model}: gave up after {max_retries + 1} attempts (last: {reason})") from failure
            delay = self._delay(retry, failure)
            self._count("retries")
            logger.warning(f"judge: {model}: {reason}; retry {retry + 1}/{max_retries} in {delay:.2f} s")
            self._sleep(delay)
        raise AssertionError("unreachable")

    # -- one query ---------------------------------------------------------------------------------

    def answer(self, model: str, prompt: str) -> str:
        return self.chat(model, [{"role": "user", "content": prompt}], float(self.params["temperature"]), int(self.params["answer_max_tokens"]))

    def judge_messages(self, prompt: str, reference: str, answer: str) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": JUDGE_SYSTEM_PROMPT},
            {"role": "user", "content": JUDGE_USER_TEMPLATE.format(question=prompt, reference=reference, answer=answer)},
        ]

    def grade(self, prompt: str, reference: str, answer: str) -> tuple[int, str] | None:
        """The judge's 1-5 grade of `answer` with `reference` as the reference answer, and its text;
        None (logged) when the judge gives no well-formed verdict in `score_attempts` tries."""
        messages = self.judge_messages(prompt, reference, answer)
        attempts = int(self.params["score_attempts"])
        for attempt in range(attempts):
            temperature = float(self.params["temperature"] if attempt == 0 else self.params["retry_temperature"])
            text = self.chat(self.judge_model, messages, temperature, int(self.params["judge_max_tokens"]), attempt=attempt)
            score = parse_score(text)
            if score is not None:
                return score, text
            self._count("malformed")
            logger.warning(
                f"judge: malformed verdict for query {sha1_text(prompt)[:10]} (attempt {attempt + 1}/{attempts}): {text[-160:]!r}"
            )
        self._count("dropped")
        logger.warning(f"judge: no valid verdict for query {sha1_text(prompt)[:10]} after {attempts} attempts; dropped")
        return None

    def label(self, prompt: str) -> JudgeLabel | None:
        """Strong answer, weak answer, judge grade of the weak one; None when `grade` gives none."""
        strong = self.answer(self.strong_model, prompt)
        weak = self.answer(self.weak_model, prompt)
        graded = self.grade(prompt, strong, weak)
        return None if graded is None else JudgeLabel(graded[0], routing_label(graded[0]), strong, weak, graded[1])

    def _in_parallel(self, call: Callable, items: Sequence[tuple], workers: int | None) -> list:
        """`call(*item)` for every item, in order, `workers` at a time. A JudgeError (API unreachable)
        stops the run: silently dropping every remaining query would bias the corpus."""
        workers = int(workers or self.params["workers"])
        results: list = [None] * len(items)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool, tqdm(total=len(items), desc="judge", unit="query", disable=None) as bar:
            futures = {pool.submit(call, *item): i for i, item in enumerate(items)}
            try:
                for future in futures:
                    results[futures[future]] = future.result()
                    bar.update(1)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return results

    def grade_many(self, triples: Sequence[tuple[str, str, str]], workers: int | None = None) -> list[tuple[int, str] | None]:
        """`grade` for every (prompt, reference, answer), in order, `workers` at a time."""
        results = self._in_parallel(self.grade, triples, workers)
        logger.info(f"judge: {sum(r is not None for r in results)} of {len(triples)} answers graded; stats {self.stats}")
        return results

    def label_many(self, prompts: Sequence[str], workers: int | None = None) -> list[JudgeLabel | None]:
        """`label` for every prompt, in order, `workers` at a time (see `_in_parallel`)."""
        results = self._in_parallel(self.label, [(p,) for p in prompts], workers)
        scored = sum(r is not None for r in results)
        logger.info(f"judge: {scored} of {len(prompts)} queries labelled; stats {self.stats}")
        return results
