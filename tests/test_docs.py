"""docs/ says when it was true: every generated document carries a stamp (inrcodec/bench/stamp.py)
at the code's bitstream version or marked historical, and docs/index.md maps every pipeline to
its documents and names only documents that exist."""

import re
from pathlib import Path

import pytest

from inrcodec.bench.stamp import read_stamp, render, stamped
from inrcodec.coding.container import VERSION

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
INDEX = DOCS / "index.md"
KEYS = {"script": str, "commit": str, "bitstream": int, "models": dict, "machine": str, "date": str}


def hand_written() -> set[str]:
    """The documents docs/index.md lists under its "Hand-written" heading."""
    text = INDEX.read_text()
    section = text.split("## Hand-written", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"\]\(([^)#\s]+\.md)\)", section))


def generated() -> list[Path]:
    keep = hand_written()
    return sorted(p for p in DOCS.glob("*.md") if p.name not in keep)


def problems(path: Path, version: int = VERSION) -> list[str]:
    """What is wrong with the stamp of the generated document at ``path``."""
    stamp = read_stamp(path)
    if stamp is None:
        return [f"{path.name}: no stamp on its first line (inrcodec.bench.stamp)"]
    found = [f"{path.name}: stamp's {key!r} is not a {kind.__name__}"
             for key, kind in KEYS.items() if not isinstance(stamp.get(key), kind)]
    if found:
        return found
    lines = path.read_text().splitlines()
    if len(lines) < 2 or not lines[1].startswith(f"Made by `{stamp['script']}`"):
        found.append(f"{path.name}: no human-readable line under the stamp")
    if stamp["bitstream"] > version:
        found.append(f"{path.name}: stamp at bitstream version {stamp['bitstream']}, newer than "
                     f"the code's {version}")
    if stamp["bitstream"] < version and stamp.get("historical") is not True:
        found.append(f"{path.name}: made at bitstream version {stamp['bitstream']}, older than the "
                     f"code's {version}: regenerate it (docs/index.md says how) or mark it "
                     '"historical": true with what changed')
    if stamp.get("historical") is True and not stamp.get("changed"):
        found.append(f"{path.name}: historical, but its stamp does not say what changed")
    return found


def test_index_lists_hand_written_documents():
    assert INDEX.exists()
    assert "index.md" in hand_written() and len(hand_written()) >= 2


def test_generated_documents_carry_a_current_or_historical_stamp():
    docs = generated()
    assert docs, "no generated documents found"
    assert [p for path in docs for p in problems(path)] == []


def test_every_pipeline_is_in_the_index():
    text = INDEX.read_text()
    scripts = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pipelines").glob("*.py"))
    assert scripts
    assert [s for s in scripts if f"`{s}" not in text] == []


def test_every_document_the_index_names_exists():
    text = INDEX.read_text()
    links = [m for m in re.findall(r"\]\(([^)#\s]+)\)", text) if "://" not in m]
    files = [m for m in re.findall(r"`([\w*./-]+\.(?:md|json|png|csv))`", text)
             if not m.startswith(("inrcodec/", "pipelines/", "tests/"))]
    missing = [m for m in links if not (DOCS / m).exists()]
    for name in files:
        folder, pattern = (ROOT, name) if name.startswith("docs/") else (DOCS, name)
        if not list(folder.glob(pattern)):
            missing.append(name)
    assert links and files and missing == []


@pytest.fixture
def stamp() -> dict:
    return {"script": "pipelines/speed.py", "commit": "3ebe3c1", "bitstream": VERSION,
            "models": {"default-2d": "0123456789ab"}, "machine": "a machine", "date": "2026-12-06"}


def test_the_checks_fail_where_they_should(tmp_path, stamp):
    doc = tmp_path / "x.md"
    doc.write_text("# A table without a stamp\n")
    assert problems(doc) and read_stamp(doc) is None
    doc.write_text(stamped("# A table\n", stamp))
    assert problems(doc) == [] and read_stamp(doc) == stamp
    doc.write_text(stamped("# A table\n", {**stamp, "bitstream": VERSION - 1}))
    assert "older than the code's" in " ".join(problems(doc))
    historical = {**stamp, "bitstream": VERSION - 1, "historical": True, "changed": "all of it"}
    doc.write_text(stamped("# A table\n", historical))
    assert problems(doc) == [] and "**Historical:**" in doc.read_text()
    doc.write_text(stamped("# A table\n", {**stamp, "bitstream": VERSION + 1}))
    assert "newer than" in " ".join(problems(doc))
    doc.write_text("<!-- stamp: {not json} -->\n# A table\n")
    assert read_stamp(doc) is None and problems(doc)
    doc.write_text(render({**stamp, "models": "none"}) + "# A table\n")
    assert "'models'" in " ".join(problems(doc))


def test_a_new_stamp_replaces_an_old_one(stamp):
    old = stamped("# A table\n", {**stamp, "historical": True, "changed": "x", "retro": True})
    again = stamped(old, stamp)
    assert again == render(stamp) + "# A table\n"
    assert "afterwards, from git history" in old and "afterwards" not in again


def test_the_pipelines_publish_their_markdown_stamped(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "pipelines"))
    from pipelines_common import publish

    doc = tmp_path / "x.md"
    written = publish(["| a |", "|---|", "| 1 |"], str(doc))
    assert read_stamp(doc) == written and problems(doc) == []
    assert written["bitstream"] == VERSION and "default-2d" in written["models"]
    assert doc.read_text().endswith("\n\n| a |\n|---|\n| 1 |\n")


def test_no_value_can_close_the_stamps_comment(tmp_path, stamp):
    doc = tmp_path / "x.md"
    doc.write_text(stamped("# A table\n", {**stamp, "machine": "a --> b"}))
    assert "-->" not in doc.read_text().splitlines()[0][:-4] and read_stamp(doc)["machine"] == "a --> b"
