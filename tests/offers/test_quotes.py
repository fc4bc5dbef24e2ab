"""Quotes: issue, freeze, PDF, versions, sending, the client's answer, the archive CLI."""

from __future__ import annotations

import html
import io
import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.db import utcnow
from app.extensions import db
from app.models import OutboxMessage
from offers.models import Event, EventStatus, Line, Quote, QuoteLine, QuoteStatus
from offers.services import quotes as service
from tests.conftest import csrf_token, hidden_value, results_read
from tests.offers.quote_fixtures import build_ready_event


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def pdf_text(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


@pytest.fixture
def ready(make_event, make_client, make_category, make_organisation):
    return build_ready_event(make_event, make_client, make_category, make_organisation)


@pytest.fixture
def coordinator(make_user, auth):
    user = make_user("coordinator", email="coordination@example.org")
    auth.login(user.email)
    return user


def issue(client, event, **data):
    page = client.get(f"/evenements/{event.id}/devis")
    form = {
        "validity_days": "30",
        "show_actor_cards": "y",
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "issue_token": hidden_value(page.get_data(as_text=True), "issue_token"),
    }
    form.update(data)
    return client.post(f"/evenements/{event.id}/devis", data=form)


def latest(event) -> Quote:
    return db.session.scalar(
        sa.select(Quote).where(Quote.event_id == event.id).order_by(Quote.version.desc())
    )


# --- issuing -------------------------------------------------------------------------------------


def test_issue_freezes_lines_totals_and_numbers_the_quote(client, coordinator, ready):
    event, _lots, _orgs = ready
    response = issue(client, event)
    assert response.status_code == 302
    quote = latest(event)
    year = utcnow().date().year
    assert (quote.number, quote.version, quote.status) == (f"DEV-{year}-0001", 1, QuoteStatus.DRAFT)
    assert (quote.total_net, quote.total_vat, quote.total_gross) == (D("7607.25"), D("866.33"), D("8473.58"))
    assert [(ql.kind, ql.description, ql.net) for ql in quote.lines] == [
        ("line", "Déjeuner", D("5800.00")),
        ("line", "Service en salle", D("243.75")),
        ("line", "Librairie éphémère", D("350.00")),
        ("line", "Reportage photo", D("650.00")),
        ("fee", quote.lines[-1].description, D("563.50")),
    ]
    assert quote.valid_until == quote.issue_date + timedelta(days=30)
    assert quote.pdf.startswith(b"%PDF") and len(quote.pdf_sha256) == 64


@pytest.mark.parametrize("stored,shown", [(None, "30"), (45, "45")])
def test_the_validity_offered_comes_from_the_settings(client, coordinator, ready, stored, shown):
    from app.settings_store import set_setting

    if stored is not None:
        set_setting("quotes.validity_days", stored)
    event, _lots, _orgs = ready
    page = text(client.get(f"/evenements/{event.id}/devis"))
    assert re.search(rf'name="validity_days"[^>]*value="{shown}"', page), page


def test_issuing_with_unstaffed_or_unpriced_lots_is_refused_with_the_list(client, coordinator, ready):
    event, lots, _orgs = ready
    from offers.models import Assignment, AssignmentStatus, Lot

    db.session.execute(sa.delete(Line).where(Line.lot_id == lots[1].id))
    db.session.execute(
        sa.update(Assignment)
        .where(Assignment.lot_id == lots[2].id)
        .values(status=AssignmentStatus.INVITED.value)
    )
    db.session.expire_all()
    response = issue(client, event)
    assert response.status_code == 400
    body = text(response)
    assert "lot « Librairie » : aucune ligne chiffrée" in body
    assert "lot « Photographie » : aucun acteur n'a accepté" in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Quote)) == 0
    assert Lot  # imported for clarity of the fixture's model


def test_the_pdf_carries_every_mandatory_element(client, coordinator, ready):
    event, _lots, _orgs = ready
    issue(client, event, show_breakdown="y")
    quote = latest(event)
    pages = pdf_text(quote.pdf)
    whole = "\n".join(pages)
    flat = re.sub(r"\s+", " ", whole)
    for expected in [
        "Les Ecossolies",
        "SIRET 40483304800022",
        "FR83404833048",
        "8 rue Saint-Domingue",
        "Nantes Métropole",
        "21440109300015",
        "EVT-44",
        f"Devis n° {quote.number} v1",
        "Assises de test",
        "BC-42",
        "1. Restauration",
        "2. Librairie",
        "3. Photographie",
        "Sous-total Restauration 6 043,75 €",
        "Déjeuner",
        "400",
        "14,50 €",
        "5 800,00 €",
        "7,5",
        "243,75 €",
        "Coordination",
        "563,50 €",
        "10% 6 043,75 € 604,38 €",
        "5,5% 350,00 € 19,25 €",
        "20% 1 213,50 € 242,70 €",
        "Total HT 7 607,25 €",
        "Total TVA 866,33 €",
        "Total TTC 8 473,58 €",
        "Valable jusqu'au",
        "Paiement à 30 jours par virement.",
        "indemnité forfaitaire de 40 €",
        "Bon pour accord",
        # Single contractor: no groupement, so the annex is the internal breakdown, nets only.
        "Annexe — répartition interne entre les acteurs (pour information)",
        "titulaire unique",
    ]:
        assert expected.replace("\u202f", " ") in flat.replace("\u202f", " ").replace("\xa0", " "), expected
    for number, page in enumerate(pages, start=1):
        assert f"Devis {quote.number} v1 · page {number} / {len(pages)}" in page


def test_the_stored_pdf_never_changes(client, runner, coordinator, ready, tmp_path):
    event, lots, orgs = ready
    issue(client, event)
    quote = latest(event)
    stored, digest = quote.pdf, quote.pdf_sha256
    # Everything the PDF was made from changes afterwards…
    orgs[0].name = "Nouveau nom"
    line = db.session.scalar(sa.select(Line).where(Line.lot_id == lots[0].id).order_by(Line.position))
    line.unit_price = D("99.99")
    event.title = "Titre changé"
    db.session.flush()
    db.session.expire_all()
    quote = db.session.get(Quote, quote.id)
    assert quote.pdf == stored and quote.pdf_sha256 == digest
    assert client.get(f"/devis/{quote.id}/pdf").data == stored
    out = tmp_path / "archive.pdf"
    result = runner.invoke(args=["quotes", "export-pdf", quote.number, "--version", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == stored


def test_user_text_cannot_make_the_renderer_read_files(client, coordinator, ready):
    event, lots, orgs = ready
    line = db.session.scalar(sa.select(Line).where(Line.lot_id == lots[0].id).order_by(Line.position))
    line.description = '<img src="file:///etc/passwd"><style>@import url("http://127.0.0.1:9/x.css");</style>'
    orgs[0].description = '<link rel="attachment" href="file:///etc/passwd">'
    event.description = "body { background: url(file:///etc/hostname) }"
    db.session.flush()
    issue(client, event)
    quote = latest(event)
    reader = PdfReader(io.BytesIO(quote.pdf))
    whole = "\n".join(page.extract_text() for page in reader.pages)
    assert '<img src="file:///etc/passwd">' in whole.replace("\n", "")  # shown as text
    assert "root:" not in whole
    assert not reader.attachments


def test_a_new_version_supersedes_and_shows_the_differences(client, coordinator, ready):
    event, lots, _orgs = ready
    issue(client, event)
    first = latest(event)
    line = db.session.scalar(sa.select(Line).where(Line.lot_id == lots[0].id).order_by(Line.position))
    line.unit_price = D("15.00")
    db.session.flush()
    issue(client, event)
    second = latest(event)
    db.session.refresh(first)
    assert (second.number, second.version) == (first.number, 2)
    assert first.status == QuoteStatus.SUPERSEDED
    page = text(client.get(f"/devis/{second.id}"))
    assert "Ce qui a changé depuis la version 1" in page
    assert "prix unitaire HT : 14,50 € → 15,00 €" in page.replace("\u202f", " ").replace("\xa0", " ")


def test_the_event_page_lists_the_versions_without_reading_their_snapshots(client, coordinator, ready):
    event, lots, _orgs = ready
    issue(client, event)
    line = db.session.scalar(sa.select(Line).where(Line.lot_id == lots[0].id).order_by(Line.position))
    line.unit_price = D("15.00")
    db.session.flush()
    issue(client, event)
    first, second = db.session.scalars(
        sa.select(Quote).where(Quote.event_id == event.id).order_by(Quote.version)
    )
    db.session.expunge_all()
    with results_read() as read:
        page = text(client.get(f"/evenements/{event.id}"))
    columns = [column for _statement, names in read for column in names]
    versions = re.findall(r'href="/devis/(\d+)">([^<]+)</a>', page)
    assert versions == [(str(second.id), f"{second.number} v2"), (str(first.id), f"{first.number} v1")]
    assert "Émettre une nouvelle version" in page  # the latest version was not accepted
    assert "snapshot" not in columns and "pdf" not in columns


def test_the_quotes_list_prints_the_client_name_frozen_at_issue_without_the_snapshot(
    client, coordinator, ready
):
    """The list prints the client's name as the version froze it (renamed since: the old name),
    from a column written with the snapshot at issue: the list reads no snapshot."""
    event, _lots, _orgs = ready
    issue(client, event)
    quote = latest(event)
    frozen, number = quote.snapshot["client"]["name"], quote.number
    assert quote.frozen_client_name == frozen
    event.client.name = "Nom changé depuis"
    db.session.commit()
    db.session.expunge_all()
    with results_read() as read:
        page = text(client.get("/devis"))
    row = re.search(rf"<tr><td><a [^>]*>{re.escape(number)} v1</a>.*?</tr>", page, re.S)
    assert row is not None and f"<td>{frozen}</td>" in row.group(0)
    assert "Nom changé depuis" not in row.group(0)  # (the client filter's choices say it)
    # The rows come from a statement that reads the name's column, not the snapshot's JSON.
    listings = [statement for statement, names in read if "client_name" in names]
    assert listings and not [statement for statement in listings if "snapshot" in statement]
    assert "snapshot" not in [column for _statement, names in read for column in names]


def test_a_quoted_events_page_reads_no_snapshot_for_its_moves(client, coordinator, ready):
    event, _lots, _orgs = ready
    issue(client, event)
    event.status = EventStatus.QUOTED  # its moves now ask whether the latest version was accepted
    db.session.commit()
    event_id = event.id
    db.session.expunge_all()
    with results_read() as read:
        page = text(client.get(f"/evenements/{event_id}"))
    columns = [column for _statement, names in read for column in names]
    assert 'data-target="lost"' in page and 'data-target="won"' not in page  # not accepted: not won
    assert "snapshot" not in columns


def test_numbers_follow_each_other_without_gaps(
    client, coordinator, ready, make_event, make_client, make_category, make_organisation
):
    event, *_ = ready
    issue(client, event)
    other, *_ = build_ready_event(make_event, make_client, make_category, make_organisation, title="Autre")
    issue(client, other)
    year = utcnow().date().year
    assert latest(event).number == f"DEV-{year}-0001"
    assert latest(other).number == f"DEV-{year}-0002"


# --- sending and answering -----------------------------------------------------------------------


def send(client, quote):
    page = client.get(f"/devis/{quote.id}")
    return client.post(
        f"/devis/{quote.id}/envoyer", data={"csrf_token": csrf_token(page.get_data(as_text=True))}
    )


def portal_link(quote) -> str:
    message = db.session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.subject.contains(quote.number))
        .order_by(OutboxMessage.id.desc())
    ).first()
    match = re.search(r"http://localhost(/devis/acces/\S+)", message.body_text)
    return match.group(1)


def test_send_mails_the_pdf_and_a_portal_link(client, coordinator, ready):
    event, *_ = ready
    issue(client, event)
    quote = latest(event)
    assert send(client, quote).status_code == 302
    db.session.refresh(quote)
    assert quote.status == QuoteStatus.SENT
    assert db.session.get(Event, event.id).status == EventStatus.QUOTED
    message = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.subject.contains(quote.number))
    ).one()
    assert message.recipients == "achats@example.org"
    assert [(a.filename, a.data) for a in message.attachments] == [(f"{quote.number}-v1.pdf", quote.pdf)]
    assert "/devis/acces/" in message.body_text


def accept(anon, link, name="Camille Martin, cheffe de service", agreed=True, po="EJ-2026-77"):
    page = anon.get(link)
    data = {
        "a-name": name,
        "a-purchase_order": po,
        "a-accept": "1",
        "csrf_token": csrf_token(page.get_data(as_text=True)),
    }
    if agreed:
        data["a-agreed"] = "y"
    return anon.post(link, data=data)


def test_the_client_accepts_once_from_the_link(app, client, coordinator, ready):
    event, *_ = ready
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    link = portal_link(quote)
    anon = app.test_client()
    page = anon.get(link)
    assert page.status_code == 200 and "Accepter ce devis" in text(page)
    assert anon.get(link + "/pdf").data == quote.pdf
    response = accept(anon, link)
    assert response.status_code == 302
    db.session.refresh(quote)
    assert quote.status == QuoteStatus.ACCEPTED
    assert quote.accepted_by_name == "Camille Martin, cheffe de service"
    assert quote.accepted_ip == "127.0.0.1"
    assert quote.accepted_pdf_sha256 == quote.pdf_sha256
    assert quote.client_purchase_order == "EJ-2026-77"
    assert db.session.get(Event, event.id).status == EventStatus.WON
    notice = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.subject.contains("accepté"))
    ).one()
    assert "coordination@example.org" in notice.recipients
    again = accept(anon, link)
    assert again.status_code == 409
    assert "déjà été accepté" in text(again)


def test_accepting_needs_a_name_and_the_box(app, client, coordinator, ready):
    event, *_ = ready
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    anon = app.test_client()
    link = portal_link(quote)
    assert accept(anon, link, agreed=False).status_code == 400
    assert accept(anon, link, name="").status_code == 400
    db.session.refresh(quote)
    assert quote.status == QuoteStatus.SENT


def test_the_client_declines_with_a_reason(app, client, coordinator, ready):
    event, *_ = ready
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    anon, link = app.test_client(), portal_link(quote)
    page = anon.get(link)
    response = anon.post(
        link,
        data={
            "d-reason": "Budget dépassé",
            "d-decline": "1",
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 302
    db.session.refresh(quote)
    assert (quote.status, quote.declined_reason) == (QuoteStatus.DECLINED, "Budget dépassé")
    assert db.session.get(Event, event.id).status == EventStatus.LOST


def test_a_superseded_version_cannot_be_accepted(app, client, coordinator, ready):
    event, lots, _ = ready
    issue(client, event)
    first = latest(event)
    send(client, first)
    old_link = portal_link(first)
    line = db.session.scalar(sa.select(Line).where(Line.lot_id == lots[0].id).order_by(Line.position))
    line.unit_price = D("15.00")
    db.session.flush()
    issue(client, event)
    anon = app.test_client()
    assert "remplacée par la version 2" in text(anon.get(old_link))
    response = accept(anon, old_link)
    assert response.status_code == 409
    db.session.refresh(first)
    assert first.status == QuoteStatus.SUPERSEDED


def test_an_expired_quote_cannot_be_answered(app, client, coordinator, ready):
    event, *_ = ready
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    link = portal_link(quote)
    quote.issue_date = utcnow().date() - timedelta(days=40)
    quote.valid_until = utcnow().date() - timedelta(days=10)
    db.session.flush()
    anon = app.test_client()
    assert "a expiré" in text(anon.get(link))
    assert accept(anon, link).status_code == 409
    db.session.refresh(quote)
    assert quote.status == QuoteStatus.SENT


def test_a_forged_link_is_refused(app, client, coordinator, ready):
    event, *_ = ready
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    link = portal_link(quote)
    anon = app.test_client()
    forged = link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")
    response = anon.get(forged)
    assert response.status_code == 400
    assert "n'est pas valide" in text(response)


def test_clients_see_only_their_own_quotes(client, auth, coordinator, ready, make_user, make_client):
    event, *_ = ready
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    auth.logout()
    stranger = make_user("client", client=make_client(name="Autre client"))
    auth.login(stranger.email)
    assert client.get(f"/mes-devis/{quote.id}").status_code == 403
    assert client.get(f"/devis/{quote.id}").status_code == 403
    auth.logout()
    owner = make_user("client", client=event.client)
    auth.login(owner.email)
    assert client.get(f"/mes-devis/{quote.id}").status_code == 200
    assert quote.number in text(client.get("/mes-devis"))


def test_cli_lists_every_version(runner, client, coordinator, ready):
    event, lots, _ = ready
    issue(client, event)
    line = db.session.scalar(sa.select(Line).where(Line.lot_id == lots[0].id).order_by(Line.position))
    line.unit_price = D("15.00")
    db.session.flush()
    issue(client, event)
    result = runner.invoke(args=["quotes", "list"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    number = latest(event).number
    assert lines[0].startswith(f"{number}\tv1\tRemplacé\tNantes Métropole\t")
    assert lines[1].startswith(f"{number}\tv2\tÉmis, à envoyer\tNantes Métropole\t")
    # v2: 400 × 15,00 → food 6 243,75 (VAT 624,38), books 19,25, 20 % on 650 + fee 579,50 → 245,90.
    assert lines[1].replace("\u202f", " ").replace("\xa0", " ").endswith("\t8 712,78 €")


def test_joint_consortium_rounds_vat_per_member(
    make_event, make_client, make_category, make_organisation, make_user
):
    from offers.models import BillingMode

    event, _lots, _ = build_ready_event(
        make_event, make_client, make_category, make_organisation, mode=BillingMode.JOINT_CONSORTIUM
    )
    quote = service.issue_quote(event, make_user("coordinator"))
    groups = {g.rate: (g.net, g.vat) for g in service.quote_totals(quote).groups}
    # Each member sells under its own regime: Méli-Mélo (exempt) 6 043,75 and Yves Monteil (franchise)
    # 650 at 0 %, whatever their lines stored; L'Équipage 350 at 5,5 %; the fee 563,50 at 20 %.
    assert groups == {
        D("0"): (D("6693.75"), D("0.00")),
        D("0.055"): (D("350.00"), D("19.25")),
        D("0.2"): (D("563.50"), D("112.70")),
    }
    assert quote.total_vat == D("19.25") + D("112.70")
    mentions = {ql.organisation_name: ql.vat_mention for ql in quote.lines if ql.kind == "line"}
    assert mentions == {
        "Méli-Mélo": "Exonération de TVA, article 261-7-1° du CGI",
        "L'Équipage": None,
        "Yves Monteil": "TVA non applicable, art. 293 B du CGI",
    }


# --- the per-actor annex adds up to the quote ------------------------------------------------------


def annex_quote(mode: str, lines: list[tuple[str, str, str]]) -> Quote:
    """An in-memory quote: ``(actor, net, rate)`` lines; ``"fee"`` as actor makes the fee line."""
    quote = Quote(snapshot={"event": {"billing_mode": mode}, "actors": {}})
    for position, (actor, net, rate) in enumerate(lines):
        fee = actor == "fee"
        quote.lines.append(
            QuoteLine(
                position=position,
                kind="fee" if fee else "line",
                organisation_id=None if fee else ord(actor[0]),  # one id per actor
                organisation_name="Les Ecossolies" if fee else actor,
                description="x",
                quantity=D("1"),
                unit="forfait",
                unit_price=D(net),
                vat_rate=D(rate),
                net=D(net),
            )
        )
    return quote


ANNEX_CASES = [
    # Joint consortium: each member rounds its own VAT, and that is what the quote adds up:
    # two actors at 0.05 € each, 10 %, give 0.01 each (one seller would give 0.01 in all).
    ("joint_consortium", [("A", "0.05", "0.10"), ("B", "0.05", "0.10")], {"A": "0.01", "B": "0.01"}, "0.02"),
    (
        "joint_consortium",
        [("A", "33.33", "0.20"), ("B", "33.33", "0.20"), ("B", "10.05", "0.055"), ("fee", "6.19", "0.20")],
        {"A": "6.67", "B": "7.22", "Coordination (Les Ecossolies)": "1.24"},
        "15.13",
    ),
]


@pytest.mark.parametrize("mode,lines,vat,total_vat", ANNEX_CASES)
def test_the_joint_annex_rows_add_up_to_the_quote_totals(mode, lines, vat, total_vat):
    quote = annex_quote(mode, lines)
    rows = service.breakdown(quote)
    totals = service.quote_totals(quote)
    assert {r["name"]: r["vat"] for r in rows} == {name: D(v) for name, v in vat.items()}
    assert totals.vat == D(total_vat)
    assert sum(r["net"] for r in rows) == totals.net
    assert sum(r["vat"] for r in rows) == totals.vat
    assert sum(r["gross"] for r in rows) == totals.gross


def test_the_single_contractor_annex_is_internal_nets_without_vat():
    """One seller (the coordinator): the actors are its suppliers; no VAT per actor is shown."""
    quote = annex_quote(
        "single_contractor", [("A", "0.05", "0.10"), ("B", "0.05", "0.10"), ("fee", "6.19", "0.20")]
    )
    rows = service.breakdown(quote)
    assert [(r["name"], r["net"]) for r in rows] == [
        ("A", D("0.05")),
        ("B", D("0.05")),
        ("Coordination (Les Ecossolies)", D("6.19")),
    ]
    assert all("vat" not in r and "gross" not in r for r in rows)
    assert service.quote_totals(quote).vat == D("0.01") + D("1.24")  # VAT rounded once per rate


def test_the_client_never_sees_a_version_that_was_not_sent(client, auth, coordinator, ready, make_user):
    event, lots, _ = ready
    issue(client, event)
    unsent = latest(event)
    line = db.session.scalar(sa.select(Line).where(Line.lot_id == lots[0].id).order_by(Line.position))
    line.unit_price = D("15.00")
    db.session.flush()
    issue(client, event)
    sent = latest(event)
    assert send(client, sent).status_code == 302
    db.session.refresh(unsent)
    assert (unsent.version, unsent.status, sent.version) == (1, QuoteStatus.SUPERSEDED, 2)
    auth.logout()
    owner = make_user("client", client=event.client)
    auth.login(owner.email)
    listing = text(client.get("/mes-devis"))
    assert f"/mes-devis/{sent.id}" in listing
    assert f"/mes-devis/{unsent.id}" not in listing
    assert "Remplacé" not in listing
    assert client.get(f"/mes-devis/{unsent.id}").status_code == 403
    assert client.get(f"/mes-devis/{unsent.id}/pdf").status_code == 403
    assert client.get(f"/mes-devis/{sent.id}/pdf").data == sent.pdf


def waiting_box(client) -> tuple[str, list[str]]:
    """The quotes list's two boxes: « n · total TTC » waiting for an answer, and the numbers of
    those ending within 7 days, in their order."""
    page = text(client.get("/devis"))
    kpi = re.search(r'En attente de réponse</div><div class="kpi">([^<]*)</div>', page).group(1)
    box = page.split("Expirent dans les 7 jours", 1)[1].split("</div></div>", 1)[0]
    return " ".join(kpi.split()), re.findall(r">(DEV-[\d-]+) v1</a>", box)


def test_the_waiting_quotes_box_counts_every_sent_quote_and_lists_the_soonest_to_end(
    client, coordinator, make_event
):
    """Counted and added up: every sent quote (not a draft, an accepted, a declined or an expired
    one). Listed: the sent ones ending within 7 days or already ended, soonest first, ten at most —
    twelve end within the week here, and one later sent quote is counted but not listed."""
    from offers.views.quotes import EXPIRING_SHOWN

    assert waiting_box(client) == ("0 · 0,00 € TTC", [])
    today = utcnow().date()
    made = iter(range(1, 100))

    def quote(status: QuoteStatus, days: int, gross: str) -> str:
        n = next(made)
        number = f"DEV-2026-{n:04d}"
        db.session.add(
            Quote(
                event_id=make_event().id,
                number=number,
                version=1,
                status=status,
                issue_date=today - timedelta(days=20),
                valid_until=today + timedelta(days=days),
                total_net=D(gross),
                total_vat=D("0"),
                total_gross=D(gross),
            )
        )
        return number

    # Sent: ending in 3 days, ended yesterday, ending in 8 and in 30 days; and not sent.
    first = [quote(QuoteStatus.SENT, 3, "100.10"), quote(QuoteStatus.SENT, -1, "100.10")]
    later = [quote(QuoteStatus.SENT, 8, "0.05"), quote(QuoteStatus.SENT, 30, "1000.00")]
    for status in (QuoteStatus.DRAFT, QuoteStatus.ACCEPTED, QuoteStatus.DECLINED, QuoteStatus.EXPIRED):
        quote(status, 1, "5000.00")
    db.session.commit()
    assert waiting_box(client) == ("4 · 1 200,25 € TTC", [first[1], first[0]])
    # Ten more ending within the week (in 7, 6 … −2 days): the ten soonest of the twelve.
    more = {days: quote(QuoteStatus.SENT, days, "100.10") for days in range(7, -3, -1)}
    db.session.commit()
    kpi, listed = waiting_box(client)
    assert kpi == "14 · 2 201,25 € TTC"  # 12 × 100,10 + 0,05 + 1 000,00
    # Soonest first; on the same day, the one made first.
    within = [(3, first[0]), (-1, first[1])] + [(days, number) for days, number in more.items()]
    soonest = [number for _days, number in sorted(within, key=lambda pair: (pair[0], pair[1]))]
    assert listed == soonest[:EXPIRING_SHOWN] and len(soonest) == 12 and EXPIRING_SHOWN == 10
    assert not set(later) & set(listed)
