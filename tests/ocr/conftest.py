"""Helpers shared by the OCR tests."""

from pathlib import Path

from ocr.synthetic import render_word


def write_crops_folder(folder: Path, words: list[str], *, height: int = 32) -> Path:
    """Clean renderings of `words` with a labels.tsv, as `--crops` and `--finetune` read."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for index, word in enumerate(words):
        render_word(word, seed=index, height=height).save(folder / f"{index}.png")
        lines.append(f"{index}.png\t{word}\n")
    (folder / "labels.tsv").write_text("".join(lines), encoding="utf-8")
    return folder
