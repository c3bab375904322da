"""``data.extra_labels``: hand-checked videos that join the labeled set of the next run.

The file is what the review page of ``cmpl label`` exports (CSV ``path,label``), a JSON list of
``{"path": ..., "label": ...}``, Label Studio's JSON export of a video classification project (``data.path`` or
``data.video``, and the choice of the newest annotation that was not cancelled), or any "path label" list
(a tab before the label where a path has spaces). A label is a class name, or a class index of the run's class
order. Paths are absolute or relative to the file's folder. A path that is not among the collection's
training videos, or a class the run does not have, stops the run with one line that names the file and line.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from cmpl.config import ConfigError
from cmpl.data.annotations import VideoRecord

__all__ = ["ExtraLabel", "apply_extra_labels", "read_extra_labels"]

KEY = "data.extra_labels"
LOCAL_FILES = "/data/local-files/?d="  # Label Studio's URL of a file in its local storage


@dataclass(frozen=True)
class ExtraLabel:
    path: Path  # absolute
    label: int
    where: str  # "file:line" (or "file:task N"), for error messages


def _fail(where: str, reason: str) -> ConfigError:
    return ConfigError(f"{KEY}: {where}: {reason}")


def _class_index(text: object, names: Sequence[str], where: str) -> int:
    label = str(text).strip()
    if label in names:
        return names.index(label)
    if label.lstrip("-").isdigit() and 0 <= int(label) < len(names):
        return int(label)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    raise _fail(where, f"class {label!r} is not among the run's {len(names)} classes ({shown})")


def _rows_of_text(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.rsplit(maxsplit=1)
        if len(fields) != 2 or not all(fields):
            raise _fail(
                f"{path}:{lineno}", "expected 'path label' (a tab before the label if the path has spaces)"
            )
        rows.append((fields[0], fields[1], f"{path}:{lineno}"))
    return rows


def _rows_of_csv(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        for lineno, fields in enumerate(csv.reader(f), start=1):
            if not fields or (lineno == 1 and [x.strip().lower() for x in fields[:2]] == ["path", "label"]):
                continue
            if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
                raise _fail(f"{path}:{lineno}", "expected a 'path,label' row")
            rows.append((fields[0].strip(), fields[1].strip(), f"{path}:{lineno}"))
    return rows


def _label_studio_choice(task: dict) -> str | None:
    """The class of a Label Studio task: the newest annotation not cancelled, its first ``choices`` result."""
    annotations = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
    for annotation in reversed(annotations):
        for result in annotation.get("result") or []:
            choices = (result.get("value") or {}).get("choices")
            if choices:
                return str(choices[0])
    return None


def _label_studio_path(data: dict) -> str | None:
    if data.get("path"):
        return str(data["path"])
    video = str(data.get("video") or "")
    if video.startswith(LOCAL_FILES):
        return unquote(video[len(LOCAL_FILES) :])
    return video or None


def _rows_of_json(path: Path) -> list[tuple[str, str, str]]:
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise _fail(str(path), f"not valid JSON ({e})") from None
    if not isinstance(items, list):
        raise _fail(str(path), "expected a JSON list (the review page's or Label Studio's export)")
    rows = []
    for n, item in enumerate(items, start=1):
        where = f"{path}: item {n}"
        if not isinstance(item, dict):
            raise _fail(where, "expected an object")
        if isinstance(item.get("data"), dict):  # a Label Studio task
            label = _label_studio_choice(item)
            if label is None:
                continue  # not annotated (yet), or every annotation cancelled
            video = _label_studio_path(item["data"])
            if video is None:
                raise _fail(where, "a Label Studio task without data.path or data.video")
            rows.append((video, label, where))
        elif "path" in item and "label" in item:
            rows.append((str(item["path"]), str(item["label"]), where))
        else:
            raise _fail(where, "expected 'path' and 'label', or a Label Studio task ('data', 'annotations')")
    return rows


def read_extra_labels(file: str | Path, class_names: Sequence[str]) -> list[ExtraLabel]:
    """The hand labels of ``file`` (any format of the module's description), in file order."""
    path = Path(file)
    if not path.is_file():
        raise ConfigError(f"{KEY}: {path}: no such file")
    suffix = path.suffix.lower()
    rows = _rows_of_json(path) if suffix == ".json" else _rows_of_csv(path) if suffix == ".csv" else None
    rows = _rows_of_text(path) if rows is None else rows
    base = path.parent
    found: dict[Path, ExtraLabel] = {}
    for video, label, where in rows:
        entry = ExtraLabel(
            Path(os.path.abspath(base / video)), _class_index(label, class_names, where), where
        )
        earlier = found.get(entry.path)
        if earlier is not None and earlier.label != entry.label:
            raise _fail(where, f"{video} has another label at {earlier.where}")
        found[entry.path] = entry
    return list(found.values())


def apply_extra_labels(
    file: str | Path,
    class_names: Sequence[str],
    collection: Sequence[VideoRecord],
    labeled: Sequence[VideoRecord],
    unlabeled: Sequence[VideoRecord],
) -> tuple[list[VideoRecord], list[VideoRecord]]:
    """``labeled`` with the hand-labelled videos of ``file`` added (their hand label replaces a drawn one)
    and ``unlabeled`` without them; both sorted by path. Every path must be one of ``collection``."""
    extra = read_extra_labels(file, class_names)
    known = {os.path.abspath(r.path) for r in collection}
    for entry in extra:
        if str(entry.path) not in known:
            raise _fail(
                entry.where, f"{entry.path} is not among the collection's {len(known)} training videos"
            )
    hand = {str(e.path): e.label for e in extra}
    kept = [r for r in labeled if os.path.abspath(r.path) not in hand]
    added = [VideoRecord(e.path, e.label) for e in extra]
    rest = [r for r in unlabeled if os.path.abspath(r.path) not in hand]
    return sorted([*kept, *added], key=lambda r: r.path.as_posix()), rest
