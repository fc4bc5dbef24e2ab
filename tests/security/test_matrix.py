"""Role × route matrix: every rule of ``app.url_map``, every method, every role, the exact status.

The URLs point at tenant A's objects (organisation A, client X; see ``tests/security/world.py``).
``actor`` and ``client`` are tenant A's people, ``other_actor`` and ``other_client`` tenant B's: a
2xx for them on tenant A's objects is a leak. Every request carries a valid CSRF token (CSRF has its
own test below) and an empty form, and runs in a savepoint rolled back afterwards, so each role meets
the same world. Every page, CSV or PDF a person of one tenant reads is also searched for the other
tenant's markers (event titles, client names, line descriptions).

``JOINT`` does the same on a second world where the joint-invoicing, self-billing and mandate routes
succeed, one row per request with the form it posts.

A rule that is not in ``MATRIX`` fails ``test_every_route_is_in_the_matrix``: a new route gets its
row, with the status each role must get, when it is written.

Statuses: ``L`` is a redirect to the login page; a number is the exact status.
Set ``MATRIX_PRINT=1`` to print the statuses the app gives, in this table's format.
"""

from __future__ import annotations

import io
import os
import re
import secrets

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer
from pypdf.errors import PdfReadError

from app.extensions import db
from invoicing.models import BillingMandate, Invoice, SelfBillingReview
from tests.invoicing.test_joint import PDF, pdf_text
from tests.security.world import MARKERS_A, MARKERS_B, build_joint_world, build_world

ROLES = ("anonymous", "admin", "coordinator", "treasurer", "actor", "other_actor", "client", "other_client")

#: Which world object each URL argument takes, unless the row says otherwise.
ARGS = {
    "event_id": "event",
    "lot_id": "lot",
    "category_id": "category",
    "assignment_id": "assignment",
    "line_id": "line",
    "quote_id": "quote",
    "invoice_id": "invoice",
    "payout_id": "payout",
    "organisation_id": "organisation",
    "client_id": "client",
    "chain_id": "chain",
    "link_id": "chain_link",
    "slug": "organisation_slug",
    "token": "quote_token",
    "mandate_id": "mandate",
    "user_id": "user",
}
#: Fixed URL arguments.
VALUES = {
    "/static/<path:filename>": {"filename": "maillage.css"},
    "/bootstrap/static/<path:filename>": {"filename": "css/bootstrap.min.css"},
    "/langue/<code>": {"code": "en"},
    "/acteurs/export.<fmt>": {"fmt": "csv"},
    "/acteurs/import/modele.<fmt>": {"fmt": "csv"},
    "/evenements/<int:event_id>/facturation/fiche-marche.<any(pdf, csv):kind>": {"kind": "csv"},
    "/indicateurs/coordination/<any(acteurs, collaborations):table>.csv": {"table": "acteurs"},
    "/indicateurs/tresorerie/<any(reversements, creances):table>.csv": {"table": "creances"},
}

# rule: ({method: statuses in ROLES order}, {argument: world object} overriding ARGS)
#                        anon admin coord treas actor other_actor client other_client
MATRIX: dict[str, tuple[dict[str, str], dict[str, str]]] = {}


def _row(rule: str, args: dict | None = None, **methods: str) -> None:
    MATRIX[rule] = (methods, args or {})


# fmt: off
# Staff pages: staff in, the rest out. Coordination writes; treasury reads.
_row("/", GET="200 302 302 302 302 302 302 302")
_row("/tableau-de-bord", GET="L 200 200 200 200 200 200 200")
_row("/acteurs", GET="L 200 200 200 403 403 403 403")
_row("/acteurs/<int:organisation_id>", GET="L 200 200 200 403 403 403 403")
# A card's logo: staff and the card's own people (organisation B's actor is refused).
_row("/acteurs/<int:organisation_id>/logo", GET="L 200 200 200 200 403 403 403")
_row("/acteurs/<int:organisation_id>/modifier", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/acteurs/export.<fmt>", GET="L 200 200 200 403 403 403 403")
_row("/acteurs/import", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/acteurs/import/confirmer", POST="L 400 400 403 403 403 403 403")
_row("/acteurs/nouveau", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/admin/parametres", GET="L 200 403 403 403 403 403 403")
_row("/admin/utilisateurs", GET="L 200 403 403 403 403 403 403")
# Assignments, each on the assignment its action expects (so coordination's answer is the action's).
_row("/affectations/<int:assignment_id>/inviter", {"assignment_id": "proposed"}, POST="L 302 302 403 403 403 403 403")
_row("/affectations/<int:assignment_id>/relancer", {"assignment_id": "invited"}, POST="L 302 302 403 403 403 403 403")
_row("/affectations/<int:assignment_id>/retirer", POST="L 302 302 403 403 403 403 403")
_row("/affectations/<int:assignment_id>/supprimer", {"assignment_id": "proposed"}, POST="L 302 302 403 403 403 403 403")
# The public directory: everyone.
_row("/annuaire", GET="200 200 200 200 200 200 200 200")
_row("/annuaire/<slug>", GET="200 200 200 200 200 200 200 200")
_row("/annuaire/<slug>/logo", GET="200 200 200 200 200 200 200 200")
_row("/annuaire/chaines", GET="200 200 200 200 200 200 200 200")
_row("/annuaire/chaines/<slug>", {"slug": "chain_slug"}, GET="200 200 200 200 200 200 200 200")
_row("/bootstrap/static/<path:filename>", GET="200 200 200 200 200 200 200 200")
_row("/static/<path:filename>", GET="200 200 200 200 200 200 200 200")
_row("/health", GET="200 200 200 200 200 200 200 200")
_row("/categories", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/categories/<int:category_id>/modifier", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/chaines", GET="L 200 200 403 403 403 403 403")
_row("/chaines/", GET="L 200 200 403 403 403 403 403")
_row("/chaines/<int:chain_id>/acteurs", POST="L 400 400 403 403 403 403 403")
_row("/chaines/<int:chain_id>/acteurs/<int:link_id>/deplacer", POST="L 400 400 403 403 403 403 403")
# An empty form carries no version: the note's form answers a conflict (409), like every edit form.
_row("/chaines/<int:chain_id>/acteurs/<int:link_id>/note", POST="L 409 409 403 403 403 403 403")
_row("/chaines/<int:chain_id>/acteurs/<int:link_id>/retirer", POST="L 302 302 403 403 403 403 403")
_row("/chaines/<int:chain_id>/deplacer", POST="L 400 400 403 403 403 403 403")
_row("/chaines/<int:chain_id>/modifier", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/chaines/<int:chain_id>/supprimer", GET="L 200 200 403 403 403 403 403", POST="L 302 302 403 403 403 403 403")
_row("/chaines/nouvelle", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/clients", GET="L 200 200 200 403 403 403 403")
_row("/clients/<int:client_id>", GET="L 200 200 200 403 403 403 403")
_row("/clients/<int:client_id>/modifier", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/clients/nouveau", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
# Logging in: a logged-in user is sent to the dashboard; an empty form is a 400.
_row("/connexion", GET="200 302 302 302 302 302 302 302", POST="400 302 302 302 302 302 302 302")
_row("/connexion/lien", GET="200 200 200 200 200 200 200 200", POST="400 400 400 400 400 400 400 400")
_row("/deconnexion", POST="302 302 302 302 302 302 302 302")
_row("/langue/<code>", POST="302 302 302 302 302 302 302 302")
# The login link of organisation A's actor: whoever holds it sees the confirmation page.
_row("/lien/<token>", {"token": "magic_token"}, GET="200 200 200 200 200 200 200 200", POST="302 302 302 302 302 302 302 302")
# Quotes: staff read them, coordination sends them; the client answers its own only.
_row("/devis", GET="L 200 200 200 403 403 403 403")
_row("/devis/<int:quote_id>", GET="L 200 200 200 403 403 403 403")
_row("/devis/<int:quote_id>/envoyer", POST="L 302 302 403 403 403 403 403")
_row("/devis/<int:quote_id>/pdf", GET="L 200 200 200 403 403 403 403")
# The signed link of the e-mail is the client's key: whoever holds it reads that version.
_row("/devis/acces/<token>", GET="200 200 200 200 200 200 200 200", POST="400 400 400 400 400 400 400 400")
_row("/devis/acces/<token>/pdf", GET="200 200 200 200 200 200 200 200")
_row("/mes-devis", GET="L 403 403 403 403 403 200 200")
_row("/mes-devis/<int:quote_id>", GET="L 403 403 403 403 403 200 403", POST="L 403 403 403 403 403 400 403")
_row("/mes-devis/<int:quote_id>/pdf", GET="L 403 403 403 403 403 200 403")
_row("/evenements", GET="L 200 200 200 403 403 403 403")
_row("/evenements/nouveau", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/evenements/<int:event_id>", GET="L 200 200 200 403 403 403 403")
_row("/evenements/<int:event_id>/historique", GET="L 200 200 200 403 403 403 403")
_row("/evenements/<int:event_id>/devis", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/evenements/<int:event_id>/dupliquer", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/evenements/<int:event_id>/inviter-tous", POST="L 400 400 403 403 403 403 403")
_row("/evenements/<int:event_id>/lots/nouveau", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/evenements/<int:event_id>/modifier", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/evenements/<int:event_id>/statut", POST="L 400 400 403 403 403 403 403")
# Money: staff read, the treasury (admin, treasurer) issues and records; coordination is refused.
_row("/evenements/<int:event_id>/facturation", GET="L 200 200 200 403 403 403 403")
_row("/evenements/<int:event_id>/facturation/acompte", POST="L 409 403 409 403 403 403 403")
_row("/evenements/<int:event_id>/facturation/finale", POST="L 409 403 409 403 403 403 403")
_row("/evenements/<int:event_id>/releves/<int:organisation_id>", GET="L 200 200 200 403 403 403 403")
_row("/factures", GET="L 200 200 200 403 403 403 403")
_row("/factures/<int:invoice_id>", GET="L 200 200 200 403 403 403 403")
_row("/factures/<int:invoice_id>/avoir", POST="L 400 403 400 403 403 403 403")
_row("/factures/<int:invoice_id>/paiements", POST="L 400 403 400 403 403 403 403")
_row("/factures/<int:invoice_id>/pdf", GET="L 200 200 200 403 403 403 403")
_row("/paiements", GET="L 200 200 200 403 403 403 403")
_row("/reversements", GET="L 200 200 200 403 403 403 403")
_row("/reversements/<int:payout_id>/payer", POST="L 303 403 303 403 403 403 403")
# Lots and lines of the open event: coordination; the matching weights: admin only.
_row("/lignes/<int:line_id>/modifier", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/lignes/<int:line_id>/supprimer", POST="L 400 400 403 403 403 403 403")
_row("/lots/<int:lot_id>/affectations", POST="L 400 400 403 403 403 403 403")
_row("/lots/<int:lot_id>/annuler", POST="L 302 302 403 403 403 403 403")
_row("/lots/<int:lot_id>/deplacer", POST="L 400 400 403 403 403 403 403")
_row("/lots/<int:lot_id>/inviter-tous", POST="L 302 302 403 403 403 403 403")
_row("/lots/<int:lot_id>/lignes/nouvelle", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/lots/<int:lot_id>/modifier", GET="L 200 200 403 403 403 403 403", POST="L 400 400 403 403 403 403 403")
_row("/lots/<int:lot_id>/ponderations", POST="L 400 403 403 403 403 403 403")
_row("/lots/<int:lot_id>/rouvrir", POST="L 409 409 403 403 403 403 403")
_row("/lots/<int:lot_id>", GET="L 200 200 200 403 403 403 403")
_row("/lots/<int:lot_id>/suggestions", GET="L 200 200 200 403 403 403 403")
_row("/reponses-attendues", GET="L 200 200 200 403 403 403 403")
# The actor portal: organisation A's actor on its own assignments and lines; B's gets 403 (404 for a
# statement of an event it has no payout on, like an unknown one). An empty form posted is a 400.
_row("/ma-fiche", GET="L 403 403 403 200 200 403 403", POST="L 403 403 403 409 409 403 403")
_row("/portail/lots", GET="L 403 403 403 200 200 403 403")
_row("/portail/affectations/<int:assignment_id>", GET="L 403 403 403 200 403 403 403")
_row("/portail/affectations/<int:assignment_id>/lignes/nouvelle", GET="L 403 403 403 200 403 403 403", POST="L 403 403 403 400 403 403 403")
_row("/portail/affectations/<int:assignment_id>/reponse", {"assignment_id": "invited"}, POST="L 403 403 403 400 403 403 403")
_row("/portail/lignes/<int:line_id>/modifier", GET="L 403 403 403 200 403 403 403", POST="L 403 403 403 400 403 403 403")
_row("/portail/lignes/<int:line_id>/supprimer", POST="L 403 403 403 400 403 403 403")
_row("/portail/releves", GET="L 403 403 403 200 200 403 403")
_row("/portail/releves/<int:event_id>", GET="L 403 403 403 200 404 403 403")
# Actor import: its template is coordination's, like the import itself.
_row("/acteurs/import/modele.<fmt>", GET="L 200 200 403 403 403 403 403")
# Passwords: one's own for anyone logged in; a reset by the admin only; the reset link is the key.
_row("/mon-compte/mot-de-passe", GET="L 200 200 200 200 200 200 200", POST="L 400 400 400 400 400 400 400")
_row("/admin/utilisateurs/<int:user_id>/reinitialiser", POST="L 302 403 403 403 403 403 403")
_row("/mot-de-passe/<token>", {"token": "reset_token"}, GET="200 200 200 200 200 200 200 200", POST="400 400 400 400 400 400 400 400")
# A client's portal access: coordination.
_row("/clients/<int:client_id>/acces", POST="L 400 400 403 403 403 403 403")
# Dashboards: each to its own side of the staff; the admin's to the admin.
_row("/indicateurs/administration", GET="L 200 403 403 403 403 403 403")
_row("/indicateurs/coordination", GET="L 200 200 403 403 403 403 403")
_row("/indicateurs/tresorerie", GET="L 200 403 200 403 403 403 403")
# Their complete lists, as CSV: the same sides.
_row("/indicateurs/coordination/<any(acteurs, collaborations):table>.csv", GET="L 200 200 403 403 403 403 403")
_row("/indicateurs/tresorerie/<any(reversements, creances):table>.csv", GET="L 200 403 200 403 403 403 403")
# An event's impact report: staff read it, coordination publishes and withdraws its link; whoever
# holds the link reads the public version.
_row("/evenements/<int:event_id>/bilan", GET="L 200 200 200 403 403 403 403")
_row("/evenements/<int:event_id>/bilan.pdf", GET="L 200 200 200 403 403 403 403")
_row("/evenements/<int:event_id>/bilan/partager", POST="L 302 302 403 403 403 403 403")
_row("/evenements/<int:event_id>/bilan/retirer", POST="L 302 302 403 403 403 403 403")
_row("/bilan/<token>", {"token": "report_token"}, GET="200 200 200 200 200 200 200 200")
_row("/bilan/<token>/pdf", {"token": "report_token"}, GET="200 200 200 200 200 200 200 200")
# Treasurer exports and the chart of accounts: the treasury.
_row("/tresorerie/exports", GET="L 200 403 200 403 403 403 403")
_row("/tresorerie/comptes", GET="L 200 403 200 403 403 403 403", POST="L 400 403 400 403 403 403 403")
_row("/evenements/<int:event_id>/facturation/export.zip", GET="L 200 403 200 403 403 403 403")
# Joint-consortium invoicing. The world's won event is invoiced by the platform, not in joint mode:
# the joint routes and the contract sheet answer 404 to the roles allowed in (the treasury issues,
# staff read), 403 to the others. Chorus Pro choices: staff. ``JOINT`` below has them succeed.
_row("/evenements/<int:event_id>/facturation/groupement", POST="L 404 403 404 403 403 403 403")
_row("/evenements/<int:event_id>/facturation/groupement/facture-membre", POST="L 404 403 404 403 403 403 403")
_row("/evenements/<int:event_id>/facturation/recapitulatif.pdf", GET="L 404 404 404 403 403 403 403")
_row("/evenements/<int:event_id>/facturation/fiche-marche.<any(pdf, csv):kind>", GET="L 404 404 404 403 403 403 403")
_row("/evenements/<int:event_id>/facturation/chorus", POST="L 302 302 302 403 403 403 403")
_row("/evenements/<int:event_id>/autofactures/<int:organisation_id>", POST="L 302 403 302 403 403 403 403")
# Billing mandates (organisation A's signed one): coordination records and revokes, staff read; A's
# actor reads and revokes its own, B's gets 404 (like an unknown mandate). An empty revocation (no
# reason) is refused with a message on the page it came from (303).
_row("/acteurs/<int:organisation_id>/mandat", POST="L 303 303 403 403 403 403 403")
_row("/mandats/<int:mandate_id>/pdf", GET="L 200 200 200 200 404 403 403")
_row("/mandats/<int:mandate_id>/revoquer", POST="L 303 303 403 303 404 403 403")
# The actor's invoicing portal. The world's invoice is the platform's to client X: no actor's PDF
# (404), and no self-billed invoice to answer (409, before any ownership question). ``JOINT`` below
# has them succeed.
_row("/portail/facturation", GET="L 403 403 403 200 200 403 403")
_row("/portail/facturation/mandat", POST="L 403 403 403 400 400 403 403")
_row("/portail/factures/<int:invoice_id>/pdf", GET="L 403 403 403 404 404 403 403")
_row("/portail/autofactures/<int:invoice_id>/reponse", POST="L 403 403 403 409 409 403 403")
# Briefing sheets: the actor's own (B's actor has no lot on A's event: 404); staff any actor's PDF.
_row("/portail/evenements/<int:event_id>/feuille-de-route", GET="L 403 403 403 200 404 403 403")
_row("/portail/evenements/<int:event_id>/feuille-de-route.pdf", GET="L 403 403 403 200 404 403 403")
_row("/evenements/<int:event_id>/feuilles-de-route/<int:organisation_id>", GET="L 200 200 200 403 403 403 403")
# fmt: on

# --- the joint-invoicing world -------------------------------------------------------------------
# The same roles on ``build_joint_world``, where the joint-invoicing, self-billing and mandate routes
# succeed: each row is a request with its form (``Ref``: a world id; bytes: an uploaded PDF), so a
# route may have several rows. Like above, each request runs in a savepoint rolled back afterwards.


class Ref(str):
    """A form value taken from the world: ``world.ids[key]``."""


#: (rule, {argument: world object}, {argument: fixed value}, form, {method: statuses})
JOINT: list[tuple[str, dict[str, str], dict[str, str], dict, dict[str, str]]] = []
#: The routes ``JOINT`` must show succeeding (a 200, or a redirect that is not to the login page).
#: Issuing a self-billed invoice and reading a signed mandate succeed in ``MATRIX``.
JOINT_SUCCESSES = (
    "/evenements/<int:event_id>/facturation/groupement",
    "/evenements/<int:event_id>/facturation/groupement/facture-membre",
    "/evenements/<int:event_id>/facturation/recapitulatif.pdf",
    "/evenements/<int:event_id>/facturation/fiche-marche.<any(pdf, csv):kind>",
    "/evenements/<int:event_id>/facturation/chorus",
    "/portail/factures/<int:invoice_id>/pdf",
    "/portail/autofactures/<int:invoice_id>/reponse",
    "/portail/facturation",
    "/portail/facturation/mandat",
    "/acteurs/<int:organisation_id>/mandat",
    "/mandats/<int:mandate_id>/revoquer",
)


def _joint(
    rule: str, args: dict, form: dict | None = None, fixed: dict | None = None, **methods: str
) -> None:
    JOINT.append((rule, args, fixed or {}, form or {}, methods))


# fmt: off
# The groupement's invoices: the treasury issues them. On the pending event everything that can be
# is issued; on the issued one only Yves Monteil (no mandate) is left, and the page says so (302).
_joint("/evenements/<int:event_id>/facturation/groupement", {"event_id": "joint_pending"}, {"operation_category": "services"}, POST="L 302 403 302 403 403 403 403")
_joint("/evenements/<int:event_id>/facturation/groupement", {"event_id": "joint_event"}, {"operation_category": "services"}, POST="L 302 403 302 403 403 403 403")
# Yves Monteil's own invoice, recorded by the treasury (its share of the quote, its PDF).
_joint("/evenements/<int:event_id>/facturation/groupement/facture-membre", {"event_id": "joint_event"}, {"organisation_id": Ref("joint_awaiting"), "number": "YM-12", "issue_date": "2026-04-20", "total_net": "650.00", "total_vat": "0.00", "total_gross": "650.00", "pdf": PDF}, POST="L 302 403 302 403 403 403 403")
# The member is the form's choice: never an organisation without a share (organisation B), nor one
# whose share is invoiced (organisation A, under its mandate): 409.
_joint("/evenements/<int:event_id>/facturation/groupement/facture-membre", {"event_id": "joint_event"}, {"organisation_id": Ref("other_organisation"), "number": "YM-12", "issue_date": "2026-04-20", "total_net": "650.00", "total_vat": "0.00", "total_gross": "650.00", "pdf": PDF}, POST="L 409 403 409 403 403 403 403")
_joint("/evenements/<int:event_id>/facturation/groupement/facture-membre", {"event_id": "joint_event"}, {"organisation_id": Ref("organisation"), "number": "YM-12", "issue_date": "2026-04-20", "total_net": "650.00", "total_vat": "0.00", "total_gross": "650.00", "pdf": PDF}, POST="L 409 403 409 403 403 403 403")
# No final invoice in the coordinator's name for a joint event (409); a credit note on a member's
# invoice, in the member's series: the treasury.
_joint("/evenements/<int:event_id>/facturation/finale", {"event_id": "joint_event"}, POST="L 409 403 409 403 403 403 403")
_joint("/factures/<int:invoice_id>/avoir", {"invoice_id": "joint_invoice"}, {"reason": "Erreur de quantité", "amount": "10.00"}, POST="L 302 403 302 403 403 403 403")
# The cover summary and the contract sheet (Chorus Pro): staff read.
_joint("/evenements/<int:event_id>/facturation/recapitulatif.pdf", {"event_id": "joint_event"}, GET="L 200 200 200 403 403 403 403")
_joint("/evenements/<int:event_id>/facturation/fiche-marche.<any(pdf, csv):kind>", {"event_id": "joint_event"}, fixed={"kind": "pdf"}, GET="L 200 200 200 403 403 403 403")
_joint("/evenements/<int:event_id>/facturation/fiche-marche.<any(pdf, csv):kind>", {"event_id": "joint_event"}, fixed={"kind": "csv"}, GET="L 200 200 200 403 403 403 403")
_joint("/evenements/<int:event_id>/facturation/chorus", {"event_id": "joint_event"}, {"chorus_circuit": "global", "einvoice_format": "pdfa"}, POST="L 302 302 302 403 403 403 403")
# The joint event's money pages, its member's invoice and the treasury's archive.
_joint("/evenements/<int:event_id>/facturation", {"event_id": "joint_event"}, GET="L 200 200 200 403 403 403 403")
_joint("/factures/<int:invoice_id>", {"invoice_id": "joint_invoice"}, GET="L 200 200 200 403 403 403 403")
_joint("/factures/<int:invoice_id>/pdf", {"invoice_id": "joint_invoice"}, GET="L 200 200 200 403 403 403 403")
_joint("/evenements/<int:event_id>/facturation/export.zip", {"event_id": "joint_event"}, GET="L 200 403 200 403 403 403 403")
# Self-billing: none in joint mode, and one only per actor and event (409).
_joint("/evenements/<int:event_id>/autofactures/<int:organisation_id>", {"event_id": "joint_event"}, {"operation_category": "services"}, POST="L 409 403 409 403 403 403 403")
_joint("/evenements/<int:event_id>/autofactures/<int:organisation_id>", {}, {"operation_category": "services"}, POST="L 409 403 409 403 403 403 403")
# The actor's portal: its invoices (issued in its name under its mandate, self-billed), those addressed
# to it (below), and nobody else's (another member's, the coordinator's fee: 404 like an unknown one).
_joint("/portail/facturation", {}, GET="L 403 403 403 200 200 403 403")
_joint("/portail/factures/<int:invoice_id>/pdf", {"invoice_id": "joint_invoice"}, GET="L 403 403 403 200 404 403 403")
_joint("/portail/factures/<int:invoice_id>/pdf", {"invoice_id": "self_billed"}, GET="L 403 403 403 200 404 403 403")
_joint("/portail/factures/<int:invoice_id>/pdf", {"invoice_id": "joint_shop_invoice"}, GET="L 403 403 403 404 404 403 403")
_joint("/portail/factures/<int:invoice_id>/pdf", {"invoice_id": "joint_fee_invoice"}, GET="L 403 403 403 404 404 403 403")
# The coordinator's commission invoice to organisation A (A is its buyer): A's actor reads it, B's gets
# 404; L'Équipage's commission is nobody's here. Staff read it on the invoice pages, the actor does not.
_joint("/portail/factures/<int:invoice_id>/pdf", {"invoice_id": "joint_commission"}, GET="L 403 403 403 200 404 403 403")
_joint("/portail/factures/<int:invoice_id>/pdf", {"invoice_id": "joint_shop_commission"}, GET="L 403 403 403 404 404 403 403")
_joint("/factures/<int:invoice_id>/pdf", {"invoice_id": "joint_commission"}, GET="L 200 200 200 403 403 403 403")
# A member is paid by the client, not paid out: no statement on the joint event in its portal (404),
# staff read the event's statement; the member's briefing sheet.
_joint("/portail/releves/<int:event_id>", {"event_id": "joint_event"}, GET="L 403 403 403 404 404 403 403")
_joint("/evenements/<int:event_id>/releves/<int:organisation_id>", {"event_id": "joint_event"}, GET="L 200 200 200 403 403 403 403")
_joint("/portail/evenements/<int:event_id>/feuille-de-route.pdf", {"event_id": "joint_event"}, GET="L 403 403 403 200 404 403 403")
# The client's quotes, the joint ones among them.
_joint("/mes-devis", {}, GET="L 403 403 403 403 403 200 200")
# Its self-billed invoice: organisation A's actor accepts it or contests it; B's actor is refused.
_joint("/portail/autofactures/<int:invoice_id>/reponse", {"invoice_id": "self_billed"}, {"accept": "y"}, POST="L 403 403 403 302 403 403 403")
_joint("/portail/autofactures/<int:invoice_id>/reponse", {"invoice_id": "self_billed"}, {"contest": "y", "reason": "Montant erroné"}, POST="L 403 403 403 302 403 403 403")
# A self-billed invoice is settled by the payout, not by a client's payment (409); only a self-billed
# invoice is answered (409, before any ownership question).
_joint("/factures/<int:invoice_id>/paiements", {"invoice_id": "self_billed"}, {"received_on": "2026-04-25", "amount": "10.00"}, POST="L 409 403 409 403 403 403 403")
_joint("/portail/autofactures/<int:invoice_id>/reponse", {"invoice_id": "joint_invoice"}, {"accept": "y"}, POST="L 403 403 403 409 409 403 403")
# Mandates: coordination records Yves Monteil's; an actor grants its own in the portal (organisation
# A already has one: refused, 400; B's actor has none); revoked by coordination or its own actor only.
_joint("/acteurs/<int:organisation_id>/mandat", {"organisation_id": "joint_awaiting"}, {"prefix": "YM", "valid_from": "2026-01-01", "document": PDF}, POST="L 302 302 403 403 403 403 403")
_joint("/portail/facturation/mandat", {}, {"prefix": "ZB", "valid_from": "2026-01-01", "agreed": "y"}, POST="L 403 403 403 400 302 403 403")
_joint("/mandats/<int:mandate_id>/revoquer", {}, {"reason": "Fin de la collaboration"}, POST="L 302 302 403 302 404 403 403")
_joint("/mandats/<int:mandate_id>/revoquer", {"mandate_id": "shop_mandate"}, {"reason": "Fin de la collaboration"}, POST="L 302 302 403 404 404 403 403")
# A mandate granted in the portal has no signed PDF: 404 for everyone (the signed one is in MATRIX).
_joint("/mandats/<int:mandate_id>/pdf", {"mandate_id": "shop_mandate"}, GET="L 404 404 404 404 404 403 403")
# fmt: on


# --- the world and the requests ------------------------------------------------------------------


@pytest.fixture
def world(make_event, make_client, make_category, make_organisation, make_user):
    return build_world(make_event, make_client, make_category, make_organisation, make_user)


@pytest.fixture
def joint_world(make_event, make_client, make_category, make_organisation, make_user):
    return build_joint_world(make_event, make_client, make_category, make_organisation, make_user)


def _csrf(app) -> tuple[str, str]:
    raw = secrets.token_hex(20)
    token = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)
    return raw, token


def _url(rule, world) -> str:
    values = dict(VALUES.get(rule.rule, {}))
    overrides = MATRIX.get(rule.rule, ({}, {}))[1]
    for name in rule.arguments - values.keys():
        values[name] = world.ids[overrides.get(name, ARGS[name])]
    return _build(rule, values)


def _build(rule, values) -> str:
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(value), path)
    return path


def request_as(
    app, client, role: str, world, method: str, url: str, data: dict | None = None, query: dict | None = None
):
    """One request as ``role`` with a valid CSRF token, inside a savepoint rolled back afterwards."""
    raw, token = _csrf(app)
    with client.session_transaction() as sess:
        sess.clear()
        sess["csrf_token"] = raw
        if role != "anonymous":
            sess["_user_id"] = world.users[role]
            sess["_fresh"] = True
    connection = db.session.get_bind()
    savepoint = connection.begin_nested()
    try:
        if method == "GET":
            response = client.get(url, query_string=query)
        else:
            response = client.post(url, data={**(data or {}), "csrf_token": token})
        response.get_data()
        response.close()
        return response
    finally:
        db.session.remove()
        if savepoint.is_active:
            savepoint.rollback()


def status_of(response) -> str:
    if response.status_code == 302 and response.headers["Location"].startswith("/connexion?next="):
        return "L"
    return str(response.status_code)


def _rules(app):
    return sorted(
        (rule for rule in app.url_map.iter_rules()),
        key=lambda rule: rule.rule,
    )


def _methods(rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


# --- the tests -----------------------------------------------------------------------------------


def test_every_route_is_in_the_matrix(app):
    rules = {(rule.rule, method) for rule in _rules(app) for method in _methods(rule)}
    listed = {(rule, method) for rule, (methods, _args) in MATRIX.items() for method in methods}
    assert sorted(rules - listed) == []
    assert sorted(listed - rules) == []


def test_every_role_gets_the_expected_status_on_every_route(app, world):
    before = _counts()
    db.session.commit()  # the world stays in the test's transaction; each request gets a savepoint
    client = app.test_client()
    printed, mismatches, leaks = [], [], []
    for rule in _rules(app):
        url = _url(rule, world)
        methods = MATRIX.get(rule.rule, ({}, {}))[0]
        answers = {}
        for method in _methods(rule):
            got = []
            for role in ROLES:
                response = request_as(app, client, role, world, method, url)
                got.append(status_of(response))
                text = _text(response) if response.status_code == 200 else None
                if text is not None and "token" not in rule.arguments:
                    leaks += _leaks(role, method, url, text)
            answers[method] = " ".join(got)
            expected = methods.get(method)
            if expected is not None and expected.split() != got:
                mismatches.append(f"{method} {url}\n    expected {expected}\n    got      {' '.join(got)}")
        printed.append(f"_row({rule.rule!r}, " + ", ".join(f'{m}="{s}"' for m, s in answers.items()) + ")")
    if os.environ.get("MATRIX_PRINT"):
        print("\n".join(printed))
    assert leaks == [], "\n".join(leaks)
    assert mismatches == [], "\n".join(mismatches)
    # Every request was rolled back: what the successful posts issued, recorded or granted is gone.
    assert _counts() == before


def _leaks(role: str, method: str, url: str, html: str) -> list[str]:
    foreign = {"actor": MARKERS_B, "client": MARKERS_B, "other_actor": MARKERS_A, "other_client": MARKERS_A}
    return [
        f"{role} reads {marker!r} on {method} {url}" for marker in foreign.get(role, ()) if marker in html
    ]


def test_every_post_without_a_csrf_token_is_refused(app, world):
    db.session.commit()
    client = app.test_client()
    refused = {}
    for rule in _rules(app):
        if "POST" not in rule.methods:
            continue
        url = _url(rule, world)
        with client.session_transaction() as sess:
            sess.clear()
            sess["_user_id"] = world.users["admin"]
        connection = db.session.get_bind()
        savepoint = connection.begin_nested()
        try:
            response = client.post(url, data={})
            response.close()
            refused[url] = response.status_code
        finally:
            db.session.remove()
            savepoint.rollback()
    assert {url: status for url, status in refused.items() if status != 400} == {}


def _form(form: dict, world) -> dict:
    """A row's form for one request: world ids read, a fresh upload for each PDF."""
    return {
        name: str(world.ids[value])
        if isinstance(value, Ref)
        else (io.BytesIO(value), "document.pdf")
        if isinstance(value, bytes)
        else value
        for name, value in form.items()
    }


def _counts() -> tuple[int, int, int]:
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Invoice, BillingMandate, SelfBillingReview)
    )


def _text(response) -> str | None:
    """What a person reads in a 200 answer: a page, a CSV, a PDF's text; ``None`` for anything else."""
    if response.mimetype in ("text/html", "text/csv"):
        return response.get_data(as_text=True)
    if response.mimetype == "application/pdf":
        try:
            return pdf_text(response.get_data())
        except PdfReadError:  # an uploaded file served as is (a signed mandate): its bytes
            return response.get_data().decode("latin-1")
    return None


def test_every_joint_row_is_a_route_and_every_joint_route_succeeds_somewhere(app):
    rules = {rule.rule: set(_methods(rule)) for rule in _rules(app)}
    assert [
        (rule, list(methods))
        for rule, _a, _f, _d, methods in JOINT
        if not methods.keys() <= rules.get(rule, set())
    ] == []
    succeeding = {
        rule
        for rule, _a, _f, _d, methods in JOINT
        for statuses in methods.values()
        if {"200", "302"} & set(statuses.split())
    }
    assert [rule for rule in JOINT_SUCCESSES if rule not in succeeding] == []


def test_joint_invoicing_routes_on_a_world_where_they_succeed(app, joint_world):
    world = joint_world
    before = _counts()
    db.session.commit()
    client = app.test_client()
    rules = {rule.rule: rule for rule in _rules(app)}
    printed, mismatches, leaks = [], [], []
    for rule, args, fixed, form, methods in JOINT:
        values = {
            name: world.ids[args.get(name, ARGS[name])] for name in rules[rule].arguments - fixed.keys()
        }
        url = _build(rules[rule], {**fixed, **values})
        for method, expected in methods.items():
            got = []
            for role in ROLES:
                response = request_as(app, client, role, world, method, url, data=_form(form, world))
                got.append(status_of(response))
                text = _text(response) if response.status_code == 200 else None
                if text is not None:
                    leaks += _leaks(role, method, url, text)
            printed.append(f"{method} {url} {' '.join(got)}")
            if expected.split() != got:
                mismatches.append(
                    f"{method} {url} {form}\n    expected {expected}\n    got      {' '.join(got)}"
                )
    if os.environ.get("MATRIX_PRINT"):
        print("\n".join(printed))
    assert leaks == [], "\n".join(leaks)
    assert mismatches == [], "\n".join(mismatches)
    # Every request was rolled back: what the successful posts issued, recorded or granted is gone.
    assert _counts() == before
