"""The English catalogue is complete: every French source string has a translation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def extract(tmp_path) -> list[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            "--no-location",
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    with open(pot, "rb") as handle:
        return [m.id for m in read_po(handle) if m.id]


def test_english_catalogue_translates_every_string(tmp_path):
    ids = extract(tmp_path)
    assert len(ids) > 100  # the extraction really found the app's strings
    with open(ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalogue = read_po(handle)
    missing = []
    for msgid in ids:
        message = catalogue.get(msgid)
        if (
            message is None
            or message.fuzzy
            or not (message.string if isinstance(message.string, str) else all(message.string))
        ):
            missing.append(msgid if isinstance(msgid, str) else msgid[0])
    assert missing == [], f"{len(missing)} untranslated strings, e.g. {missing[:10]}"


def test_placeholders_survive_translation():
    """A translation that drops or renames %(name)s would crash or lie at run time."""
    import re

    with open(ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalogue = read_po(handle)
    wrong = []
    for message in catalogue:
        if not message.id or not message.string:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        target = message.string if isinstance(message.string, str) else message.string[0]
        if sorted(re.findall(r"%\(\w+\)[sd]", source)) != sorted(re.findall(r"%\(\w+\)[sd]", target)):
            wrong.append(source)
    assert wrong == []


def test_no_sentence_holds_a_straight_double_quote():
    """A template writes a translation as trusted markup, into attributes too (an ``aria-label``
    naming a lot): a ``"`` in it would end the attribute there, and the rest of the sentence would
    become stray attributes. Quotes are typographic (« » in French, “ ” in English)."""
    with open(ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalogue = read_po(handle)
    quoted = []
    for message in catalogue:
        if not message.id:
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        strings = (message.string,) if isinstance(message.string, str) else tuple(message.string)
        quoted += [text for text in ids + strings if '"' in (text or "")]
    assert quoted == [], f"{len(quoted)} sentences with a straight double quote, e.g. {quoted[:5]}"
