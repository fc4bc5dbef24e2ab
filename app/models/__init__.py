"""The shell's models. Importing this module registers them on the metadata."""

from app.models.audit import AuditEntry
from app.models.chains import Chain, ChainLink
from app.models.numbering import NumberSeries
from app.models.outbox import OutboxAttachment, OutboxMessage, OutboxStatus
from app.models.parties import (
    Category,
    Client,
    CoordinatorIdentity,
    LegalForm,
    Organisation,
    VatRegime,
    organisation_categories,
)
from app.models.security import LoginLinkRequest, MagicLink, ThrottleCounter
from app.models.settings import Setting
from app.models.stamps import DataStamp
from app.models.user import Role, User

__all__ = [
    "AuditEntry",
    "Category",
    "Chain",
    "ChainLink",
    "Client",
    "CoordinatorIdentity",
    "DataStamp",
    "LegalForm",
    "LoginLinkRequest",
    "MagicLink",
    "NumberSeries",
    "Organisation",
    "OutboxAttachment",
    "OutboxMessage",
    "OutboxStatus",
    "Role",
    "Setting",
    "ThrottleCounter",
    "User",
    "VatRegime",
    "organisation_categories",
]
