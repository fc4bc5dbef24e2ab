"""The directory list's query: filters, a whitelist of sort keys, pagination.

The page costs the same number of queries whatever the number of cards shown: one count, one page of
organisations with the columns the list shows and their categories' ids, plus the filter choices
(every category among them: each card is handed its own, no query per card nor for their links).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import sqlalchemy as sa
from sqlalchemy.orm import load_only, with_expression
from sqlalchemy.orm.attributes import set_committed_value

from app.directory.validation import qpv_names
from app.extensions import db
from app.models import Category, LegalForm, Organisation, VatRegime, organisation_categories
from app.parsing import page_number

PER_PAGE_CHOICES = (25, 50, 100)
PER_PAGE = 50

#: Sort keys accepted in the URL, and the columns they sort by (then by name, then id).
SORTS = {
    "name": (sa.func.lower(Organisation.name),),
    "commune": (sa.func.lower(Organisation.commune),),
    "qpv": (Organisation.qpv_name,),
    "legal_form": (Organisation.legal_form,),
    "vat_regime": (Organisation.vat_regime,),
    "updated": (Organisation.updated_at,),
}
DEFAULT_SORT = "name"

#: Values of the ``qpv`` filter besides a neighbourhood's name.
QPV_ANY, QPV_NONE = "oui", "non"
#: Values of the ``active`` filter (absent means active only).
ACTIVE_YES, ACTIVE_NO, ACTIVE_ALL = "oui", "non", "tous"


@dataclass
class DirectoryQuery:
    """The list's parameters, as read from the URL (unknown values are dropped, never an error)."""

    q: str = ""
    category: str = ""
    commune: str = ""
    qpv: str = ""
    legal_form: str = ""
    vat_regime: str = ""
    active: str = ACTIVE_YES
    sort: str = DEFAULT_SORT
    order: str = "asc"
    page: int = 1
    per_page: int = PER_PAGE

    @classmethod
    def from_args(cls, args) -> DirectoryQuery:
        query = cls(
            q=(args.get("q") or "").strip()[:200],
            category=(args.get("category") or "").strip()[:40],
            commune=(args.get("commune") or "").strip()[:120],
            qpv=(args.get("qpv") or "").strip()[:120],
            legal_form=args.get("legal_form") or "",
            vat_regime=args.get("vat_regime") or "",
            active=args.get("active") or ACTIVE_YES,
            sort=args.get("sort") or DEFAULT_SORT,
            order=args.get("order") or "asc",
            page=page_number(args),
            per_page=args.get("per_page", PER_PAGE, type=int) or PER_PAGE,
        )
        if query.legal_form not in {f.value for f in LegalForm}:
            query.legal_form = ""
        if query.vat_regime not in {r.value for r in VatRegime}:
            query.vat_regime = ""
        if query.qpv not in (QPV_ANY, QPV_NONE) and query.qpv not in {name for name, _ in qpv_names()}:
            query.qpv = ""
        if query.active not in (ACTIVE_YES, ACTIVE_NO, ACTIVE_ALL):
            query.active = ACTIVE_YES
        if query.sort not in SORTS:
            query.sort = DEFAULT_SORT
        if query.order not in ("asc", "desc"):
            query.order = "asc"
        if query.per_page not in PER_PAGE_CHOICES:
            query.per_page = PER_PAGE
        return query

    def args(self, **changes) -> dict:
        """URL parameters for a link that changes some of them (defaults left out, page reset)."""
        values = {name: getattr(self, name) for name in _DEFAULTS}
        values["page"] = 1
        values.update(changes)
        return {k: v for k, v in values.items() if v != _DEFAULTS[k]}

    def sort_args(self, key: str) -> dict:
        """The link of a column header: sort by it, or flip the order when it is the current one."""
        order = "desc" if self.sort == key and self.order == "asc" else "asc"
        return self.args(sort=key, order=order)

    def filter_args(self) -> dict:
        """The filters alone, for the export links (``active`` always: the export's default is all cards)."""
        names = ("q", "category", "commune", "qpv", "legal_form", "vat_regime")
        return {**{n: getattr(self, n) for n in names if getattr(self, n)}, "active": self.active}

    @property
    def filtered(self) -> bool:
        return bool(
            self.q
            or self.category
            or self.commune
            or self.qpv
            or self.legal_form
            or self.vat_regime
            or self.active != ACTIVE_YES
        )


#: Each parameter's default, in the fields' order (the list asks for a link per filter and header).
_DEFAULTS = {f.name: f.default for f in fields(DirectoryQuery)}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


#: What the list shows of an organisation (and its card's link): the rest of its row stays in the
#: database (its description, address, bank details, logo…).
LISTED_COLUMNS = (
    Organisation.id,
    Organisation.name,
    Organisation.active,
    Organisation.commune,
    Organisation.postal_code,
    Organisation.qpv,
    Organisation.qpv_name,
    Organisation.legal_form,
    Organisation.vat_regime,
    Organisation.updated_at,
)

#: An organisation's categories' ids, joined in one text (``"3,7"``) on its row: the list reads
#: them with its page instead of a statement of their own.
_CATEGORY_IDS = (
    sa.select(sa.func.aggregate_strings(sa.cast(organisation_categories.c.category_id, sa.String), ","))
    .where(organisation_categories.c.organisation_id == Organisation.id)
    .correlate(Organisation)
    .scalar_subquery()
)


def directory_select(query: DirectoryQuery) -> sa.Select:
    """Organisations matching the filters, sorted: the columns the list shows and their categories'
    ids (:data:`LISTED_COLUMNS`; :func:`hand_categories` turns the ids into categories)."""
    statement = sa.select(Organisation).options(
        load_only(*LISTED_COLUMNS), with_expression(Organisation.category_ids, _CATEGORY_IDS)
    )
    if query.q:
        pattern = f"%{_escape_like(query.q)}%"
        statement = statement.where(
            sa.or_(
                Organisation.name.ilike(pattern, escape="\\"),
                Organisation.description.ilike(pattern, escape="\\"),
            )
        )
    if query.category:
        # EXISTS rather than a join: one row per organisation, so the count and the page stay right.
        statement = statement.where(Organisation.categories.any(Category.code == query.category))
    if query.commune:
        statement = statement.where(sa.func.lower(Organisation.commune) == query.commune.lower())
    if query.qpv == QPV_ANY:
        statement = statement.where(Organisation.qpv.is_(True))
    elif query.qpv == QPV_NONE:
        statement = statement.where(Organisation.qpv.is_(False))
    elif query.qpv:
        statement = statement.where(Organisation.qpv_name == query.qpv)
    if query.legal_form:
        statement = statement.where(Organisation.legal_form == LegalForm(query.legal_form))
    if query.vat_regime:
        statement = statement.where(Organisation.vat_regime == VatRegime(query.vat_regime))
    if query.active == ACTIVE_YES:
        statement = statement.where(Organisation.active.is_(True))
    elif query.active == ACTIVE_NO:
        statement = statement.where(Organisation.active.is_(False))
    columns = SORTS[query.sort]
    if query.order == "desc":
        columns = tuple(c.desc() for c in columns)
    return statement.order_by(*columns, sa.func.lower(Organisation.name), Organisation.id)


def search_directory(query: DirectoryQuery, categories: list[Category]):
    """One page of the directory (``flask_sqlalchemy.pagination.Pagination``), each organisation
    with its categories taken from ``categories`` (every category: :func:`filter_choices` reads
    them for the form)."""
    page = db.paginate(
        directory_select(query), page=query.page, per_page=query.per_page, error_out=False, count=True
    )
    hand_categories(page.items, categories)
    return page


def hand_categories(organisations, categories: list[Category]) -> None:
    """Set each organisation's categories, as loaded from the database, from the ids its row
    brought (``category_ids``) and ``categories`` (every category), in the relationship's order."""
    by_id = {category.id: category for category in categories}
    for organisation in organisations:
        ids = organisation.category_ids
        own = [by_id[int(i)] for i in ids.split(",")] if ids else []
        own.sort(key=lambda category: (category.position, category.id))
        set_committed_value(organisation, "categories", own)


def filter_choices() -> dict:
    """Categories and communes offered by the filter form (two queries)."""
    categories = list(db.session.scalars(sa.select(Category).order_by(Category.position, Category.name)))
    communes = list(
        db.session.scalars(
            sa.select(Organisation.commune)
            .where(Organisation.commune != "")
            .group_by(Organisation.commune)
            .order_by(sa.func.lower(Organisation.commune))
        )
    )
    return {
        "categories": categories,
        "communes": communes,
        "qpvs": [name for name, _communes in qpv_names()],
        "legal_forms": list(LegalForm),
        "vat_regimes": list(VatRegime),
    }
