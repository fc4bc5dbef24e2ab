"""app.web.service_call: commit, or roll back and describe the refusal with the right status.

The views' own tests check each page; these check the helper's rules one by one, on a real session
(the category written in the block is there after a commit and gone after a refusal).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import Form, StringField

from app.errors import Conflict, DomainError, Forbidden, InvalidValue
from app.extensions import db
from app.models import Category
from app.web import Outcome, attach_error, service_call

pytestmark = pytest.mark.usefixtures("app")


class TitleForm(Form):
    title = StringField("Titre")


def _codes() -> set[str]:
    return set(db.session.scalars(sa.select(Category.code).where(Category.code.like("web-%"))))


@pytest.fixture
def new_category(app, make_category):
    def add(code: str = "web-1"):
        return make_category(code=code)

    return add


def test_a_block_that_ends_normally_is_committed(new_category):
    with service_call(TitleForm()) as outcome:
        new_category("web-1")
    assert outcome == Outcome()
    assert (outcome.ok, outcome.status, outcome.error, outcome.message) == (True, 200, None, None)
    db.session.rollback()  # would undo an uncommitted category
    assert _codes() == {"web-1"}


def test_a_domain_error_is_rolled_back_with_its_status_and_message(new_category):
    refusal = DomainError("Refusé pour une raison métier.")
    with service_call() as outcome:
        new_category("web-1")
        raise refusal
    assert outcome.exception is refusal
    assert (outcome.ok, outcome.status, outcome.error, outcome.conflict) == (
        False,
        400,
        "Refusé pour une raison métier.",
        False,
    )
    assert _codes() == set()


def test_an_invalid_value_goes_beside_its_field_when_the_form_has_it(new_category):
    form = TitleForm()
    with service_call(form) as outcome:
        new_category("web-1")
        raise InvalidValue("Donnez un titre.", "title")
    assert (outcome.status, outcome.error, outcome.message) == (400, None, "Donnez un titre.")
    assert form.title.errors == ["Donnez un titre."]
    assert _codes() == set()


def test_an_invalid_value_of_a_field_the_form_lacks_goes_to_the_top():
    form = TitleForm()
    with service_call(form) as outcome:
        raise InvalidValue("Choisissez un client existant.", "client_id")
    assert (outcome.status, outcome.error) == (400, "Choisissez un client existant.")
    assert list(form.title.errors) == []


def test_without_a_form_the_message_goes_to_the_top():
    with service_call() as outcome:
        raise InvalidValue("Donnez un titre.", "title")
    assert (outcome.status, outcome.error) == (400, "Donnez un titre.")


def test_forbidden_keeps_403():
    with service_call() as outcome:
        raise Forbidden("Seule la coordination peut faire cela.")
    assert (outcome.status, outcome.error, outcome.conflict) == (
        403,
        "Seule la coordination peut faire cela.",
        False,
    )


def test_a_conflict_is_409_and_flagged():
    with service_call(TitleForm()) as outcome:
        raise Conflict("Quelqu'un a modifié cet élément.")
    assert (outcome.status, outcome.error, outcome.conflict, outcome.duplicate) == (
        409,
        "Quelqu'un a modifié cet élément.",
        True,
        False,
    )


def test_a_stale_row_goes_up_unless_the_view_says_what_to_tell(new_category):
    with pytest.raises(StaleDataError), service_call() as outcome:
        new_category("web-1")
        raise StaleDataError("version changed")
    assert _codes() == set()

    with service_call(stale="Quelqu'un a enregistré au même instant.") as outcome:
        new_category("web-2")
        raise StaleDataError("version changed")
    assert isinstance(outcome.exception, StaleDataError)
    assert (outcome.status, outcome.error, outcome.conflict) == (
        409,
        "Quelqu'un a enregistré au même instant.",
        True,
    )
    assert _codes() == set()


def test_a_unique_index_refusal_at_commit_goes_up_unless_asked(new_category):
    new_category("web-1")
    db.session.commit()

    with pytest.raises(IntegrityError), service_call():
        db.session.add(Category(code="web-1", name="Doublon", position=1))
    assert _codes() == {"web-1"}

    form = TitleForm()
    with service_call(form, unique=True) as outcome:
        db.session.add(Category(code="web-1", name="Doublon", position=1))
    assert isinstance(outcome.exception, IntegrityError)
    assert (outcome.status, outcome.error, outcome.duplicate, outcome.conflict) == (409, None, True, False)

    with service_call(unique="Ce code vient d'être pris.") as outcome:
        db.session.add(Category(code="web-1", name="Doublon", position=1))
    assert (outcome.status, outcome.error, outcome.duplicate) == (409, "Ce code vient d'être pris.", True)
    assert _codes() == {"web-1"}


def test_other_exceptions_go_up_untouched():
    with pytest.raises(ValueError, match="bug"), service_call():
        raise ValueError("bug")


def test_attach_error_returns_the_message_when_no_field_takes_it():
    form = TitleForm()
    assert attach_error(form, InvalidValue("Beside.", "title")) is None
    assert attach_error(form, InvalidValue("Top.", "missing")) == "Top."
    assert attach_error(form, DomainError("Top too.")) == "Top too."
    assert attach_error(None, InvalidValue("No form.", "title")) == "No form."
    assert form.title.errors == ["Beside."]
