"""Raw input files: where they are looked for, how they are verified, where they come from.

Stage: data (rule `fetch_dataset`). Reads the data directory; writes `resources/data/<dataset>/`.

Every file the workflow reads is pinned in `manifest.tsv` (path, sha256, canonical URL). A file is
taken from the data directory when present, otherwise downloaded from its URL when the network
allows; either way its checksum must match before anything downstream sees it.
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from ragrouter.common.io import atomic_dir, sha256_file

MANIFEST = Path(__file__).with_name("manifest.tsv")
DATA_DIR_ENV = "RAGROUTER_DATA_DIR"


class DataError(ValueError):
    """Raised for any missing, corrupt or malformed input; the message names file, row and field."""


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the data directory, e.g. "routellm-evals/gsm8k/test.jsonl"
    sha256: str
    url: str

    @property
    def dataset(self) -> str:
        return self.path.split("/", 1)[0]


def load_manifest(manifest: Path = MANIFEST) -> list[SourceFile]:
    rows = manifest.read_text().splitlines()
    files = []
    for line in rows[1:]:
        path, sha, *url = line.split("\t")
        files.append(SourceFile(path, sha, url[0] if url else ""))
    return files


def datasets(manifest: Path = MANIFEST) -> list[str]:
    return sorted({f.dataset for f in load_manifest(manifest)})


def resolve_data_dir(configured: str | Path) -> Path:
    """The environment variable wins over the config so CI and users can point elsewhere."""
    return Path(os.environ.get(DATA_DIR_ENV) or configured).expanduser().resolve()


def _download(url: str, dest: Path, timeout: float = 30.0) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as fh:
        shutil.copyfileobj(response, fh)


def verify_file(path: Path, expected_sha256: str, shown_as: Path | str | None = None) -> None:
    """Check `path` against its pinned checksum; the error names `shown_as` (the user's file, when
    `path` is a temporary copy of it)."""
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise DataError(
            f"checksum mismatch for {shown_as or path}: expected sha256 {expected_sha256}, got {actual}. "
            "The file is corrupt or a different version; replace it with the pinned one."
        )


def fetch_dataset(dataset: str, data_dir: Path, out_dir: Path, manifest: Path = MANIFEST) -> list[Path]:
    """Verify (or download) every file of `dataset` and copy it atomically under `out_dir`.

    The copy is assembled in a temporary directory and renamed into place, so an interrupted fetch
    leaves no partial dataset behind.
    """
    files = [f for f in load_manifest(manifest) if f.dataset == dataset]
    if not files:
        raise DataError(f"{manifest}: no dataset named {dataset!r}")
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as staging:
        for f in files:
            source = data_dir / f.path
            target = staging / Path(f.path).relative_to(dataset)
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_file():
                shutil.copyfile(source, target)
            elif f.url:
                logger.info(f"{source} not found; downloading {f.url}")
                try:
                    _download(f.url, target)
                except OSError as err:
                    raise DataError(
                        f"input file {f.path} is missing: looked in {data_dir} (config 'data_dir' or "
                        f"${DATA_DIR_ENV}) and could not download {f.url} ({err}). Put the file at "
                        f"{source} or set ${DATA_DIR_ENV} to a directory that holds it."
                    ) from err
            else:
                raise DataError(
                    f"input file {f.path} is missing: looked in {data_dir} (config 'data_dir' or "
                    f"${DATA_DIR_ENV}); it has no public download URL (derived file, see "
                    f"the data README). Put it at {source} or set ${DATA_DIR_ENV}."
                )
            verify_file(target, f.sha256, shown_as=source if source.is_file() else f.url)
    logger.info(f"dataset {dataset}: {len(files)} files verified into {out_dir}")
    return [out_dir / Path(f.path).relative_to(dataset) for f in files]


# sources whose rows come from several task datasets, named in the corpus id (`routerdc-7models:arc_easy_train:12`)
MULTI_TASK_SOURCES = ("routerbench-zs", "routerdc-7models")


def task_of(row_id: str, source: str) -> str:
    """The task dataset a corpus row comes from: `<source>/<dataset>` for the multi-task sources
    (split names and row numbers stripped: `routerbench-zs:arc-challenge.test.100` ->
    `routerbench-zs/arc-challenge`), the source itself for the others."""
    if source not in MULTI_TASK_SOURCES:
        return source
    part = row_id.split(":")[1] if row_id.count(":") >= 1 else row_id
    part = re.sub(r"_(train|test)$", "", re.sub(r"[-_ ]?\d+$", "", re.sub(r"\.(test|dev|val|train)\.\d+$", "", part)))
    return f"{source}/{part}"


def tasks_of(ids: Iterable[str], sources: Iterable[str]) -> list[str]:
    """`task_of` each row, from its id and source columns."""
    return [task_of(i, s) for i, s in zip(ids, sources, strict=True)]
