"""Dataset annotation formats -> one list of (video path, class index) records.

Every format ends in the same `Annotations`, so nothing downstream knows which dataset it reads. Parse errors
name the file and line ("path:line: reason"), because a bad line in a 240K-line list is otherwise a needle hunt.
Missing video files are collected, never reported one at a time: a Kinetics download typically lacks ~5% of
its clips, and the user needs the whole list to decide between re-downloading and removing their lines
(`cmpl check-videos CONFIG` lists them with every file that will not decode; the kinetics400 format drops
missing videos by itself, as `drop_missing=True` does for a caller of `load_annotations`).

Formats (`load_annotations(fmt, root, subset, **kw)`, subset "train" or "test"):

- ``list``: "relative/path label" lines (blank lines and '#' comments ignored; a tab separates the two fields
  when the path contains spaces). kw ``list_file`` (default root/<subset>.txt), ``classes_file`` (default
  root/classes.txt when present, else names "class_<i>" up to the largest label). Paths are relative to root.
- ``folder``: one folder per class under root/<subset>/ when that exists; otherwise root/ itself is the train
  set (and asking for "test" is an error). Test labels use the train folder's classes. kw ``extensions``.
- ``ucf101``: root/ucfTrainTestlist/{classInd.txt, trainlist0N.txt, testlist0N.txt}, videos under
  root/UCF-101/<Class>/ or root/<Class>/. kw ``split`` (1-3), ``annotation_dir``, ``video_dir``.
- ``hmdb51``: root/testTrainMulti_7030_splits/<class>_test_splitN.txt ("<file>.avi <flag>", 1 train, 2 test,
  0 unused), videos under root/hmdb51/<class>/ or root/<class>/; classes sorted. kw ``split``,
  ``annotation_dir``, ``video_dir``.
- ``kinetics400``: CSV "label,youtube_id,time_start,time_end,split" (root/annotations/train.csv,
  validate.csv or val.csv; kw ``csv``); files "<youtube_id>_<start:06d>_<end:06d>.{mp4,mkv,webm}" in
  root/train/ or root/val|validate/ (kw ``video_dir``), flat or one folder per label (any folder naming).
  Classes sorted; the test subset takes its classes from train.csv when present (kw ``classes_file`` wins).

Every format accepts ``drop_missing`` (default False: missing videos raise `MissingVideosError`).
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cmpl.errors import UserError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov")
SUBSETS = ("train", "test")
_MISSING_SHOWN = 20


@dataclass(frozen=True)
class VideoRecord:
    path: Path  # absolute path to the video file
    label: int  # class index, -1 when unknown


@dataclass(frozen=True)
class Annotations:
    records: list[VideoRecord]
    class_names: list[str]  # index -> name


class AnnotationError(UserError, ValueError):
    """A dataset description is wrong; the message starts with "file:line: " where a line is at fault."""


class MissingVideosError(AnnotationError):
    """Listed videos are absent. `missing` holds every one of them; the message shows the first few."""

    def __init__(self, missing: Sequence[Path], total: int, root: Path, listed: Sequence[Path] = ()) -> None:
        self.missing = list(missing)
        self.listed = list(listed)  # every listed video, present or not (what `cmpl check-videos` checks)
        shown = "\n  ".join(_display(p, root) for p in self.missing[:_MISSING_SHOWN])
        more = len(self.missing) - _MISSING_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"{len(self.missing)} of {total} listed videos are missing under {root}:\n  {shown}{tail}\n"
            "restore them or remove their lines from the annotation list; `cmpl check-videos CONFIG` lists "
            "every video that is missing or will not decode"
        )


# ----------------------------------------------------------------------------------------------- helpers


def _fail(path: Path, lineno: int, reason: str) -> AnnotationError:
    return AnnotationError(f"{path}:{lineno}: {reason}")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) of the lines that carry data; tolerates a BOM and CRLF (UCF lists)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AnnotationError(f"{path}: annotation file not found") from None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield lineno, line


def _parse_int(text: str, path: Path, lineno: int, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _fail(path, lineno, f"{what} {text!r} is not an integer") from None


def _abs(base: Path, rel: str | Path) -> Path:
    """Absolute, normalised path without resolving symlinks (a linked data folder keeps its name)."""
    return Path(os.path.abspath(Path(base) / rel))


def _display(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _first_dir(candidates: Iterable[Path]) -> Path | None:
    return next((p for p in candidates if p.is_dir()), None)


def _check_split(split: int) -> None:
    if split not in (1, 2, 3):
        raise ValueError(f"split must be 1, 2 or 3, got {split!r}")


def _atomic_write(path: Path, lines: Sequence[str]) -> None:
    """Write then rename, so an interrupted run never leaves a half-written split behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------ plain formats


def read_class_names(path: Path) -> list[str]:
    """One name per line, or "index name" lines numbered 1..N in order (UCF-101's classInd.txt).

    The indexed form is assumed only when every line starts with an integer and a name.
    """
    path = Path(path)
    rows = list(_lines(path))
    if not rows:
        raise AnnotationError(f"{path}: no class names")
    parts = [line.split(maxsplit=1) for _, line in rows]
    indexed = all(len(p) == 2 and p[0].lstrip("-").isdigit() for p in parts)
    names: list[str] = []
    first_line: dict[str, int] = {}
    for position, ((lineno, line), fields) in enumerate(zip(rows, parts, strict=True), start=1):
        if indexed and int(fields[0]) != position:
            raise _fail(path, lineno, f"class index {fields[0]}, expected {position} (indices run 1..N)")
        name = fields[1].strip() if indexed else line
        if name in first_line:
            raise _fail(path, lineno, f"duplicate class name {name!r} (also line {first_line[name]})")
        first_line[name] = lineno
        names.append(name)
    return names


def write_class_names(names: Sequence[str], path: Path) -> None:
    """Inverse of `read_class_names`; names that all start with a number are written indexed to stay exact."""
    for name in names:
        if not name or name != name.strip() or "\n" in name or name.startswith("#"):
            raise ValueError(f"class name {name!r} cannot be stored one per line")
    if len(set(names)) != len(names):
        raise ValueError("duplicate class names")
    looks_indexed = all(len(n.split(maxsplit=1)) == 2 and n.split()[0].lstrip("-").isdigit() for n in names)
    lines = [f"{i} {n}" for i, n in enumerate(names, start=1)] if looks_indexed else list(names)
    _atomic_write(path, lines)


def read_path_label_list(
    list_file: Path, root: Path | None = None, class_names: list[str] | None = None
) -> Annotations:
    """Read "relative/path label" lines; paths are relative to root (default: the list file's folder).

    Without class names the classes are "class_<i>" for 0..max label. A label of -1 means "unknown".
    """
    list_file = Path(list_file)
    base = Path(root) if root is not None else list_file.parent
    records: list[VideoRecord] = []
    seen: dict[Path, int] = {}
    limit = len(class_names) if class_names is not None else None
    for lineno, line in _lines(list_file):
        fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split()
        if len(fields) != 2 or not all(fields):
            raise _fail(
                list_file,
                lineno,
                f"expected 'path label', got {len(fields)} fields (use a tab before the label if the path "
                "has spaces)",
            )
        label = _parse_int(fields[1], list_file, lineno, "label")
        if label < -1 or (limit is not None and label >= limit):
            allowed = f"0..{limit - 1}" if limit is not None else ">= 0"
            raise _fail(list_file, lineno, f"label {label} out of range ({allowed}, or -1 for unknown)")
        path = _abs(base, fields[0])
        if path in seen:
            raise _fail(list_file, lineno, f"duplicate of line {seen[path]}: {fields[0]}")
        seen[path] = lineno
        records.append(VideoRecord(path, label))
    if class_names is None:
        class_names = [f"class_{i}" for i in range(max((r.label for r in records), default=-1) + 1)]
    return Annotations(records, list(class_names))


def write_path_label_list(records: Iterable[VideoRecord], list_file: Path, root: Path) -> None:
    """Inverse of `read_path_label_list(list_file, root)`: paths under root are written relative to it."""
    root = Path(os.path.abspath(root))
    lines = []
    for record in records:
        path = Path(os.path.abspath(record.path))
        text = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
        if "\t" in text or "\n" in text or text != text.strip():
            raise ValueError(f"path {text!r} cannot be stored in a list file")
        if text.startswith("#"):
            text = f"./{text}"  # not a comment when read back
        separator = "\t" if any(c.isspace() for c in text) else " "
        lines.append(f"{text}{separator}{record.label}")
    _atomic_write(list_file, lines)


def _class_folders(root: Path) -> list[Path]:
    return sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name
    )


def read_folder_per_class(
    root: Path, extensions: Sequence[str] = VIDEO_EXTENSIONS, *, class_names: Sequence[str] | None = None
) -> Annotations:
    """One sub-folder per class (sorted names), videos anywhere below it; hidden files (macOS "._x.mp4") skipped.

    With `class_names` (e.g. the train set's) the folders must be among them and may be fewer; without, every
    folder is a class and must hold at least one video.
    """
    root = Path(root)
    if not root.is_dir():
        raise AnnotationError(f"{root}: folder not found")
    folders = _class_folders(root)
    names = list(class_names) if class_names is not None else [p.name for p in folders]
    index = {name: i for i, name in enumerate(names)}
    wanted = {e.lower() for e in extensions}
    records: list[VideoRecord] = []
    for folder in folders:
        if folder.name not in index:
            raise AnnotationError(f"{folder}: class folder not among the {len(names)} known classes")
        videos = sorted(
            (p for p in folder.rglob("*") if p.suffix.lower() in wanted and p.is_file()),
            key=lambda p: p.relative_to(folder).as_posix(),
        )
        videos = [p for p in videos if not any(part.startswith(".") for part in p.relative_to(folder).parts)]
        if not videos and class_names is None:
            raise AnnotationError(f"{folder}: class folder holds no video ({', '.join(sorted(wanted))})")
        records.extend(VideoRecord(_abs(root, p), index[folder.name]) for p in videos)
    if not names:
        raise AnnotationError(f"{root}: no class folders")
    return Annotations(records, names)


def find_videos(root: Path, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[VideoRecord]:
    """Every video anywhere under `root` (hidden ones skipped), sorted, with label -1: a folder of raw videos
    used as unlabeled data."""
    root = Path(os.path.abspath(root))
    if not root.is_dir():
        raise AnnotationError(f"{root}: folder not found")
    wanted = {e.lower() for e in extensions}
    videos = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in wanted
        and p.is_file()
        and not any(x.startswith(".") for x in p.relative_to(root).parts)
    )
    if not videos:
        raise AnnotationError(f"{root}: holds no video ({', '.join(sorted(wanted))})")
    return [VideoRecord(p, -1) for p in videos]


def find_missing(records: Sequence[VideoRecord]) -> list[Path]:
    """Every record whose file does not exist (all of them, in record order)."""
    return [r.path for r in records if not os.path.isfile(r.path)]


# ---------------------------------------------------------------------------------------- dataset formats


def _load_list(
    root: Path, subset: str, *, list_file: Path | None = None, classes_file: Path | None = None
) -> Annotations:
    list_file = Path(list_file) if list_file is not None else root / f"{subset}.txt"
    if classes_file is None and (root / "classes.txt").is_file():
        classes_file = root / "classes.txt"
    names = read_class_names(Path(classes_file)) if classes_file is not None else None
    return read_path_label_list(list_file, root, names)


def _load_folder(root: Path, subset: str, *, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> Annotations:
    if (root / subset).is_dir():
        train = root / "train"
        names = [p.name for p in _class_folders(train)] if subset == "test" and train.is_dir() else None
        return read_folder_per_class(root / subset, extensions, class_names=names)
    if subset == "test":
        raise AnnotationError(f"{root}: no 'test' folder; a plain folder-per-class tree is a train set only")
    return read_folder_per_class(root, extensions)


def _load_ucf101(
    root: Path,
    subset: str,
    *,
    split: int = 1,
    annotation_dir: Path | None = None,
    video_dir: Path | None = None,
) -> Annotations:
    _check_split(split)
    ann_dir = Path(annotation_dir) if annotation_dir is not None else root / "ucfTrainTestlist"
    names = read_class_names(ann_dir / "classInd.txt")
    index = {name: i for i, name in enumerate(names)}
    videos = Path(video_dir) if video_dir is not None else _first_dir([root / "UCF-101"]) or root
    list_file = ann_dir / f"{subset}list0{split}.txt"
    records: list[VideoRecord] = []
    for lineno, line in _lines(list_file):
        fields = line.split()
        if len(fields) not in (1, 2):
            raise _fail(list_file, lineno, f"expected '<Class>/<file>.avi [label]', got {len(fields)} fields")
        folder = fields[0].split("/")[0] if "/" in fields[0] else ""
        if folder not in index:
            raise _fail(list_file, lineno, f"unknown class folder {folder!r} (not in classInd.txt)")
        label = index[folder]
        if len(fields) == 2:
            given = _parse_int(fields[1], list_file, lineno, "label")
            if not 1 <= given <= len(names):
                raise _fail(list_file, lineno, f"label {given} out of range (1..{len(names)})")
            if given - 1 != label:
                raise _fail(
                    list_file, lineno, f"label {given} ({names[given - 1]}) contradicts the folder {folder!r}"
                )
        records.append(VideoRecord(_abs(videos, fields[0]), label))
    return Annotations(records, names)


_HMDB_SPLIT_FILE = re.compile(r"^(?P<name>.+)_test_split(?P<split>[123])\.txt$")
_HMDB_FLAG = {"train": 1, "test": 2}


def _load_hmdb51(
    root: Path,
    subset: str,
    *,
    split: int = 1,
    annotation_dir: Path | None = None,
    video_dir: Path | None = None,
) -> Annotations:
    _check_split(split)
    ann_dir = Path(annotation_dir) if annotation_dir is not None else root / "testTrainMulti_7030_splits"
    if not ann_dir.is_dir():
        raise AnnotationError(f"{ann_dir}: annotation folder not found")
    files = {
        m["name"]: p
        for p in ann_dir.iterdir()
        if (m := _HMDB_SPLIT_FILE.match(p.name)) and int(m["split"]) == split
    }
    if not files:
        raise AnnotationError(f"{ann_dir}: no <class>_test_split{split}.txt files")
    names = sorted(files)
    videos = Path(video_dir) if video_dir is not None else _first_dir([root / "hmdb51"]) or root
    records: list[VideoRecord] = []
    for label, name in enumerate(names):
        seen: dict[str, int] = {}
        for lineno, line in _lines(files[name]):
            fields = line.split()
            if len(fields) != 2:
                raise _fail(files[name], lineno, f"expected '<file>.avi <flag>', got {len(fields)} fields")
            flag = _parse_int(fields[1], files[name], lineno, "flag")
            if flag not in (0, 1, 2):
                raise _fail(files[name], lineno, f"flag {flag} is not 0 (unused), 1 (train) or 2 (test)")
            if fields[0] in seen:
                raise _fail(files[name], lineno, f"duplicate of line {seen[fields[0]]}: {fields[0]}")
            seen[fields[0]] = lineno
            if flag == _HMDB_FLAG[subset]:
                records.append(VideoRecord(_abs(videos / name, fields[0]), label))
    return Annotations(records, names)


_KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end")
_KINETICS_EXTENSIONS = (".mp4", ".mkv", ".webm")
_KINETICS_CSV = {"train": ("train.csv",), "test": ("validate.csv", "val.csv")}
_KINETICS_DIRS = {"train": ("train",), "test": ("val", "validate")}


@dataclass(frozen=True)
class _KineticsRow:
    lineno: int
    label: str
    stem: str  # "<youtube_id>_<start:06d>_<end:06d>", the released file name without extension


def _read_kinetics_csv(path: Path) -> list[_KineticsRow]:
    if not path.is_file():
        raise AnnotationError(f"{path}: annotation file not found")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        absent = [c for c in _KINETICS_COLUMNS if c not in header]
        if absent:
            raise _fail(path, 1, f"header lacks column(s) {', '.join(absent)} (got {','.join(header)})")
        col = {c: header.index(c) for c in _KINETICS_COLUMNS}
        rows = []
        for fields in reader:
            lineno = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                raise _fail(path, lineno, f"expected {len(header)} fields, got {len(fields)}")
            label, youtube_id = fields[col["label"]].strip(), fields[col["youtube_id"]].strip()
            if not label or not youtube_id:
                raise _fail(path, lineno, "empty label or youtube_id")
            start = _parse_int(fields[col["time_start"]].strip(), path, lineno, "time_start")
            end = _parse_int(fields[col["time_end"]].strip(), path, lineno, "time_end")
            if not 0 <= start < end:
                raise _fail(path, lineno, f"time_start {start} and time_end {end} do not form a segment")
            rows.append(_KineticsRow(lineno, label, f"{youtube_id}_{start:06d}_{end:06d}"))
    return rows


def _index_kinetics_videos(folder: Path) -> dict[str, list[Path]]:
    """stem -> files, one directory scan for flat and per-label layouts (faster than 3 stats per row)."""
    found: dict[str, list[Path]] = {}
    for directory in [folder, *_class_folders(folder)]:
        with os.scandir(directory) as entries:
            for entry in entries:
                name, ext = os.path.splitext(entry.name)
                if ext.lower() in _KINETICS_EXTENSIONS and entry.is_file():
                    found.setdefault(name, []).append(_abs(directory, entry.name))
    return found


def _kinetics_path(row: _KineticsRow, found: dict[str, list[Path]], folder: Path, per_label: bool) -> Path:
    candidates = sorted(found.get(row.stem, []))
    own = [p for p in candidates if p.parent.name in (row.label, row.label.replace(" ", "_"))]
    if match := own or candidates:
        return match[0]
    return _abs(folder / row.label if per_label else folder, f"{row.stem}.mp4")  # reported as missing later


def _load_kinetics400(
    root: Path,
    subset: str,
    *,
    csv: Path | None = None,
    classes_file: Path | None = None,
    video_dir: Path | None = None,
) -> Annotations:
    ann_dir = root / "annotations"
    defaults = [ann_dir / name for name in _KINETICS_CSV[subset]]
    csv_path = Path(csv) if csv is not None else next((p for p in defaults if p.is_file()), defaults[0])
    rows = _read_kinetics_csv(csv_path)
    if classes_file is not None:
        names = read_class_names(Path(classes_file))
    else:
        train_csv = ann_dir / "train.csv"
        name_rows = _read_kinetics_csv(train_csv) if subset == "test" and train_csv.is_file() else rows
        names = sorted({r.label for r in name_rows})
    index = {name: i for i, name in enumerate(names)}
    candidates = [root / d for d in _KINETICS_DIRS[subset]]
    folder = Path(video_dir) if video_dir is not None else _first_dir(candidates)
    if folder is None or not folder.is_dir():
        looked = [str(video_dir)] if video_dir is not None else [str(c) for c in candidates]
        raise AnnotationError(f"no video folder for {subset!r}: looked for {', '.join(looked)}")
    found = _index_kinetics_videos(folder)
    per_label = bool(_class_folders(folder))
    records = []
    for row in rows:
        if row.label not in index:
            raise _fail(csv_path, row.lineno, f"unknown class {row.label!r}")
        records.append(VideoRecord(_kinetics_path(row, found, folder, per_label), index[row.label]))
    return Annotations(records, names)


_LOADERS: dict[str, Callable[..., Annotations]] = {
    "list": _load_list,
    "folder": _load_folder,
    "ucf101": _load_ucf101,
    "hmdb51": _load_hmdb51,
    "kinetics400": _load_kinetics400,
}
FORMATS = tuple(_LOADERS)


def load_annotations(
    fmt: str, root: Path, subset: str, *, drop_missing: bool = False, **kw: object
) -> Annotations:
    """Read one subset of a dataset in any supported format (see the module docstring for layouts and kw).

    Missing videos raise `MissingVideosError` (listing all of them) unless `drop_missing`, which keeps the
    present ones and warns with the count. An unknown keyword is a TypeError, so typos never pass silently.
    """
    if fmt not in _LOADERS:
        raise ValueError(f"unknown annotation format {fmt!r}; choose from {', '.join(FORMATS)}")
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {', '.join(SUBSETS)}, got {subset!r}")
    root = Path(os.path.abspath(root))
    annotations = _LOADERS[fmt](root, subset, **kw)
    if not annotations.records:
        raise AnnotationError(f"{root}: no {subset} videos listed ({fmt} format)")
    return _apply_missing_policy(annotations, root, drop_missing)


def _apply_missing_policy(annotations: Annotations, root: Path, drop_missing: bool) -> Annotations:
    missing = find_missing(annotations.records)
    if not missing:
        return annotations
    total = len(annotations.records)
    if not drop_missing or len(missing) == total:
        raise MissingVideosError(missing, total, root, [r.path for r in annotations.records])
    gone = set(missing)
    kept = [r for r in annotations.records if r.path not in gone]
    warnings.warn(
        f"dropped {len(missing)} of {total} listed videos that are missing under {root}", stacklevel=3
    )
    return Annotations(kept, annotations.class_names)
