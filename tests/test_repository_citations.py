"""Code, comments and docstrings cite only what is in the repository.

Design notes kept outside the repository are not part of it: what a file relies on is written in
``docs/`` (or the README) and cited from there. This test fails when any file outside ``docs/`` and
the README names one of those outside notes.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Names of notes that live outside the repository (spelt in pieces so this file does not cite them).
OUTSIDE = (*(name + ".md" for name in ("DESIGN", "NOTES", "STYLE")), "../" + "shared")

#: Files allowed to cite such notes, with how many citations (none: keep it empty).
KNOWN_CITATIONS: dict[str, int] = {}

#: Folders that are not the repository's content (tools, caches, local data).
SKIPPED_DIRS = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "instance",
    "build",
    "test-artifacts",
}
#: Where the repository's own documentation lives: it may say where things used to be written.
ALLOWED = {"docs", "README.md"}


def _files():
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        if not path.is_file() or relative.parts[0] in ALLOWED:
            continue
        if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in relative.parts[:-1]):
            continue
        yield relative.as_posix(), path


def _citations() -> dict[str, int]:
    found = {}
    for name, path in _files():
        data = path.read_bytes()
        if b"\x00" in data:  # binary (compiled catalogues, images, PDFs)
            continue
        text = data.decode("utf-8", errors="replace")
        count = sum(text.count(outside) for outside in OUTSIDE)
        if count:
            found[name] = count
    return found


def test_no_file_cites_notes_outside_the_repository():
    found = _citations()
    unexpected = {name: count for name, count in found.items() if count > KNOWN_CITATIONS.get(name, 0)}
    assert unexpected == {}, (
        "These files cite notes that are not in the repository: write what they rely on in docs/ "
        "and cite that instead."
    )


def test_the_known_citations_are_still_there_or_leave_the_list():
    found = _citations()
    gone = {name: found.get(name, 0) for name, count in KNOWN_CITATIONS.items() if found.get(name, 0) < count}
    assert gone == {}, "Citations were removed: lower or remove their entries in KNOWN_CITATIONS."


def test_the_check_sees_a_citation(tmp_path, monkeypatch):
    """The scan itself works: a file citing an outside note is found, one under docs/ is not."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "module.py").write_text('"""See ' + OUTSIDE[1] + '."""\n', encoding="utf-8")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "history.md").write_text("Formerly in " + OUTSIDE[0] + ".\n", encoding="utf-8")
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "notes.txt").write_text(OUTSIDE[3] + "\n", encoding="utf-8")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert _citations() == {"app/module.py": 1}
