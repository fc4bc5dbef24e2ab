"""Optimistic locking for edit forms (see docs/architecture.md, "Concurrent edits").

The form carries the object's ``version_id`` in a hidden field; the view compares it explicitly
before applying anything, and answers a mismatch with 409 and the form re-rendered. SQLAlchemy's
``version_id_col`` still catches the race between this check and the flush.
"""

from __future__ import annotations

from flask_babel import gettext as _

from app.errors import Conflict


def check_version(obj, posted_version) -> None:
    """Raise :class:`Conflict` when the posted version is not the object's current one."""
    try:
        posted = int(posted_version)
    except (TypeError, ValueError) as exc:
        raise Conflict(_("Formulaire incomplet : rechargez la page.")) from exc
    if posted != obj.version_id:
        raise Conflict(
            _(
                "Quelqu'un a modifié cet élément pendant que vous le modifiiez. "
                "Vos saisies sont conservées ci-dessous ; vérifiez les valeurs actuelles avant d'enregistrer."
            )
        )
