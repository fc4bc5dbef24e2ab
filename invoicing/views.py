"""Invoicing: invoices, payments, payouts, exports."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template

from app.auth import treasury_required
from app.extensions import db
from invoicing.models import Invoice

bp = Blueprint("invoicing", __name__)


@bp.route("/factures")
@treasury_required
def invoice_list():
    invoices = db.session.scalars(
        sa.select(Invoice).order_by(Invoice.issue_date.desc(), Invoice.id.desc())
    ).all()
    return render_template("invoicing/invoice_list.html", invoices=invoices)
