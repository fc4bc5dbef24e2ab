"""Fixtures shared by the offers tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def coordinator(make_user, auth):
    """A coordinator, signed in (a module may define its own, e.g. with a name its pages print)."""
    user = make_user("coordinator")
    auth.login(user.email)
    return user
