"""`ragrouter route` / `serve`: route prompts with a trained RAGRouter from the command line;
`ragrouter report`: rebuild the results from the committed score files.

Stage: serving. Reads prompts (text, .jsonl, .parquet or stdin); writes one JSON line per prompt.

    ragrouter route --router resources/routers/ragrouter_aug-on_sample-on_feat-on_rag-on/seed-0 \\
        --encoder resources/models/encoder --fusion resources/ragrouter/fusion \\
        --strong-percent 50 --calibration resources/corpus/corpus.parquet --input prompts.txt

Input: a text file (one prompt per line), a .jsonl file of {"prompt": ...} objects or a .parquet
file with a `prompt` column; `-` reads lines from stdin. Output: one JSON object per prompt
(strong win rate and the model it is routed to).

    ragrouter report --seeds 0    # tables, figures, REPORT.md of the committed one-seed run
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ragrouter.common.io import atomic_path, setup_logging
from ragrouter.data.records import NonBlank, Record, checked, jsonl_rows, parquet_rows, read_text
from ragrouter.data.sources import DataError


class RoutePrompt(Record):
    prompt: NonBlank


def read_prompts(source: str) -> list[str]:
    """Prompts from a text file (one per line), .jsonl (`{"prompt": ...}` per line) or .parquet (a
    `prompt` column), or from stdin (`-`). Blank lines of a text file are skipped; anything else
    that is not a non-blank string is a DataError naming the file, row and field."""
    if source == "-":
        return [line.rstrip("\n") for line in sys.stdin if line.strip()]
    path = Path(source)
    if not path.exists():
        raise DataError(f"input file {path} does not exist")
    if path.suffix == ".parquet":
        records = parquet_rows(path)
    elif path.suffix == ".jsonl":
        records = list(jsonl_rows(path))
    else:
        return [line for line in read_text(path).splitlines() if line.strip()]
    return [checked(RoutePrompt, rec, path, row).prompt for row, rec in records]


def route_command(args: argparse.Namespace) -> None:
    from ragrouter.serving import route as serve

    setup_logging(None, level="INFO" if args.verbose else "WARNING")
    torch.set_num_threads(args.threads)
    if (args.threshold is None) == (args.strong_percent is None):
        raise SystemExit("ragrouter route: give exactly one of --threshold or --strong-percent")
    if args.strong_percent is not None and not args.calibration:
        raise SystemExit("ragrouter route: --strong-percent needs --calibration (a corpus parquet from the training distribution)")
    try:  # a DataError is a ValueError: bad input, calibration file or checkpoint settings
        prompts = read_prompts(args.input)
        calibration = None
        if args.threshold is None:
            calibration = (
                serve.calibration_prompts(args.calibration, args.calibration_limit)
                if args.calibration.endswith(".parquet")
                else read_prompts(args.calibration)[: args.calibration_limit]
            )
        router = serve.load_router(args.router, args.encoder, args.fusion, args.max_length)
        router.use_backend(args.backend, args.threads)
    except ValueError as err:
        raise SystemExit(f"ragrouter route: {err}") from err
    threshold = args.threshold
    if threshold is None:
        calibration_scores, *_ = serve.timed_scores(router, calibration)
        threshold = serve.calibrate_threshold(calibration_scores, args.strong_percent)
        print(f"threshold {threshold:.6f} sends {args.strong_percent:g}% of {len(calibration_scores)} calibration prompts to the strong model", file=sys.stderr)
    scores, rate, _ = serve.timed_scores(router, prompts)
    strong = serve.route(scores, threshold)
    lines = [
        json.dumps({"prompt": p, "strong_win_rate": round(float(s), 6), "model": args.strong_model if is_strong else args.weak_model}) + "\n"
        for p, s, is_strong in zip(prompts, scores, strong, strict=True)
    ]
    if args.output == "-":
        sys.stdout.writelines(lines)
    else:
        with atomic_path(args.output) as tmp:
            tmp.write_text("".join(lines))
    achieved = 100.0 * float(strong.mean()) if len(prompts) else 0.0
    print(f"routed {len(prompts)} prompts ({int(strong.sum())} strong, {achieved:.1f}%) at {rate:.1f} prompts/s", file=sys.stderr)
    if args.strong_percent is not None and len(prompts) >= 20 and abs(achieved - args.strong_percent) > 10:
        print(
            f"warning: {achieved:.1f}% of these prompts went to the strong model against a target of {args.strong_percent:g}%: "
            "the calibration prompts are not like this traffic; calibrate on a sample of it (--calibration prompts.txt)",
            file=sys.stderr,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragrouter", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("route", help="route prompts to the strong or the weak model")
    r.add_argument("--router", required=True, help="RAGRouter checkpoint folder (rule train_ragrouter)")
    r.add_argument("--encoder", required=True, help="the encoder folder the router was trained with (resources/models/encoder)")
    r.add_argument("--fusion", help="fusion encoder folder (resources/ragrouter/fusion) for feat=on routers")
    r.add_argument("--max-length", type=int, help="feat=off routers: word pieces per query, as the workflow's fusion params")
    r.add_argument("--threshold", type=float, help="route to the strong model when the strong win rate >= this")
    r.add_argument("--strong-percent", type=float, help="target %% of strong calls, calibrated on --calibration")
    r.add_argument("--calibration", help="prompts that calibrate --strong-percent: a sample of your traffic (text, .jsonl) or a corpus parquet (its validation split)")
    r.add_argument("--calibration-limit", type=int, default=2000, help="at most this many calibration prompts")
    r.add_argument("--input", default="-", help="prompts: text lines, .jsonl or .parquet; - for stdin")
    r.add_argument("--output", default="-", help="JSON lines out; - for stdout")
    r.add_argument("--strong-model", default="gpt-4-1106-preview")
    r.add_argument("--weak-model", default="mistralai/Mixtral-8x7B-Instruct-v0.1")
    r.add_argument("--threads", type=int, default=max(1, torch.get_num_threads()))
    r.add_argument(
        "--backend", default="torch", choices=["torch", "onnx", "onnx_int8"],
        help="the classifier's inference path; the workflow's score files name theirs in logs/score_ragrouter/ (onnx_int8_checked picks per checkpoint)",
    )
    r.add_argument("--verbose", action="store_true")
    r.set_defaults(func=route_command)
    sv = sub.add_parser("serve", help="RouteLLM's OpenAI-compatible server, routing with this RAGRouter (model router-ragrouter-<threshold>)")
    for flag in ("--router", "--encoder", "--fusion"):
        sv.add_argument(flag, required=flag != "--fusion", help=f"as for `ragrouter route {flag}`")
    sv.add_argument("--max-length", type=int, help="as for `ragrouter route --max-length`")
    sv.add_argument("--strong-model", required=True, help="the strong model's name for the backend, e.g. openai/gpt-4o (LiteLLM naming)")
    sv.add_argument("--weak-model", required=True, help="the weak model's name for the backend")
    sv.add_argument("--base-url", help="OpenAI-compatible base URL of both models (default: LiteLLM's provider default)")
    sv.add_argument("--api-key", help="API key for --base-url (default: the provider's environment variable)")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=6060)
    sv.add_argument("--threads", type=int, default=max(1, torch.get_num_threads()))
    sv.set_defaults(func=serve_command)
    rp = sub.add_parser("report", help="rebuild the tables, figures and REPORT.md from the committed score files (no training)")
    rp.add_argument("--configfile", default="results/run_config.yaml", help="the run's config (default: the one the committed run recorded)")
    rp.add_argument("--seeds", type=int, nargs="+", help="override the config's training seeds, as `--config seeds=[...]`")
    rp.add_argument("--out", default=".", help="write results/ under this folder (default: in place)")
    rp.set_defaults(func=report_command)
    return parser


def report_command(args: argparse.Namespace) -> None:
    from ragrouter.evaluation.rebuild import load_config, rebuild

    setup_logging(None, level="INFO")
    try:
        rebuild(load_config(args.configfile, args.seeds), args.out)
    except DataError as err:
        raise SystemExit(f"ragrouter report: {err}") from err


def serve_command(args: argparse.Namespace) -> None:
    from ragrouter.serving.routellm_server import serve

    setup_logging(None, level="WARNING")
    torch.set_num_threads(args.threads)
    serve(args)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
