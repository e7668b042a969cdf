"""Our RAGRouter as a RouteLLM router: registered in `routellm`'s registry, so its `Controller` and
its OpenAI-compatible server route with it (model `router-ragrouter-<threshold>`; `ragrouter serve`).

Stage: serving. Reads a RAGRouter checkpoint (rule train_ragrouter) and its encoder folders.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from ragrouter.serving.routellm_bridge import key_for_import, routellm_routers

ROUTER_NAME = "ragrouter"  # RouteLLM model names are router-<name>-<threshold>: no "-" in the name


def register(name: str = ROUTER_NAME) -> type:
    """Add our RAGRouter to RouteLLM's registry under `name`; returns the class. Its constructor takes
    what a RouteLLM YAML config can carry: `checkpoint_dir`, `encoder_dir`, `fusion_dir` (fused
    features), `max_length`. RouteLLM asks for one prompt at a time; the score is `ragrouter route`'s
    (`RAGRouter.strong_win_rates`), and repeated prompts are answered from a cache of `cache_size`."""
    rr = routellm_routers()
    if name in rr.ROUTER_CLS:
        return rr.ROUTER_CLS[name]

    class RAGRouterForRouteLLM(rr.Router):
        NO_PARALLEL = True  # one torch model; RouteLLM must not fork it across processes

        def __init__(self, checkpoint_dir: str, encoder_dir: str, fusion_dir: str | None = None, max_length: int | None = None, cache_size: int = 4096):
            from ragrouter.serving.route import load_router

            self.router = load_router(checkpoint_dir, encoder_dir, fusion_dir, max_length)
            self._cached = functools.lru_cache(maxsize=cache_size)(lambda prompt: float(self.router.strong_win_rates([prompt])[0]))

        def calculate_strong_win_rate(self, prompt: str) -> float:
            return self._cached(prompt)

    rr.ROUTER_CLS[name] = RAGRouterForRouteLLM
    rr.NAME_TO_CLS[RAGRouterForRouteLLM] = name
    return RAGRouterForRouteLLM


def serve(args) -> None:
    """RouteLLM's OpenAI-compatible server with our RAGRouter registered (`ragrouter serve`).
    RouteLLM's server module reads its settings from the command line when imported, so it is
    imported with an argument list built from ours. Malformed requests that its handler does not
    catch (a model name without router and threshold, messages without content) answer 400."""
    import sys
    import tempfile

    import uvicorn
    import yaml
    from fastapi.responses import JSONResponse

    register()
    config = {ROUTER_NAME: {"checkpoint_dir": str(Path(args.router)), "encoder_dir": str(Path(args.encoder)), "fusion_dir": args.fusion, "max_length": args.max_length}}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(config, fh)
    argv = ["routellm.openai_server", "--routers", ROUTER_NAME, "--config", fh.name, "--strong-model", args.strong_model, "--weak-model", args.weak_model]
    argv += ["--base-url", args.base_url] if args.base_url else []
    argv += ["--api-key", args.api_key] if args.api_key else []
    saved_argv, sys.argv = sys.argv, argv
    try:
        with key_for_import():
            from routellm import openai_server
    finally:
        sys.argv = saved_argv

    async def bad_request(request, exc):
        return JSONResponse({"object": "error", "message": f"malformed request: {type(exc).__name__}: {exc}"}, status_code=400)

    for error in (ValueError, KeyError, IndexError, TypeError):
        openai_server.app.add_exception_handler(error, bad_request)
    try:
        uvicorn.run(openai_server.app, host=args.host, port=args.port, log_level="warning")
    finally:
        os.unlink(fh.name)


__all__ = ["ROUTER_NAME", "register", "serve"]
