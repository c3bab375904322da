"""Annotation formats, checked on fake trees laid out exactly like each official download (empty files)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cmpl.data.annotations import (
    AnnotationError,
    MissingVideosError,
    VideoRecord,
    find_missing,
    load_annotations,
    read_class_names,
    read_folder_per_class,
    read_path_label_list,
    write_class_names,
    write_path_label_list,
)
from tests.helpers import SHARED_DATA


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def rel(records: list[VideoRecord], root: Path) -> list[tuple[str, int]]:
    return [(r.path.relative_to(root).as_posix(), r.label) for r in records]


def assert_line_error(
    excinfo: pytest.ExceptionInfo[AnnotationError], path: Path, lineno: int, words: str
) -> None:
    message = str(excinfo.value)
    assert message.startswith(f"{path}:{lineno}: "), message
    assert re.search(words, message), message


# ------------------------------------------------------------------------------------------------ UCF-101

UCF_CLASSES = ["ApplyEyeMakeup", "Basketball", "YoYo"]


def make_ucf(root: Path, videos_under: str = "UCF-101") -> Path:
    """classInd.txt + split files with CRLF endings (as in the official zip); groups g01, g02 x 2 clips.

    Split 2 tests on g02, splits 1 and 3 on g01; train lines carry the 1-based label, test lines none.
    """
    ann = root / "ucfTrainTestlist"
    write(ann / "classInd.txt", "".join(f"{i} {c}\n" for i, c in enumerate(UCF_CLASSES, 1)), "\r\n")
    for split in (1, 2, 3):
        train, test = [], []
        for i, c in enumerate(UCF_CLASSES, 1):
            for g in (1, 2):
                for k in (1, 2):
                    name = f"{c}/v_{c}_g0{g}_c0{k}.avi"
                    touch(root / videos_under / name)
                    if g == (2 if split == 2 else 1):
                        test.append(name)
                    else:
                        train.append(f"{name} {i}")
        write(ann / f"trainlist0{split}.txt", "".join(f"{t}\n" for t in train), "\r\n")
        write(ann / f"testlist0{split}.txt", "".join(f"{t}\n" for t in test), "\r\n")
    return root


def test_ucf101_official_layout(tmp_path: Path) -> None:
    root = make_ucf(tmp_path)
    train = load_annotations("ucf101", root, "train", split=1)
    test = load_annotations("ucf101", root, "test", split=1)
    assert train.class_names == UCF_CLASSES
    assert rel(train.records, root)[:2] == [
        ("UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi", 0),
        ("UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c02.avi", 0),
    ]
    assert rel(test.records, root)[-1] == ("UCF-101/YoYo/v_YoYo_g01_c02.avi", 2)
    assert [r.label for r in train.records] == [0, 0, 1, 1, 2, 2]
    assert {r.path for r in train.records}.isdisjoint(r.path for r in test.records)
    assert all(r.path.is_absolute() for r in train.records)
    other = load_annotations("ucf101", root, "train", split=2)
    assert {r.path for r in other.records} == {r.path for r in test.records}


def test_ucf101_videos_directly_under_root_and_annotation_dir(tmp_path: Path) -> None:
    root = make_ucf(tmp_path / "flat", videos_under=".")
    moved = tmp_path / "lists"
    (root / "ucfTrainTestlist").rename(moved)
    train = load_annotations("ucf101", root, "train", annotation_dir=moved)
    assert rel(train.records, root)[0] == ("ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi", 0)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 2", r"contradicts the folder 'ApplyEyeMakeup'"),
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 4", r"out of range \(1\.\.3\)"),
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi x", r"label 'x' is not an integer"),
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1 1", r"got 3 fields"),
        ("Skiing/v_Skiing_g01_c01.avi 1", r"unknown class folder 'Skiing'"),
        ("v_ApplyEyeMakeup_g01_c01.avi 1", r"unknown class folder ''"),
    ],
)
def test_ucf101_malformed_line(tmp_path: Path, line: str, words: str) -> None:
    root = make_ucf(tmp_path)
    list_file = root / "ucfTrainTestlist" / "trainlist01.txt"
    write(list_file, f"Basketball/v_Basketball_g01_c01.avi 2\n\n{line}\n", "\r\n")
    with pytest.raises(AnnotationError) as excinfo:
        load_annotations("ucf101", root, "train")
    assert_line_error(excinfo, list_file, 3, words)


def test_ucf101_bad_class_index_and_split(tmp_path: Path) -> None:
    root = make_ucf(tmp_path)
    class_ind = write(root / "ucfTrainTestlist" / "classInd.txt", "1 ApplyEyeMakeup\n3 Basketball\n")
    with pytest.raises(AnnotationError) as excinfo:
        load_annotations("ucf101", root, "train")
    assert_line_error(excinfo, class_ind, 2, r"class index 3, expected 2")
    with pytest.raises(ValueError, match="split must be 1, 2 or 3"):
        load_annotations("ucf101", root, "train", split=4)


# ------------------------------------------------------------------------------------------------ HMDB-51

HMDB = {
    "brush_hair": [
        ("April_09_brush_hair_u_nm_np1_ba_goo_0.avi", 1),
        ("Brushing_Hair_brush_hair_h_cm_np2_le_goo_1.avi", 2),
        ("Prelinger_brush_hair_f_nm_np1_fr_med_2.avi", 0),
    ],
    "cartwheel": [
        ("Acrobacias_cartwheel_f_cm_np1_ba_med_0.avi", 2),
        ("Bodenturnen_cartwheel_f_cm_np1_le_med_1.avi", 1),
    ],
    "climb_stairs": [
        ("BIG_FISH_climb_stairs_f_nm_np1_fr_med_0.avi", 1),
        ("Stairs_climb_stairs_u_cm_np1_ba_bad_2.avi", 1),
    ],
}


def make_hmdb(root: Path, videos_under: str = "hmdb51") -> Path:
    """Split files as released: "<file>.avi <flag> " with a trailing space; listed in non-sorted order."""
    for name in reversed(list(HMDB)):
        for split in (1, 2, 3):
            rows = HMDB[name] if split == 1 else [(f, 2 if flag == 1 else 1) for f, flag in HMDB[name]]
            write(
                root / "testTrainMulti_7030_splits" / f"{name}_test_split{split}.txt",
                "".join(f"{f} {flag} \n" for f, flag in rows),
            )
        for f, _ in HMDB[name]:
            touch(root / videos_under / name / f)
    return root


def test_hmdb51_official_layout(tmp_path: Path) -> None:
    root = make_hmdb(tmp_path)
    train = load_annotations("hmdb51", root, "train")
    test = load_annotations("hmdb51", root, "test", split=1)
    assert train.class_names == ["brush_hair", "cartwheel", "climb_stairs"]
    assert rel(train.records, root) == [
        ("hmdb51/brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi", 0),
        ("hmdb51/cartwheel/Bodenturnen_cartwheel_f_cm_np1_le_med_1.avi", 1),
        ("hmdb51/climb_stairs/BIG_FISH_climb_stairs_f_nm_np1_fr_med_0.avi", 2),
        ("hmdb51/climb_stairs/Stairs_climb_stairs_u_cm_np1_ba_bad_2.avi", 2),
    ]
    assert rel(test.records, root) == [
        ("hmdb51/brush_hair/Brushing_Hair_brush_hair_h_cm_np2_le_goo_1.avi", 0),
        ("hmdb51/cartwheel/Acrobacias_cartwheel_f_cm_np1_ba_med_0.avi", 1),
    ]
    unused = "Prelinger_brush_hair_f_nm_np1_fr_med_2.avi"
    assert all(r.path.name != unused for r in train.records + test.records)
    split2 = load_annotations("hmdb51", root, "test", split=2)
    assert len(split2.records) == 4


def test_hmdb51_videos_directly_under_root(tmp_path: Path) -> None:
    root = make_hmdb(tmp_path, videos_under=".")
    test = load_annotations("hmdb51", root, "test")
    assert rel(test.records, root)[0] == ("brush_hair/Brushing_Hair_brush_hair_h_cm_np2_le_goo_1.avi", 0)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("x.avi 3", r"flag 3 is not 0 \(unused\), 1 \(train\) or 2 \(test\)"),
        ("x.avi one", r"flag 'one' is not an integer"),
        ("x.avi 1 extra", r"got 3 fields"),
        ("x.avi", r"got 1 fields"),
        ("April_09_brush_hair_u_nm_np1_ba_goo_0.avi 2", r"duplicate of line 1"),
    ],
)
def test_hmdb51_malformed_line(tmp_path: Path, line: str, words: str) -> None:
    root = make_hmdb(tmp_path)
    split_file = root / "testTrainMulti_7030_splits" / "brush_hair_test_split1.txt"
    write(split_file, f"April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 \n{line}\n")
    with pytest.raises(AnnotationError) as excinfo:
        load_annotations("hmdb51", root, "train")
    assert_line_error(excinfo, split_file, 2, words)


# ------------------------------------------------------------------------------------------- Kinetics-400

K_HEADER = "label,youtube_id,time_start,time_end,split\n"
K_TRAIN = [
    ("abseiling", "--0NTAs-fA0", 29, 39),
    ("air drumming", "-VtLx-mcPds", 14, 24),
    ("air drumming", "0B-abc_d-12", 0, 10),
    ("passing American football (in game)", "zz9_Ab-cdEf", 5, 15),
]
K_VAL = [("air drumming", "val_clip_01", 3, 13), ("abseiling", "val_clip_02", 120, 130)]


def k_csv(rows: list[tuple[str, str, int, int]], split: str) -> str:
    return K_HEADER + "".join(f'"{lab}",{yid},{s},{e},{split}\n' for lab, yid, s, e in rows)


def make_kinetics(root: Path, skip: frozenset[str] = frozenset()) -> Path:
    """Train videos in one folder per label (with spaces, as the CVDF download), val videos flat, mixed exts."""
    write(root / "annotations" / "train.csv", k_csv(K_TRAIN, "train"))
    write(root / "annotations" / "validate.csv", k_csv(K_VAL, "val"))
    exts = [".mp4", ".mkv", ".webm"]
    for i, (label, yid, s, e) in enumerate(K_TRAIN):
        if yid not in skip:
            touch(root / "train" / label / f"{yid}_{s:06d}_{e:06d}{exts[i % 3]}")
    for _label, yid, s, e in K_VAL:
        if yid not in skip:
            touch(root / "val" / f"{yid}_{s:06d}_{e:06d}.mp4")
    touch(root / "train" / "abseiling" / "._--0NTAs-fA0_000029_000039.mp4")  # macOS resource fork: ignored
    return root


def test_kinetics400_layouts(tmp_path: Path) -> None:
    root = make_kinetics(tmp_path)
    train = load_annotations("kinetics400", root, "train")
    names = ["abseiling", "air drumming", "passing American football (in game)"]
    assert train.class_names == names
    assert rel(train.records, root) == [
        ("train/abseiling/--0NTAs-fA0_000029_000039.mp4", 0),
        ("train/air drumming/-VtLx-mcPds_000014_000024.mkv", 1),
        ("train/air drumming/0B-abc_d-12_000000_000010.webm", 1),
        ("train/passing American football (in game)/zz9_Ab-cdEf_000005_000015.mp4", 2),
    ]
    test = load_annotations("kinetics400", root, "test")
    assert test.class_names == names  # from train.csv although validate.csv lacks a class
    assert rel(test.records, root) == [
        ("val/val_clip_01_000003_000013.mp4", 1),
        ("val/val_clip_02_000120_000130.mp4", 0),
    ]


def test_kinetics400_validate_dir_and_csv_kw(tmp_path: Path) -> None:
    root = make_kinetics(tmp_path)
    (root / "val").rename(root / "validate")
    custom = write(tmp_path / "mini.csv", k_csv(K_VAL[:1], "val"))
    test = load_annotations("kinetics400", root, "test", csv=custom)
    assert rel(test.records, root) == [("validate/val_clip_01_000003_000013.mp4", 1)]


def test_kinetics400_missing_files_all_listed_or_dropped(tmp_path: Path) -> None:
    rows = [("abseiling", f"id{i:03d}", 0, 10) for i in range(30)]
    write(tmp_path / "annotations" / "train.csv", k_csv(rows, "train"))
    for _, yid, s, e in rows[:5]:
        touch(tmp_path / "train" / "abseiling" / f"{yid}_{s:06d}_{e:06d}.mp4")
    with pytest.raises(MissingVideosError) as excinfo:
        load_annotations("kinetics400", tmp_path, "train")
    message = str(excinfo.value)
    assert "25 of 30 listed videos are missing" in message
    assert "train/abseiling/id005_000000_000010.mp4" in message
    assert "id024_000000_000010" in message and "id025_000000_000010" not in message  # first 20 shown
    assert "... and 5 more" in message and "`cmpl check-videos CONFIG` lists every video" in message
    assert [p.name for p in excinfo.value.missing] == [f"id{i:03d}_000000_000010.mp4" for i in range(5, 30)]
    with pytest.warns(UserWarning, match="dropped 25 of 30"):
        kept = load_annotations("kinetics400", tmp_path, "train", drop_missing=True)
    assert [r.path.name for r in kept.records] == [f"id{i:03d}_000000_000010.mp4" for i in range(5)]


def test_kinetics400_nothing_present_is_an_error_even_when_dropping(tmp_path: Path) -> None:
    root = make_kinetics(tmp_path, skip=frozenset(y for _, y, _, _ in K_VAL))
    (root / "val").mkdir()
    with pytest.raises(MissingVideosError, match="2 of 2"):
        load_annotations("kinetics400", root, "test", drop_missing=True)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("abseiling,abc,1,11", r"expected 5 fields, got 4"),
        ("abseiling,abc,1,11,train,extra", r"expected 5 fields, got 6"),
        ("abseiling,abc,1.5,11,train", r"time_start '1.5' is not an integer"),
        ("abseiling,abc,12,11,train", r"do not form a segment"),
        (",abc,1,11,train", r"empty label"),
        ("juggling fire,abc,1,11,train", r"unknown class 'juggling fire'"),
    ],
)
def test_kinetics400_malformed_row(tmp_path: Path, line: str, words: str) -> None:
    root = make_kinetics(tmp_path)
    csv_file = write(tmp_path / "bad.csv", f"{K_HEADER}abseiling,ok_id,0,10,val\n{line}\n")
    with pytest.raises(AnnotationError) as excinfo:
        load_annotations("kinetics400", root, "test", csv=csv_file)
    assert_line_error(excinfo, csv_file, 3, words)


def test_kinetics400_bad_header_and_no_video_dir(tmp_path: Path) -> None:
    csv_file = write(tmp_path / "annotations" / "train.csv", "label,youtube_id,start,end\n")
    with pytest.raises(AnnotationError) as excinfo:
        load_annotations("kinetics400", tmp_path, "train")
    assert_line_error(excinfo, csv_file, 1, r"lacks column\(s\) time_start, time_end")
    write(csv_file, k_csv(K_TRAIN, "train"))
    with pytest.raises(AnnotationError, match=r"no video folder for 'train'"):
        load_annotations("kinetics400", tmp_path, "train")


# ------------------------------------------------------------------------------------- "path label" lists


def test_list_format_with_classes_file(tmp_path: Path) -> None:
    write(tmp_path / "classes.txt", "walk\nrun\n# a comment\n\njump\n")
    write(tmp_path / "train.txt", "# path label\nvideos/walk/a.mp4 0\n\n  videos/jump/b.mp4 2  \n")
    write(tmp_path / "test.txt", "videos/run/c.mp4 1\n")
    for name in ("walk/a.mp4", "jump/b.mp4", "run/c.mp4"):
        touch(tmp_path / "videos" / name)
    train = load_annotations("list", tmp_path, "train")
    assert train.class_names == ["walk", "run", "jump"]
    assert rel(train.records, tmp_path) == [("videos/walk/a.mp4", 0), ("videos/jump/b.mp4", 2)]
    assert rel(load_annotations("list", tmp_path, "test").records, tmp_path) == [("videos/run/c.mp4", 1)]


def test_list_format_without_classes_and_explicit_list_file(tmp_path: Path) -> None:
    touch(tmp_path / "data" / "x.avi")
    list_file = write(tmp_path / "lists" / "mine.txt", "data/x.avi 3\n")
    ann = load_annotations("list", tmp_path, "train", list_file=list_file)
    assert ann.class_names == ["class_0", "class_1", "class_2", "class_3"]
    assert ann.records == [VideoRecord(tmp_path / "data" / "x.avi", 3)]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("a.mp4", r"expected 'path label', got 1 fields"),
        ("a b.mp4 1", r"got 3 fields .*tab"),
        ("a.mp4 one", r"label 'one' is not an integer"),
        ("a.mp4 3", r"label 3 out of range \(0\.\.2"),
        ("a.mp4 -2", r"label -2 out of range"),
        ("ok.mp4 1", r"duplicate of line 1"),
    ],
)
def test_list_malformed_line(tmp_path: Path, line: str, words: str) -> None:
    list_file = write(tmp_path / "train.txt", f"ok.mp4 0\n# comment\n{line}\n")
    with pytest.raises(AnnotationError) as excinfo:
        read_path_label_list(list_file, class_names=["a", "b", "c"])
    assert_line_error(excinfo, list_file, 3, words)


def test_list_missing_files_all_listed(tmp_path: Path) -> None:
    write(tmp_path / "train.txt", "".join(f"v/{i}.mp4 0\n" for i in range(3)))
    touch(tmp_path / "v" / "1.mp4")
    with pytest.raises(MissingVideosError) as excinfo:
        load_annotations("list", tmp_path, "train")
    assert excinfo.value.missing == [tmp_path / "v" / "0.mp4", tmp_path / "v" / "2.mp4"]
    assert "2 of 3" in str(excinfo.value) and "v/0.mp4" in str(excinfo.value)
    assert find_missing(read_path_label_list(tmp_path / "train.txt").records) == excinfo.value.missing


def test_list_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    records = [
        VideoRecord(data / "air drumming" / "x_000001_000011.mp4", 1),
        VideoRecord(data / "walk" / "a.mp4", 0),
        VideoRecord(data / "#odd" / "b.mp4", -1),
        VideoRecord(tmp_path / "elsewhere" / "c.mp4", 2),
    ]
    list_file = tmp_path / "run" / "labeled.txt"
    write_path_label_list(records, list_file, data)
    lines = list_file.read_text().splitlines()
    assert lines[0] == "air drumming/x_000001_000011.mp4\t1" and lines[1] == "walk/a.mp4 0"
    assert lines[3] == f"{(tmp_path / 'elsewhere' / 'c.mp4').as_posix()} 2"
    assert read_path_label_list(list_file, data).records == records
    assert not list(list_file.parent.glob("*.tmp"))


@pytest.mark.parametrize("names", [["walk", "run", "air drumming"], ["10 pin", "3 legged race"], ["1", "2"]])
def test_class_names_round_trip(tmp_path: Path, names: list[str]) -> None:
    write_class_names(names, tmp_path / "classes.txt")
    assert read_class_names(tmp_path / "classes.txt") == names


def test_class_names_errors(tmp_path: Path) -> None:
    dup = write(tmp_path / "dup.txt", "walk\nrun\nwalk\n")
    with pytest.raises(AnnotationError) as excinfo:
        read_class_names(dup)
    assert_line_error(excinfo, dup, 3, r"duplicate class name 'walk' \(also line 1\)")
    with pytest.raises(ValueError, match="cannot be stored"):
        write_class_names(["ok", "two\nlines"], tmp_path / "x.txt")
    with pytest.raises(AnnotationError, match="annotation file not found"):
        read_class_names(tmp_path / "absent.txt")


# ------------------------------------------------------------------------------------------ folder format


def test_folder_with_train_and_test(tmp_path: Path) -> None:
    for path in [
        "train/run/1.mp4",
        "train/walk/2.AVI",
        "train/walk/sub/3.webm",
        "train/walk/notes.txt",
        "train/walk/.hidden.mp4",
        "test/walk/4.mp4",
    ]:
        touch(tmp_path / path)
    train = load_annotations("folder", tmp_path, "train")
    assert train.class_names == ["run", "walk"]
    assert rel(train.records, tmp_path) == [
        ("train/run/1.mp4", 0),
        ("train/walk/2.AVI", 1),
        ("train/walk/sub/3.webm", 1),
    ]
    test = load_annotations("folder", tmp_path, "test")
    assert test.class_names == ["run", "walk"] and rel(test.records, tmp_path) == [("test/walk/4.mp4", 1)]
    touch(tmp_path / "test" / "jump" / "5.mp4")
    with pytest.raises(AnnotationError, match="jump: class folder not among the 2 known classes"):
        load_annotations("folder", tmp_path, "test")


def test_folder_root_is_train_only(tmp_path: Path) -> None:
    touch(tmp_path / "b_class" / "x.mp4")
    touch(tmp_path / "a_class" / "y.mov")
    assert read_folder_per_class(tmp_path).class_names == ["a_class", "b_class"]
    assert [r.label for r in load_annotations("folder", tmp_path, "train").records] == [0, 1]
    with pytest.raises(AnnotationError, match="no 'test' folder"):
        load_annotations("folder", tmp_path, "test")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnnotationError, match="empty: class folder holds no video"):
        load_annotations("folder", tmp_path, "train")


def test_folder_on_shared_weizmann() -> None:
    data = SHARED_DATA / "weizmann4"
    if not data.is_dir():
        pytest.skip(f"shared test data not found at {data}")
    ann = load_annotations("folder", data, "train")
    assert ann.class_names == sorted(p.name for p in data.iterdir() if p.is_dir())
    assert len(ann.records) == 72 and not find_missing(ann.records)


# -------------------------------------------------------------------------------------------- dispatching


def test_load_annotations_rejects_bad_arguments(tmp_path: Path) -> None:
    root = make_ucf(tmp_path)
    with pytest.raises(ValueError, match="unknown annotation format 'ucf'"):
        load_annotations("ucf", root, "train")
    with pytest.raises(ValueError, match="subset must be one of train, test"):
        load_annotations("ucf101", root, "val")
    with pytest.raises(TypeError, match="splt"):
        load_annotations("ucf101", root, "train", splt=2)
    write(tmp_path / "empty.txt", "# nothing\n")
    with pytest.raises(AnnotationError, match="no train videos listed"):
        load_annotations("list", tmp_path, "train", list_file=tmp_path / "empty.txt")
