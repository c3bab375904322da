"""``cmpl label``: labels for the rest of a collection, what to label by hand next, and a review page.

For every video F gives its top-k classes from the evaluation protocol's views; in a CMPL run A gives its
top-1 too, and where the two disagree (or F's top two are close) a hand label helps most. Rows are appended
to ``labels.jsonl`` after every batch, so an interrupted run continues where it stopped; ``labels.csv``,
``suggest.txt``, ``review.html`` (and with ``--label-studio`` Label Studio's import file) are written from
all rows at the end. The reviewed labels go back into training as ``data.extra_labels``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import hashlib
import json
import os
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from cmpl.commands.arguments import add_device_argument, add_views_argument
from cmpl.commands.review_page import write_review_page
from cmpl.data.annotations import (
    VIDEO_EXTENSIONS,
    VideoRecord,
    find_videos,
    read_class_names,
    read_path_label_list,
)
from cmpl.data.label_clips import THUMBNAIL_FORMAT, LabelClips, collate_label
from cmpl.data.workers import usable_cpus
from cmpl.engine.evaluate import predict_video_probs
from cmpl.engine.run_data import SPLIT_FILES
from cmpl.engine.runtime import clip_specs
from cmpl.errors import BadValueError, MissingFileError
from cmpl.inference import TrainedRun, load_method, load_run

__all__ = [
    "CSV_COLUMNS",
    "LabelRow",
    "label_collection",
    "read_rows",
    "suggest",
    "summarize",
    "write_label_studio",
]

CSV_COLUMNS = [
    "path",
    "label",
    "prob",
    "margin",
    "confident",
    "aux_label",
    "aux_prob",
    "agree",
    "top_labels",
    "top_probs",
    "true_label",
]
"""``labels.csv``'s columns, in this order (docs/label.md describes each); new columns only ever go at the end."""


@dataclass
class LabelRow:
    """One video's labels; ``labels.jsonl`` holds these as JSON objects, one a line."""

    path: str  # absolute
    top: list[tuple[str, float]]  # F's top-k (class, probability), most likely first
    aux: tuple[str, float] | None  # A's top-1, in a run with an auxiliary network
    threshold: float
    true_label: str | None = None  # the collection's own label, where it has one
    thumbnail: str = ""  # file name under thumbs/, "" without one

    @property
    def label(self) -> str:
        return self.top[0][0]

    @property
    def prob(self) -> float:
        return self.top[0][1]

    @property
    def margin(self) -> float:
        return self.top[0][1] - (self.top[1][1] if len(self.top) > 1 else 0.0)

    @property
    def confident(self) -> bool:
        return self.prob >= self.threshold

    @property
    def agree(self) -> bool | None:
        return None if self.aux is None else self.aux[0] == self.label

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "top": [[n, round(p, 6)] for n, p in self.top],
            "aux": None if self.aux is None else [self.aux[0], round(self.aux[1], 6)],
            "threshold": self.threshold,
            "true_label": self.true_label,
            "thumbnail": self.thumbnail,
        }

    @classmethod
    def from_json(cls, d: dict) -> LabelRow:
        aux = d.get("aux")
        return cls(
            d["path"],
            [(n, float(p)) for n, p in d["top"]],
            None if aux is None else (aux[0], float(aux[1])),
            float(d["threshold"]),
            d.get("true_label"),
            d.get("thumbnail", ""),
        )

    def csv_row(self) -> list[str]:
        flag = {None: "", True: "1", False: "0"}
        return [
            self.path,
            self.label,
            f"{self.prob:.4f}",
            f"{self.margin:.4f}",
            flag[self.confident],
            "" if self.aux is None else self.aux[0],
            "" if self.aux is None else f"{self.aux[1]:.4f}",
            flag[self.agree],
            "|".join(n for n, _ in self.top),
            "|".join(f"{p:.4f}" for _, p in self.top),
            self.true_label or "",
        ]


# ---------------------------------------------------------------------------------------------- inputs


def collect_videos(run_dir: Path, targets: Sequence[Path], class_names: list[str]) -> list[VideoRecord]:
    """The videos to label: ``targets`` (video files, folders searched for videos, "path label" lists with
    labels in the run's class order or -1), or by default the run's unlabeled set, which keeps the true
    labels where the collection has them (the synthetic data, any labelled dataset split by the run)."""
    if not targets:
        return read_path_label_list(run_dir / SPLIT_FILES["unlabeled"], run_dir, class_names).records
    records: list[VideoRecord] = []
    for target in targets:
        if target.is_dir():
            records += find_videos(target)
        elif target.is_file() and target.suffix.lower() in VIDEO_EXTENSIONS:
            records.append(VideoRecord(Path(os.path.abspath(target)), -1))
        elif target.is_file():
            records += read_path_label_list(target, class_names=class_names).records
        else:
            raise MissingFileError(f"{target}: no such video, folder or list")
    seen: set[Path] = set()
    return [r for r in records if not (r.path in seen or seen.add(r.path))]


def read_rows(path: Path) -> list[LabelRow]:
    """The rows of a ``labels.jsonl``; a last line cut short by an interruption is dropped."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(LabelRow.from_json(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return rows


# ------------------------------------------------------------------------------------------- labeling


@dataclass
class LabelOutcome:
    rows: list[LabelRow]  # every labelled video of the collection, in collection order
    failed: list[tuple[str, str]]  # (path, reason) of the videos that did not decode
    new: int  # videos labelled by this call (the rest came from an earlier, interrupted one)


def _settings(run: TrainedRun, views: tuple[int, int], top_k: int, roles: list[str]) -> dict:
    return {
        "run": str(run.run_dir.resolve()),
        "views": f"{views[0]}x{views[1]}",
        "top_k": top_k,
        "roles": roles,
    }


@contextlib.contextmanager
def _threads_beside_workers(device: torch.device, workers: int) -> Iterator[None]:
    """On the CPU, while ``workers`` loader processes decode, the networks get the cores that are left (at
    least one thread): intra-op threads competing with busy workers made a forward pass 20-40x slower on 2
    cores, not 2x."""
    threads = torch.get_num_threads()
    if device.type == "cpu" and workers > 0:
        torch.set_num_threads(max(1, usable_cpus() - workers))
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def label_collection(
    run_dir: Path,
    out_dir: Path,
    records: Sequence[VideoRecord] | None = None,
    *,
    views: tuple[int, int] | None = None,
    top_k: int = 5,
    device: str = "auto",
    batch_size: int | None = None,
    workers: int | None = None,
    thumbnails: bool = True,
    progress: bool = True,
) -> LabelOutcome:
    """Label ``records`` (default: the run's unlabeled set) into ``out_dir``: append each batch's rows to
    ``labels.jsonl`` and failures to ``failed.txt``; videos already in ``labels.jsonl`` are skipped."""
    if top_k < 1:
        raise BadValueError(f"--top-k must be at least 1, got {top_k}")
    loaded = load_method(run_dir)
    config, names, method = loaded
    primary = load_run(run_dir, device, "primary", loaded)
    aux = load_run(run_dir, device, "auxiliary", loaded) if "auxiliary" in method.roles else None
    roles = ["primary", "auxiliary"] if aux is not None else ["primary"]
    if records is None:
        records = collect_videos(run_dir, [], names)
    views = views or (config.eval.num_clips, config.eval.num_crops)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = _settings(primary, views, top_k, roles)
    settings_file = out_dir / "label_settings.json"
    if settings_file.is_file() and json.loads(settings_file.read_text()) != settings:
        raise BadValueError(
            f"{out_dir}: holds labels made with other settings ({settings_file}); give another --output"
        )
    settings_file.write_text(json.dumps(settings, indent=1))

    jsonl = out_dir / "labels.jsonl"
    done = {row.path: row for row in read_rows(jsonl)}
    with jsonl.open("a") as f:  # drop a half-written last line before appending
        if jsonl.stat().st_size and not jsonl.read_text().endswith("\n"):
            f.write("\n")
    pending = [i for i, r in enumerate(records) if str(r.path) not in done]
    thumbs = out_dir / "thumbs"
    thumbs.mkdir(exist_ok=True)
    failed_file = out_dir / "failed.txt"
    failed_file.write_text("")  # failures are retried: the file lists this call's
    e = config.eval
    dataset = LabelClips(
        [records[i] for i in pending],
        clip_specs(config, tuple(roles)),
        num_clips=views[0],
        num_crops=views[1],
        short_side=e.short_side,
        crop_size=e.crop_size,
        backend=config.data.backend,
        thumbnail_height=64 if thumbnails else 0,
    )
    workers = usable_cpus() if workers is None else workers
    loader = DataLoader(
        dataset,
        batch_size=batch_size or e.batch_size,
        num_workers=min(workers, len(dataset)),
        collate_fn=collate_label,
        pin_memory=primary.device.type == "cuda",
        prefetch_factor=4 if workers > 0 and len(dataset) else None,
    )
    networks = [primary] + ([aux] if aux is not None else [])
    failed: list[tuple[str, str]] = []
    k = min(top_k, len(names))
    with (
        _threads_beside_workers(primary.device, loader.num_workers),
        tqdm(total=len(records), initial=len(records) - len(pending), desc="label", unit="video",
             disable=not progress) as bar,
        jsonl.open("a") as out,
        failed_file.open("a") as failures,
    ):  # fmt: skip
        for batch in loader:
            probs = [
                predict_video_probs(net.network, clips.to(net.device), net.augment.normalize, net.amp).cpu()
                for net, clips in zip(networks, batch["clips"], strict=True)
            ]
            for j, local in enumerate(batch["index"]):
                record = dataset.records[local]
                top = probs[0][j].topk(k)
                thumb = ""
                if batch["thumbnail"][j]:
                    thumb = hashlib.sha1(str(record.path).encode()).hexdigest()[:16] + f".{THUMBNAIL_FORMAT}"
                    (thumbs / thumb).write_bytes(batch["thumbnail"][j])
                row = LabelRow(
                    str(record.path),
                    [(names[c], p) for c, p in zip(top.indices.tolist(), top.values.tolist(), strict=True)],
                    None if aux is None else (names[int(probs[1][j].argmax())], float(probs[1][j].max())),
                    config.method.threshold,
                    names[record.label] if record.label >= 0 else None,
                    thumb,
                )
                done[row.path] = row
                out.write(json.dumps(row.to_json()) + "\n")
            for local, reason in batch["failed"]:
                path = str(dataset.records[local].path)
                failed.append((path, reason))
                failures.write(f"{path}\t{reason.splitlines()[0] if reason else ''}\n")
            out.flush()
            failures.flush()
            bar.update(len(batch["index"]) + len(batch["failed"]))
    rows = [done[str(r.path)] for r in records if str(r.path) in done]
    return LabelOutcome(rows, failed, len(pending) - len(failed))


# ------------------------------------------------------------------------------------------- outputs


def write_csv(rows: Sequence[LabelRow], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(r.csv_row() for r in rows)
    os.replace(tmp, path)


def suggest(rows: Sequence[LabelRow], n: int) -> list[LabelRow]:
    """The ``n`` videos whose hand labels should help most: in each predicted class, F/A disagreements first,
    then the smallest margin between F's top two; classes take turns (round-robin), a turn going first to
    the class whose candidate ranks highest, so that the list spreads over the classes."""
    by_class: dict[str, list[LabelRow]] = {}
    for row in rows:
        by_class.setdefault(row.label, []).append(row)

    def rank(r: LabelRow) -> tuple[bool, float]:
        return (r.agree is not False, r.margin)

    queues = [sorted(group, key=rank) for group in by_class.values()]
    chosen: list[LabelRow] = []
    turn = 0
    while len(chosen) < n and any(turn < len(q) for q in queues):
        candidates = sorted((q[turn] for q in queues if turn < len(q)), key=rank)
        chosen += candidates[: n - len(chosen)]
        turn += 1
    return chosen


def write_suggestions(rows: Sequence[LabelRow], path: Path) -> None:
    """``path<TAB>label`` lines (F's guess as the label to check), readable as ``data.extra_labels``."""
    lines = [
        "# videos to label by hand next (cmpl label --suggest): path<TAB>F's guess; correct each label,",
        "# e.g. on review.html, then train with data.extra_labels=<this file or the page's export>",
        *(f"{r.path}\t{r.label}" for r in rows),
    ]
    path.write_text("\n".join(lines) + "\n")


def write_label_studio(rows: Sequence[LabelRow], class_names: Sequence[str], out_dir: Path,
                       media_root: Path | None, model_version: str) -> tuple[Path, Path]:  # fmt: skip
    """Label Studio's import file (``label_studio.json``: one task per video, F's top-1 as a prediction) and
    the project's labeling config (``label_studio.xml``). ``data.video`` is a local-files URL relative to
    ``media_root`` where given (Label Studio's local storage), else the absolute path; ``data.path`` keeps
    the absolute path, which the export carries back for ``data.extra_labels``."""

    def url(path: str) -> str:
        if media_root is not None and Path(path).is_relative_to(media_root):
            return f"/data/local-files/?d={Path(path).relative_to(media_root).as_posix()}"
        return path

    tasks = [
        {
            "data": {"video": url(r.path), "path": r.path},
            "predictions": [
                {
                    "model_version": model_version,
                    "score": round(r.prob, 6),
                    "result": [
                        {
                            "from_name": "action",
                            "to_name": "video",
                            "type": "choices",
                            "value": {"choices": [r.label]},
                        }
                    ],
                }
            ],
        }
        for r in rows
    ]
    tasks_file, config_file = out_dir / "label_studio.json", out_dir / "label_studio.xml"
    tasks_file.write_text(json.dumps(tasks, indent=1))
    choices = "\n".join(f'    <Choice value="{_xml(n)}"/>' for n in class_names)
    config_file.write_text(
        '<View>\n  <Video name="video" value="$video"/>\n'
        f'  <Choices name="action" toName="video" choice="single" showInline="true">\n{choices}\n'
        "  </Choices>\n</View>\n"
    )
    return tasks_file, config_file


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def summarize(rows: Sequence[LabelRow]) -> list[str]:
    """Accuracy of the labels against the collection's own, where it has them: overall, where F and A agree
    and where they disagree, and of the confident ones."""
    known = [r for r in rows if r.true_label is not None]
    if not known:
        return []

    def line(name: str, subset: list[LabelRow]) -> str:
        right = sum(r.label == r.true_label for r in subset)
        share = f"{100 * right / len(subset):5.1f} %" if subset else "    - "
        return f"  {name:<22} {share}  ({right} of {len(subset)})"

    lines = [f"accuracy of F's labels on {len(known)} videos with ground truth:", line("all", known)]
    if any(r.agree is not None for r in known):
        lines.append(line("F and A agree", [r for r in known if r.agree]))
        lines.append(line("F and A disagree", [r for r in known if r.agree is False]))
    lines.append(line(f"confident (>= {known[0].threshold:g})", [r for r in known if r.confident]))
    return lines


def suggestion_summary(chosen: Sequence[LabelRow], rows: Sequence[LabelRow], draws: int = 1000) -> str:
    """How many suggested labels are wrong, against random samples of the same size (mean over ``draws``)."""
    known = [r for r in rows if r.true_label is not None]
    picked = [r for r in chosen if r.true_label is not None]
    if not picked or len(known) < len(picked):
        return ""
    wrong = sum(r.label != r.true_label for r in picked)
    rng = random.Random(0)
    sampled = [sum(r.label != r.true_label for r in rng.sample(known, len(picked))) for _ in range(draws)]
    mean = sum(sampled) / draws
    return (
        f"suggested videos with a wrong label: {wrong} of {len(picked)} ({100 * wrong / len(picked):.1f} %); "
        f"random samples of {len(picked)}: {mean:.1f} ({100 * mean / len(picked):.1f} %, mean of {draws})"
    )


def thumbnail_uri(out_dir: Path, row: LabelRow) -> str:
    if not row.thumbnail or not (out_dir / "thumbs" / row.thumbnail).is_file():
        return ""
    data = base64.b64encode((out_dir / "thumbs" / row.thumbnail).read_bytes()).decode()
    return f"data:image/{Path(row.thumbnail).suffix.lstrip('.')};base64,{data}"


# -------------------------------------------------------------------------------------------- command

COMMAND = "label"
HELP = "labels for a collection (default: the run's unlabeled set), what to label next, a review page"
DESCRIPTION = (
    "Label every video with the run's primary network F (top-k, multi-view) and, in a CMPL run, its auxiliary "
    "network A; writes labels.csv, labels.jsonl, failed.txt, review.html and with --suggest suggest.txt into "
    "--output. An interrupted call continues where it stopped."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a finished run's folder")
    parser.add_argument(
        "videos",
        type=Path,
        nargs="*",
        help="video files, folders (every video below) or 'path label' lists; default: RUN/unlabeled.txt",
    )
    parser.add_argument("--output", "-o", type=Path, required=True, help="folder for the labels")
    add_views_argument(parser)
    parser.add_argument("--top-k", type=int, default=5, help="classes per video in the CSV (%(default)s)")
    parser.add_argument(
        "--suggest", type=int, default=0, metavar="N", help="write the N videos to label by hand next"
    )
    parser.add_argument("--batch-size", type=int, default=None, help="videos per batch (default: eval's)")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default: all cores)")
    parser.add_argument("--no-review", action="store_true", help="no review.html (nor thumbnails)")
    parser.add_argument(
        "--label-studio",
        action="store_true",
        help="also write label_studio.json (tasks with F's predictions) and label_studio.xml",
    )
    parser.add_argument(
        "--media-root",
        type=Path,
        default=None,
        help="with --label-studio: videos under this folder get Label Studio local-files URLs",
    )
    add_device_argument(parser)


def run(args: argparse.Namespace) -> int:
    run_dir, out = args.run_dir, args.output
    if not (run_dir / "checkpoints" / "last.pt").is_file():
        raise MissingFileError(f"{run_dir}: not a finished run (no checkpoints/last.pt)")
    names = read_class_names(run_dir / SPLIT_FILES["classes"])
    records = collect_videos(run_dir, args.videos, names)
    outcome = label_collection(
        run_dir,
        out,
        records,
        views=args.views,
        top_k=args.top_k,
        device=args.device,
        batch_size=args.batch_size,
        workers=args.workers,
        thumbnails=not args.no_review,
    )
    rows = outcome.rows
    write_csv(rows, out / "labels.csv")
    print(f"{len(rows)} videos labelled ({outcome.new} now) -> {out / 'labels.csv'}, {out / 'labels.jsonl'}")
    if outcome.failed:
        print(
            f"{len(outcome.failed)} videos did not decode, skipped -> {out / 'failed.txt'}", file=sys.stderr
        )
    for line in summarize(rows):
        print(line)
    if args.suggest > 0:
        chosen = suggest(rows, args.suggest)
        write_suggestions(chosen, out / "suggest.txt")
        print(f"{len(chosen)} videos to label next -> {out / 'suggest.txt'}")
        summary = suggestion_summary(chosen, rows)
        if summary:
            print(summary)
    if not args.no_review:
        page = write_review_page(
            out / "review.html",
            [(r, thumbnail_uri(out, r)) for r in rows],
            names,
            title=f"cmpl label: {run_dir.resolve().name}",
        )
        print(f"review page -> {page}")
    if args.label_studio:
        media_root = args.media_root.resolve() if args.media_root else None
        tasks, xml = write_label_studio(rows, names, out, media_root, run_dir.resolve().name)
        print(f"Label Studio tasks -> {tasks} (labeling config {xml})")
    return 1 if outcome.failed else 0
