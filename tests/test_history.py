"""The event history reads as sentences in the reader's language, with labels and formatted values.

Entries store a message key (the French msgid) and its parameters; entries written before keep their
French sentence and are marked as French on an English page.
"""

from __future__ import annotations

import re
from html import unescape

import sqlalchemy as sa

from app.audit import FIELD_LABELS, N_, as_label, as_money, record, sentence
from app.extensions import db
from app.models import AuditEntry
from offers.demo import demo_event


def text(response) -> str:
    html = response.get_data(as_text=True)
    plain = unescape(re.sub(r"<[^>]+>", " ", html))
    return re.sub(r"\s+", " ", plain.replace("\u202f", " ").replace("\xa0", " "))


def history_of(response) -> str:
    html = response.get_data(as_text=True)
    start = html.index('id="historique"')
    return html[start : html.index("</section>", start)]


def in_english(client) -> None:
    with client.session_transaction() as session:
        session["lang"] = "en"


def test_an_entry_stores_its_key_and_parameters_and_reads_in_each_language(app, make_event):
    event = make_event()
    entry = record(
        "event.updated",
        event,
        summary=N_("Statut : %(before)s → %(after)s", before=as_label("draft"), after=as_label("consulting")),
        event_id=event.id,
    )
    assert entry.message_key == "Statut : %(before)s → %(after)s"
    assert entry.message_params == {"before": {"label": "draft"}, "after": {"label": "consulting"}}
    assert entry.summary == "Statut : Brouillon → Consultation"
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("en"):
        assert sentence(entry).text == "Status: Draft → Consultation"
        assert sentence(entry).lang is None


def test_money_parameters_are_formatted_when_read(app, make_event):
    event = make_event()
    entry = record(
        "line.created",
        event,
        summary=N_(
            "Ligne « %(line)s » ajoutée au lot « %(lot)s » (%(actor)s) : %(q)s × %(p)s HT",
            line="Déjeuner",
            lot="Restauration",
            actor="TAK-APRES",
            q=12,
            p=as_money("1234.50"),
        ),
    )
    assert (
        entry.summary
        == "Ligne « Déjeuner » ajoutée au lot « Restauration » (TAK-APRES) : 12 × 1\u202f234,50\xa0€ HT"
    )
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("en"):
        assert (
            sentence(entry).text
            == "Line “Déjeuner” added to lot “Restauration” (TAK-APRES): 12 × €1,234.50 excl. VAT"
        )


def test_an_old_entry_reads_as_written_and_is_marked_french_on_an_english_page(
    client, auth, person, make_event
):
    coordinator = person("coordinator")
    event = make_event()
    db.session.add(
        AuditEntry(
            action="event.updated",
            object_type="events",
            object_id=event.id,
            event_id=event.id,
            summary="Ancienne phrase en français",
            changes={},
        )
    )
    db.session.flush()
    auth.login(coordinator.email)
    in_english(client)
    history = history_of(client.get(f"/evenements/{event.id}"))
    assert '<td lang="fr">Ancienne phrase en français</td>' in history


def test_the_demo_history_reads_in_english_with_labels_and_formatted_values(client, auth, runner):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    event = demo_event()
    auth.login("coordination@example.org", "demo-maillage")
    in_english(client)
    html, page = "", 1
    while True:  # the whole history, a page at a time
        response = client.get(f"/evenements/{event.id}/historique?page={page}")
        html += history_of(response)
        if f"historique?page={page + 1}" not in response.get_data(as_text=True):
            break
        page += 1
    assert page >= 2
    plain = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))
    assert 'lang="fr"' not in html
    assert "Event created for Nantes Métropole" in plain
    assert "TAK-APRES / Chez Nous accepts lot “Pauses café”" in plain
    assert "Quote DEV-2011-0001 v2 accepted" in plain
    assert "Quote DEV-2011-0001 v1 issued" in plain
    assert "Status: Invited → Accepted" in plain
    assert "Total incl. VAT: — → €31,363.89" in plain
    # A move reads once: its sentence says the statuses, the changes column does not repeat them.
    assert plain.count("Status: Sent → Accepted") == 1
    for french in (
        "Devis ",
        " émis",
        "Statut",
        "accepte le lot",
        "invité sur",
        "Invité",
        "Événement créé",
        "Empreinte",
    ):
        assert french not in plain, french
    # No raw field name: each change reads with its label.
    assert re.search(r"\b[a-z]+_[a-z_]+ :", plain) is None


def test_every_field_the_demo_and_the_services_record_has_a_label(client, auth, runner):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    keys = {key for changes in db.session.scalars(sa.select(AuditEntry.changes)) for key in (changes or {})}
    assert keys
    assert sorted(keys - set(FIELD_LABELS)) == []


def test_changes_read_with_labels_and_formatted_values_not_field_names(client, auth, person, make_event):
    from datetime import UTC, datetime

    coordinator = person("coordinator")
    event = make_event()
    record(
        "assignment.status_changed",
        event,
        summary=N_("%(actor)s invité sur le lot « %(lot)s »", actor="Méli-Mélo", lot="Buffet"),
        changes={
            "invited_at": (None, datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
            "organisation": (None, "Méli-Mélo"),
            "unit_price": ("12.5", "13.90"),
        },
        event_id=event.id,
    )
    auth.login(coordinator.email)
    history = text(client.get(f"/evenements/{event.id}"))
    assert "Invité le : — → 2 mars 2026 10:30" in history
    assert "Acteur : — → Méli-Mélo" in history
    assert "Prix unitaire HT : 12,50 € → 13,90 €" in history
    assert "invited_at" not in history and "organisation :" not in history
    in_english(client)
    history = text(client.get(f"/evenements/{event.id}"))
    assert "Invited on: — → Mar 2, 2026, 10:30" in history
    assert "Actor: — → Méli-Mélo" in history
    assert "Unit price excl. VAT: €12.50 → €13.90" in history


def test_the_event_page_shows_the_latest_entries_and_links_to_the_whole_history(
    client, auth, make_event, make_user
):
    event = make_event(title="Forum annuel")
    for n in range(25):
        record("event.updated", event, summary=N_("Note n° %(n)s", n=str(n)), event_id=event.id)
    db.session.flush()
    auth.login(make_user("coordinator").email)
    page = client.get(f"/evenements/{event.id}")
    latest = history_of(page)
    assert latest.count("<tr>") == 1 + 20  # the header row, then the entries
    assert "Note n° 24" in latest and "Note n° 5" in latest and "Note n° 4" not in latest
    assert f'href="/evenements/{event.id}/historique"' in latest
    whole = client.get(f"/evenements/{event.id}/historique")
    assert whole.status_code == 200
    rows = history_of(whole)
    assert rows.count("<tr>") == 1 + 25 and "Note n° 0" in rows
    assert "25 entrées, de la plus récente à la plus ancienne." in text(whole)
    assert client.get(f"/evenements/{event.id}/historique?page=x").status_code == 400


def test_a_short_history_has_no_link(client, auth, make_event, make_user):
    event = make_event()
    record("event.updated", event, summary=N_("Une seule note"), event_id=event.id)
    db.session.flush()
    auth.login(make_user("coordinator").email)
    latest = history_of(client.get(f"/evenements/{event.id}"))
    assert latest.count("<tr>") == 1 + 1
    assert "/historique" not in latest


def test_each_entry_names_its_author_and_reads_nothing_else_of_them(client, auth, make_event, make_user):
    from tests.conftest import results_read

    event = make_event()
    author = make_user("actor", name="Camille Méli-Mélo")
    record("event.updated", event, user=author, summary=N_("Une note"), event_id=event.id)
    record("event.updated", event, summary=N_("Une autre"), event_id=event.id)
    db.session.commit()
    event_id = event.id
    auth.login(make_user("coordinator").email)
    db.session.expunge_all()
    with results_read() as read:
        latest = history_of(client.get(f"/evenements/{event_id}"))
    assert "Camille Méli-Mélo" in latest and "Système" in latest
    [columns] = [names for statement, names in read if "FROM audit_entries" in statement]
    assert "siret" not in columns and "email" not in columns  # not the author's organisation nor login
