"""The stamp of a generated document: when it was true.

A generated markdown document starts with its stamp: a first line that is an HTML comment
holding one JSON object, then one sentence for people, e.g. ::

    <!-- stamp: {"script": "pipelines/speed.py", "commit": "3ebe3c1", "bitstream": 6, "models": ...} -->
    Made by `pipelines/speed.py` at commit 3ebe3c1, bitstream version 6, on <machine>, 2026-12-06.

The JSON holds the script (or command) that made the document, inrcodec's git commit (short
hash, "+changes" when the tracked tree differed from it), the bitstream version the code wrote,
the first 12 hex digits of every bundled model's hash (``Model.hash``), the machine line and the
date. Optional keys: ``"retro": true`` (the stamp was added afterwards, from git history, to a
document generated before stamps existed) and ``"historical": true`` with ``"changed"`` (what
changed since; the document is kept for the record, not as today's figures). ``tests/test_docs.py``
fails for a document whose stamp names a bitstream version older than the code's unless it is
historical.
"""

import json
import re
import sys
import time
from pathlib import Path

from .machine import commit, machine

__all__ = ["bundled_models", "read_stamp", "render", "script_name", "stamp", "stamped"]

PREFIX = "<!-- stamp: "
SUFFIX = " -->"
_LINE = re.compile(r"^<!-- stamp: (\{.*\}) -->$")


def bundled_models() -> dict[str, str]:
    """Each bundled model file's name (without ``.safetensors``) and the first 12 hex digits of
    its hash, as ``Model.hash`` computes it."""
    from importlib import resources

    from ..model import Model

    folder = resources.files("inrcodec") / "models"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".safetensors")),
                   key=lambda f: f.name)
    return {f.name.removesuffix(".safetensors"): Model.from_bytes(f.read_bytes()).hash[:12]
            for f in files}


def script_name(argv0: str | None = None) -> str:
    """The running script as the repository names it (``pipelines/speed.py``), or its path."""
    path = Path(argv0 if argv0 is not None else sys.argv[0]).resolve()
    root = Path(__file__).resolve().parents[2]
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix() if path.parent.name != "pipelines" else f"pipelines/{path.name}"


def stamp(script: str | None = None, date: str | None = None, **extra) -> dict:
    """The stamp of a document made now by ``script`` (default: the running script)."""
    from ..coding.container import VERSION

    return {"script": script or script_name(), "commit": commit() or "unknown",
            "bitstream": VERSION, "models": bundled_models(), "machine": machine(),
            "date": date or time.strftime("%Y-%m-%d"), **extra}


def render(stamp: dict) -> str:
    """The stamp's lines, to go first in a document: the JSON comment, one sentence, and for a
    retro or historical stamp what that means; a blank line after them."""
    # ">" escaped, so that no value can close the HTML comment early; JSON reads it back.
    lines = [PREFIX + json.dumps(stamp, ensure_ascii=False).replace(">", "\\u003e") + SUFFIX,
             f"Made by `{stamp['script']}` at commit {stamp['commit']}, bitstream version "
             f"{stamp['bitstream']}, on {stamp['machine']}, {stamp['date']}."]
    if stamp.get("retro"):
        lines[-1] += (" (This stamp was added afterwards, from git history: the commit that last "
                      "regenerated this document and the bitstream version it wrote then.)")
    if stamp.get("historical"):
        lines += ["", "**Historical:** kept for the record, not regenerated since; "
                  + stamp.get("changed", "the code has changed since.")]
    return "\n".join(lines) + "\n\n"


def stamped(text: str, stamp: dict) -> str:
    """``text`` with ``stamp`` first (an older stamp at its top replaced)."""
    return render(stamp) + _unstamped(text)


def _unstamped(text: str) -> str:
    """``text`` without the stamp at its top: the lines to the first blank line, and a
    historical note's paragraph after them."""
    if not text.startswith(PREFIX):
        return text
    rest = text.partition("\n\n")[2]
    if rest.startswith("**Historical:**"):
        rest = rest.partition("\n\n")[2]
    return rest


def read_stamp(path: str | Path) -> dict | None:
    """The stamp of the document at ``path`` (its first line), or None if it has none or the
    line does not parse as a JSON object."""
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline().rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return None
    match = _LINE.match(first)
    if not match:
        return None
    try:
        value = json.loads(match.group(1))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
