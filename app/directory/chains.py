"""Thematic chains: create, edit, order their actors, delete.

Explicit arguments, ``flush()`` never commit, French :class:`app.errors.DomainError` messages, one
audit entry per change. Positions of a chain's links stay contiguous (0..n-1) and unique in the
database; :func:`_renumber` moves them in two steps so that the unique index never sees a duplicate.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from app.audit import N_, record
from app.db import utcnow
from app.directory.permissions import can_manage_chains
from app.errors import Forbidden, InvalidValue
from app.extensions import db
from app.models import Chain, ChainLink, Organisation

#: Fields whose before/after the audit log keeps on edits.
AUDITED_FIELDS = ("name", "slug", "description", "published")

SLUG_MAX = 120
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class InvalidChainValue(InvalidValue):
    """A value the chain cannot take; ``field`` names the form field it belongs to, if any."""


@dataclass
class ChainFields:
    """The values of a chain form, already stripped; an empty slug is derived from the name."""

    name: str
    description: str = ""
    published: bool = False
    slug: str | None = None


def _require_manager(user) -> None:
    if not can_manage_chains(user):
        raise Forbidden(_("Seule la coordination peut modifier les chaînes d'acteurs."))


def slugify(text: str) -> str:
    """``"La chaîne de la récup'"`` → ``"la-chaine-de-la-recup"`` (ASCII, hyphens, at most 120)."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:SLUG_MAX].rstrip("-")


def _clean_slug(fields: ChainFields, chain: Chain | None) -> str:
    """The slug to store: the one typed (checked), else the current one, else one from the name."""
    if fields.slug:
        slug = fields.slug.strip().lower()
        if len(slug) > SLUG_MAX or not SLUG_PATTERN.match(slug):
            raise InvalidChainValue(
                _(
                    "L'adresse ne peut contenir que des lettres minuscules sans accent, des chiffres et des tirets."
                ),
                "slug",
            )
    elif chain is not None:
        return chain.slug
    else:
        slug = slugify(fields.name)
        if not slug:
            raise InvalidChainValue(
                _("Indiquez une adresse pour cette chaîne (ex. chaine-du-libre)."), "slug"
            )
    query = sa.select(Chain.id).where(Chain.slug == slug)
    if chain is not None:
        query = query.where(Chain.id != chain.id)
    taken = db.session.scalar(query)
    if taken is not None:
        raise InvalidChainValue(
            _("L'adresse « %(slug)s » est déjà celle d'une autre chaîne.", slug=slug), "slug"
        )
    return slug


def _check_fields(fields: ChainFields) -> None:
    if not (fields.name or "").strip():
        raise InvalidChainValue(_("Donnez un nom à la chaîne."), "name")
    if len(fields.name) > 200:
        raise InvalidChainValue(_("Le nom ne peut dépasser 200 caractères."), "name")


def create_chain(fields: ChainFields, user) -> Chain:
    """A new chain, last in display order, without actors yet.

    Raises :class:`Forbidden` and :class:`InvalidChainValue` (empty name, malformed or taken slug).
    """
    _require_manager(user)
    _check_fields(fields)
    slug = _clean_slug(fields, None)
    last = db.session.scalar(sa.select(sa.func.max(Chain.position)))
    chain = Chain(
        name=fields.name.strip(),
        slug=slug,
        description=(fields.description or "").strip(),
        published=bool(fields.published),
        position=0 if last is None else last + 1,
    )
    db.session.add(chain)
    db.session.flush()
    record("chain.created", chain, user=user, summary=N_("Chaîne « %(name)s » créée", name=chain.name))
    return chain


def update_chain(chain: Chain, fields: ChainFields, user) -> dict:
    """Apply a chain form; returns ``{field: (before, after)}`` of what changed (empty: nothing).

    Raises :class:`Forbidden` and :class:`InvalidChainValue`.
    """
    _require_manager(user)
    _check_fields(fields)
    new = {
        "name": fields.name.strip(),
        "slug": _clean_slug(fields, chain),
        "description": (fields.description or "").strip(),
        "published": bool(fields.published),
    }
    changes = {
        name: (getattr(chain, name), value) for name, value in new.items() if getattr(chain, name) != value
    }
    if not changes:
        return {}
    for name, (_before, after) in changes.items():
        setattr(chain, name, after)
    db.session.flush()
    record(
        "chain.updated",
        chain,
        user=user,
        summary=N_("Chaîne « %(name)s » modifiée", name=chain.name),
        changes={k: v for k, v in changes.items() if k in AUDITED_FIELDS},
    )
    return changes


def delete_chain(chain: Chain, user) -> None:
    """Delete a chain and its links (the actors themselves are untouched). Raises :class:`Forbidden`."""
    _require_manager(user)
    record(
        "chain.deleted",
        chain,
        user=user,
        summary=N_("Chaîne « %(name)s » supprimée", name=chain.name),
        changes={"actors": ([link.organisation_id for link in chain.links], None)},
    )
    db.session.delete(chain)
    db.session.flush()


def move_chain(chain: Chain, direction: str, user) -> bool:
    """Swap the chain with its neighbour in display order; False when already at that end.

    Raises :class:`Forbidden` and :class:`InvalidChainValue` (unknown direction).
    """
    _require_manager(user)
    if direction not in ("up", "down"):
        raise InvalidChainValue(_("Sens de déplacement inconnu."))
    ordered = list(db.session.scalars(sa.select(Chain).order_by(Chain.position, Chain.id)))
    index = ordered.index(chain)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ordered):
        return False
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, item in enumerate(ordered):
        if item.position != position:
            item.position = position
    db.session.flush()
    return True


# --- links ---------------------------------------------------------------------------------------


def _touch(chain: Chain) -> None:
    """Bump the chain's version: two people editing the same path at once collide on it (409)."""
    chain.updated_at = utcnow()


def _renumber(chain: Chain, ordered: list[ChainLink]) -> None:
    """Give ``ordered`` the positions 0..n-1 without ever holding two equal positions in the table.

    Links that move first go to n, n+1… (free: the others are below n), then to their final place.
    """
    moving = [(position, link) for position, link in enumerate(ordered) if link.position != position]
    if not moving:
        return
    top = len(ordered) + max((link.position for link in ordered), default=0) + 1
    for offset, (_position, link) in enumerate(moving):
        link.position = top + offset
    db.session.flush()
    for position, link in moving:
        link.position = position
    db.session.flush()
    chain.links.sort(key=lambda item: item.position)


def clean_note(note: str | None) -> str | None:
    note = (note or "").strip()
    if len(note) > 200:
        raise InvalidChainValue(_("La note ne peut dépasser 200 caractères."), "note")
    return note or None


def addable_organisations(chain: Chain | None) -> list[Organisation]:
    """Active organisations not yet in ``chain``, by name (what the "add an actor" list offers)."""
    query = sa.select(Organisation).where(Organisation.active.is_(True)).order_by(Organisation.name)
    if chain is not None and chain.id is not None:
        query = query.where(
            ~sa.select(ChainLink.id)
            .where(ChainLink.chain_id == chain.id, ChainLink.organisation_id == Organisation.id)
            .exists()
        )
    return list(db.session.scalars(query))


def add_link(chain: Chain, organisation: Organisation, note: str | None, user) -> ChainLink:
    """Put ``organisation`` at the end of the chain.

    Raises :class:`Forbidden` and :class:`InvalidChainValue` (inactive actor, already in the chain,
    note too long).
    """
    _require_manager(user)
    if not organisation.active:
        raise InvalidChainValue(
            _(
                "« %(name)s » n'est plus actif : il ne peut pas entrer dans une chaîne.",
                name=organisation.name,
            ),
            "organisation_id",
        )
    if any(link.organisation_id == organisation.id for link in chain.links):
        raise InvalidChainValue(
            _("« %(name)s » fait déjà partie de cette chaîne.", name=organisation.name), "organisation_id"
        )
    note = clean_note(note)
    position = max((link.position for link in chain.links), default=-1) + 1
    link = ChainLink(organisation=organisation, position=position, note=note)
    chain.links.append(link)
    _touch(chain)
    db.session.flush()
    record(
        "chain.link_added",
        chain,
        user=user,
        summary=N_("« %(actor)s » ajouté à la chaîne « %(name)s »", actor=organisation.name, name=chain.name),
        changes={"organisation_id": (None, organisation.id), "position": (None, position)},
    )
    return link


def move_link(link: ChainLink, direction: str, user) -> bool:
    """Swap the link with its neighbour before (``up``) or after (``down``) in the path.

    Returns False when already at that end. Raises :class:`Forbidden` and :class:`InvalidChainValue`.
    """
    _require_manager(user)
    if direction not in ("up", "down"):
        raise InvalidChainValue(_("Sens de déplacement inconnu."))
    chain = link.chain
    ordered = sorted(chain.links, key=lambda item: (item.position, item.id))
    index = ordered.index(link)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ordered):
        return False
    before = link.position
    ordered[index], ordered[other] = ordered[other], ordered[index]
    _renumber(chain, ordered)
    _touch(chain)
    db.session.flush()
    record(
        "chain.link_moved",
        chain,
        user=user,
        summary=N_(
            "« %(actor)s » déplacé dans la chaîne « %(name)s »",
            actor=link.organisation.name,
            name=chain.name,
        ),
        changes={"position": (before, link.position), "organisation_id": (link.organisation_id,) * 2},
    )
    return True


def remove_link(link: ChainLink, user) -> None:
    """Take an actor out of the chain; the following ones move up. Raises :class:`Forbidden`."""
    _require_manager(user)
    chain = link.chain
    organisation = link.organisation
    chain.links.remove(link)
    db.session.flush()
    _renumber(chain, sorted(chain.links, key=lambda item: (item.position, item.id)))
    _touch(chain)
    db.session.flush()
    record(
        "chain.link_removed",
        chain,
        user=user,
        summary=N_(
            "« %(actor)s » retiré de la chaîne « %(name)s »", actor=organisation.name, name=chain.name
        ),
        changes={"organisation_id": (organisation.id, None)},
    )


def set_link_note(link: ChainLink, note: str | None, user) -> bool:
    """Change what the path says passes from this actor to the next; False when unchanged.

    Raises :class:`Forbidden` and :class:`InvalidChainValue` (too long).
    """
    _require_manager(user)
    note = clean_note(note)
    if note == link.note:
        return False
    before = link.note
    link.note = note
    _touch(link.chain)
    db.session.flush()
    record(
        "chain.link_note",
        link.chain,
        user=user,
        summary=N_(
            "Note de « %(actor)s » modifiée dans la chaîne « %(name)s »",
            actor=link.organisation.name,
            name=link.chain.name,
        ),
        changes={"note": (before, note)},
    )
    return True


def link_of(chain: Chain, link_id: int) -> ChainLink | None:
    """The link ``link_id`` when it belongs to ``chain`` (else None: the view answers 404)."""
    return next((link for link in chain.links if link.id == link_id), None)
