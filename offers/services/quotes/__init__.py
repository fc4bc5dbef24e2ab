"""Quotes, by concern: :mod:`.issuing` (freeze a numbered, versioned snapshot of the offer),
:mod:`.document` (its figures, sections, annex and PDF), :mod:`.answering` (sending, the client's
acceptance or refusal, expiry) and :mod:`.versions` (what changed between two versions).

A version is immutable once issued: its parties, lines, totals and PDF (with its SHA-256) are stored
and never re-rendered. The PDF is stored just after the issuing transaction, and read through
:func:`quote_pdf`, which renders it from the frozen values if that step did not happen. Changing the offer means issuing a new version, which supersedes the previous
one (same number, version + 1). The names below are the package's public interface.
"""

from offers.services.quotes.answering import (
    InvalidQuoteLink,
    accept_quote,
    answer_refusal,
    decline_quote,
    expire_quotes,
    mark_sent,
    portal_token,
    quote_from_token,
    send_quote,
)
from offers.services.quotes.document import (
    LotSection,
    breakdown,
    members,
    party_details,
    priced_lines,
    purchase_order_on_file,
    quote_annex,
    quote_billing_mode,
    quote_pdf,
    quote_sections,
    quote_totals,
    render_quote_pdf,
    store_issued_pdf,
)
from offers.services.quotes.issuing import (
    DEFAULT_VALIDITY_DAYS,
    AlreadyIssued,
    QuoteNotReady,
    current_version,
    default_validity_days,
    issue_quote,
    issued_by_token,
    missing_for_quote,
)
from offers.services.quotes.versions import Change, diff_versions

__all__ = [
    "DEFAULT_VALIDITY_DAYS",
    "AlreadyIssued",
    "Change",
    "InvalidQuoteLink",
    "LotSection",
    "QuoteNotReady",
    "accept_quote",
    "answer_refusal",
    "breakdown",
    "current_version",
    "decline_quote",
    "default_validity_days",
    "diff_versions",
    "expire_quotes",
    "issue_quote",
    "issued_by_token",
    "mark_sent",
    "members",
    "missing_for_quote",
    "party_details",
    "portal_token",
    "priced_lines",
    "purchase_order_on_file",
    "quote_annex",
    "quote_billing_mode",
    "quote_from_token",
    "quote_pdf",
    "quote_sections",
    "quote_totals",
    "render_quote_pdf",
    "send_quote",
    "store_issued_pdf",
]
