"""Each format read back with its consumer's own reader, or parsed per its documented spec."""

import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from audit.models import AuditEvent
from exports import services
from exports.formats import WRITERS
from exports.selectors import SPLITS, ExportFilters, export_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def expected(three_splits):
    """crop file stem → (split, text), from the selection itself: every split present."""
    rows = {
        f"{row.crop_id:09d}": (row.split, row.text) for row in export_rows(filters=ExportFilters())
    }
    assert {split for split, _text in rows.values()} == set(SPLITS)
    return rows


def export_into(tmp_path, fmt: str, ml_engineer) -> Path:
    out = tmp_path / fmt
    services.export_to_directory(user=ml_engineer, fmt=fmt, filters=ExportFilters(), out=out)
    return out


def opens(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def manifest_of(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    for path, digest in manifest["files"].items():
        assert hashlib.sha256((out / path).read_bytes()).hexdigest() == digest, path
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert on_disk == {*manifest["files"], "manifest.json"}
    return manifest


def test_imagefolder_loads_with_datasets(tmp_path, ml_engineer, expected):
    datasets = pytest.importorskip("datasets")
    out = export_into(tmp_path, "imagefolder", ml_engineer)
    manifest_of(out)

    loaded = datasets.load_dataset("imagefolder", data_dir=str(out), cache_dir=str(tmp_path / "c"))

    assert set(loaded) == set(SPLITS)
    seen = {}
    for split in loaded:
        for example in loaded[split]:
            assert example["image"].size[0] > 0
            seen[f"{example['crop_id']:09d}"] = (split, example["text"])
            assert example["consensus_confidence"] == 1.0
            assert example["document_kind"] == "receipt"
    assert seen == expected


def test_lmdb_reads_in_the_deep_text_recognition_benchmark_layout(tmp_path, ml_engineer, expected):
    import lmdb

    out = export_into(tmp_path, "lmdb", ml_engineer)
    manifest_of(out)

    texts = []
    for split_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        env = lmdb.open(str(split_dir), readonly=True, lock=False)
        with env.begin() as txn:
            count = int(txn.get(b"num-samples"))
            for index in range(1, count + 1):
                assert opens(txn.get(b"image-%09d" % index)).size[0] > 0
                texts.append((split_dir.name, txn.get(b"label-%09d" % index).decode()))
            assert txn.get(b"image-%09d" % (count + 1)) is None
        env.close()
    assert sorted(texts) == sorted(expected.values())


def test_paddleocr_lists_and_dictionary_follow_the_spec(tmp_path, ml_engineer, expected):
    out = export_into(tmp_path, "paddleocr", ml_engineer)
    manifest_of(out)

    seen = {}
    for listing in out.glob("rec_gt_*.txt"):
        split = listing.stem.removeprefix("rec_gt_")
        for line in listing.read_text(encoding="utf-8").splitlines():
            path, text = line.split("\t")
            assert opens((out / path).read_bytes())
            seen[Path(path).stem] = (split, text)
    assert seen == expected
    dictionary = (out / "dict.txt").read_text(encoding="utf-8").splitlines()
    assert set("".join(text for _s, text in expected.values())) == set(dictionary)
    assert all(len(char) == 1 for char in dictionary)


def test_doctr_labels_json_maps_every_image_to_its_text(tmp_path, ml_engineer, expected):
    out = export_into(tmp_path, "doctr", ml_engineer)
    manifest_of(out)

    seen = {}
    for labels in out.glob("*/labels.json"):
        for name, text in json.loads(labels.read_text(encoding="utf-8")).items():
            assert opens((labels.parent / "images" / name).read_bytes())
            seen[Path(name).stem] = (labels.parent.name, text)
    assert seen == expected


def test_tesstrain_pairs_each_image_with_its_gt_txt(tmp_path, ml_engineer, expected):
    out = export_into(tmp_path, "tesstrain", ml_engineer)
    manifest_of(out)

    seen = {}
    for image in out.glob("*/*.png"):
        assert opens(image.read_bytes())
        text = image.with_suffix(".gt.txt").read_text(encoding="utf-8")
        assert text.endswith("\n")
        seen[image.stem] = (image.parent.name, text.removesuffix("\n"))
    assert seen == expected


def test_jsonl_holds_everything_about_each_crop(tmp_path, ml_engineer, expected):
    out = export_into(tmp_path, "jsonl", ml_engineer)
    manifest_of(out)

    lines = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert {Path(s["image"]).stem: (s["split"], s["text"]) for s in lines} == expected
    assert all(opens((out / s["image"]).read_bytes()) for s in lines)
    assert set(lines[0]["box"]) == {"x", "y", "width", "height"}


def test_coco_text_boxes_sit_on_their_pages(tmp_path, ml_engineer, labeled):
    out = export_into(tmp_path, "coco_text", ml_engineer)
    manifest_of(out)

    coco = json.loads((out / "coco_text.json").read_text())
    assert len(coco["imgs"]) == 3
    assert len(coco["anns"]) == 9
    for image_id, ann_ids in coco["imgToAnns"].items():
        page = coco["imgs"][image_id]
        width, height = opens((out / page["file_name"]).read_bytes()).size
        assert (width, height) == (page["width"], page["height"])
        for ann_id in ann_ids:
            ann = coco["anns"][str(ann_id)]
            assert ann["legibility"] == "legible"
            assert ann["language"] == "english"
            x, y, w, h = ann["bbox"]
            assert x + w <= width
            assert y + h <= height


def test_manifest_counts_lint_and_lineage(tmp_path, ml_engineer, labeled, annotator):
    from annotations.models import Label
    from annotations.services import label_revise

    crop = labeled[0].crops.get(index=1)
    first = Label.objects.get(crop=crop)
    label_revise(user=annotator, label_id=first.pk, text="")
    crop = labeled[0].crops.get(index=2)
    first = Label.objects.get(crop=crop)
    label_revise(user=annotator, label_id=first.pk, text="ça" + "x" * 40)

    manifest = manifest_of(export_into(tmp_path, "jsonl", ml_engineer))

    assert manifest["counts"]["total"] == 9
    assert sum(manifest["counts"][s] for s in ("train", "validation", "test")) == 9
    assert manifest["documents"] == 3
    assert manifest["lint"]["empty"]["count"] == 1
    assert manifest["lint"]["over_long"]["count"] == 1
    assert manifest["lint"]["outside_charset"]["characters"] == {"ç": 1}
    assert manifest["filters"]["consensus_state"] == "accepted"
    assert "accepted_labels" in manifest["lineage"]["selection"]
    assert manifest["lineage"]["prefill_engines"] == {"test-prefill 1": 9}


@pytest.mark.parametrize("run_keys", [16_384, 2])  # sorted in memory; runs spooled, merged
def test_duplicate_images_are_found_exactly(tmp_path, ml_engineer, labeled, monkeypatch, run_keys):
    from exports.spool import DuplicateFinder

    monkeypatch.setattr(DuplicateFinder, "RUN_KEYS", run_keys)

    manifest = manifest_of(export_into(tmp_path, "tesstrain", ml_engineer))

    # The three documents' crops are the same three word images: the first document's
    # are originals, the other six (in the export's order) duplicates.
    rows = list(export_rows(filters=ExportFilters()))
    assert manifest["lint"]["duplicate_images"] == {
        "count": 6,
        "crop_ids": [row.crop_id for row in rows[3:]],
    }


def test_every_format_is_known_and_the_command_is_audited(tmp_path, ml_engineer, labeled):
    from django.core.management import call_command

    call_command(
        "export_dataset",
        "--format",
        "tesstrain",
        "--out",
        str(tmp_path / "cli"),
        "--user",
        "ml",
        "--exclude-flag",
        "unreadable",
        stdout=io.StringIO(),
    )

    assert (tmp_path / "cli" / "manifest.json").exists()
    event = AuditEvent.objects.filter(action="exports.export_directory").get()
    assert event.data["format"] == "tesstrain"
    assert set(WRITERS) == {
        "imagefolder",
        "lmdb",
        "paddleocr",
        "doctr",
        "tesstrain",
        "jsonl",
        "coco_text",
    }


def test_the_command_refuses_someone_without_the_role(tmp_path, annotator, labeled):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError):
        call_command(
            "export_dataset", "--format", "jsonl", "--out", str(tmp_path / "x"), "--user", "ann"
        )
    assert not (tmp_path / "x").exists()


def test_labels_a_text_format_cannot_hold_are_left_out_and_noted(
    tmp_path, ml_engineer, labeled, annotator
):
    from annotations.models import Label
    from annotations.services import label_revise

    crop = labeled[0].crops.get(index=0)
    first = Label.objects.get(crop=crop)
    label_revise(user=annotator, label_id=first.pk, text="two\twords")

    out = export_into(tmp_path, "paddleocr", ml_engineer)

    manifest = manifest_of(out)
    lines = [line for f in out.glob("rec_gt_*.txt") for line in f.read_text().splitlines()]
    assert len(lines) == 8
    assert manifest["notes"] == ["paddleocr: 1 label(s) with a tab or line break left out"]


def test_a_withdrawal_removes_a_command_line_export_directory(
    tmp_path, ml_engineer, labeled, service_token, django_capture_on_commit_callbacks
):
    from annotations.services import donation_withdraw
    from exports.models import Export, ExportStatus

    out = export_into(tmp_path, "tesstrain", ml_engineer)
    export = Export.objects.get()
    assert export.status == ExportStatus.DONE
    assert export.directory == str(out.resolve())
    assert json.loads((out / "manifest.json").read_text())["export_id"] == str(export.pk)
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "manifest.json").write_text(json.dumps({"export_id": "someone else's"}))
    Export.objects.filter(pk=export.pk).update(directory=str(stranger))

    with django_capture_on_commit_callbacks(execute=True):
        donation_withdraw(source=service_token, donation_id=labeled[2].pk)

    export.refresh_from_db()
    assert export.status == ExportStatus.DELETED
    assert str(labeled[2].pk) in export.reason
    assert f"delete every copy of the directory {stranger}" in export.reason
    assert stranger.exists()  # a directory that is not this export's is never removed
    services._remove_directory(str(out), export.pk)
    assert not out.exists()


def test_the_manifest_check_names_an_altered_file(tmp_path, ml_engineer, labeled):
    from exports.manifest import verify

    out = export_into(tmp_path, "doctr", ml_engineer)
    manifest = manifest_of(out)
    [labels, *_] = sorted(out.glob("*/labels.json"))
    labels.write_text(labels.read_text().replace("word", "wort", 1))

    assert verify(manifest, lambda p: (out / p).read_bytes()) == [str(labels.relative_to(out))]


def test_a_pages_lines_travel_with_its_words(tmp_path, ml_engineer, labeled):
    """The page reader's line, reading order and decision reach the trainer (jsonl, the
    imagefolder metadata, COCO-Text), so a page's words can be grouped into its lines."""
    from annotations.models import WordCrop

    page = labeled[0]
    crops = list(page.crops.order_by("index"))
    for crop, line in zip(crops, (0, 0, 1), strict=True):
        crop.line, crop.decision, crop.source_boxes = line, "accepted", 1
        crop.detector_version = "detector-test"
    crops[1].decision, crops[1].source_boxes = "combined", 2
    WordCrop.objects.bulk_update(crops, ["line", "decision", "source_boxes", "detector_version"])

    samples = [
        json.loads(line)
        for line in (export_into(tmp_path, "jsonl", ml_engineer) / "samples.jsonl")
        .read_text()
        .splitlines()
    ]
    lines: dict[int | None, list[int]] = {}
    for sample in samples:
        if sample["donation_id"] == str(page.pk):
            lines.setdefault(sample["line"], []).append(sample["crop_index"])
    assert lines == {0: [0, 1], 1: [2]}
    combined = next(s for s in samples if s["crop_id"] == crops[1].pk)
    assert combined["reading"] == {
        "decision": "combined",
        "source_boxes": 2,
        "detector_version": "detector-test",
    }
    other = next(s for s in samples if s["donation_id"] != str(page.pk))
    assert other["line"] is None  # cut before the page reader made lines

    metadata = [
        json.loads(line)
        for path in (export_into(tmp_path, "imagefolder", ml_engineer)).rglob("metadata.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert {m["crop_id"]: m["line"] for m in metadata if m["donation_id"] == str(page.pk)} == {
        crop.pk: line for crop, line in zip(crops, (0, 0, 1), strict=True)
    }

    coco = json.loads(
        (export_into(tmp_path, "coco_text", ml_engineer) / "coco_text.json").read_text()
    )
    words = [coco["anns"][str(ann_id)] for ann_id in coco["imgToAnns"][str(page.pk)]]
    assert [(w["line"], w["reading_order"]) for w in words] == [(0, 0), (0, 1), (1, 2)]
