"""No view, template or service checks a role by hand: they ask the predicates of ``app.auth``
(``is_coordination``, ``is_staff``…) or the object rules of the permission modules.

The scan is lexical on purpose: a new ``current_user.role in (...)`` in a view, or ``'coordinator'``
in a template, fails here with its file and line, and the fix is to call (or add) a predicate in one
of the modules of ``PERMISSION_MODULES``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "offers", "invoicing", "reports")

#: The only modules that may name roles to decide who may do what.
PERMISSION_MODULES = {
    "app/auth/roles.py",
    "app/auth/__init__.py",
    "app/directory/permissions.py",
    "offers/permissions.py",
    "invoicing/permissions.py",
}

#: Modules that compare a user's role for something else than a permission check (none today; a
#: view never belongs here). SQL on the column (``User.role == Role.COORDINATOR``) is not flagged.
ROLE_DATA_MODULES: set[str] = set()

TEMPLATE_PATTERNS = [
    re.compile(r"current_user\.role\b"),
    re.compile(r"\.role(\.value)?\s*(==|!=|\bin\b|\bnot\s+in\b)"),
    re.compile(r"\brole(\.value)?\s+(not\s+)?in\s*\("),
    re.compile(r"""['"](admin|coordinator|treasurer)['"]"""),
]
#: Showing the user's role is not a check.
TEMPLATE_DISPLAY = re.compile(r"role_label\(\s*current_user\.role\s*\)")


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _python_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _is_view_module(path: Path) -> bool:
    return path.name == "views.py" or path.name.endswith("_views.py") or path.parent.name == "views"


def _owner(node: ast.Attribute) -> str:
    value = node.value
    return value.id if isinstance(value, ast.Name) else ""


def _is_user_role(node: ast.AST) -> bool:
    """``user.role``, ``current_user.role``, ``self.user.role``… (not ``User.role``, a SQL column)."""
    if isinstance(node, ast.Attribute) and node.attr == "role":
        owner = _owner(node) or (node.value.attr if isinstance(node.value, ast.Attribute) else "")
        return owner.endswith("user")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
        return len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value == "role"
    return False


def scan_python(source: str, name: str) -> list[str]:
    """Role checks written by hand in one module, as ``<name>:<line>: <what>`` (sorted)."""
    if name in PERMISSION_MODULES:
        return []
    found = []
    view = _is_view_module(Path(name))
    for node in ast.walk(ast.parse(source, filename=name)):
        if view and isinstance(node, ast.Name) and node.id == "Role":
            found.append(f"{name}:{node.lineno}: uses Role in a view")
        elif view and isinstance(node, ast.alias) and node.name == "Role":
            found.append(f"{name}:{node.lineno}: imports Role in a view")
        elif (
            view
            and isinstance(node, ast.Attribute)
            and node.attr == "role"
            and _owner(node) == "current_user"
        ):
            found.append(f"{name}:{node.lineno}: reads current_user.role in a view")
        elif name not in ROLE_DATA_MODULES and isinstance(node, ast.Compare):
            if any(_is_user_role(o) for o in [node.left, *node.comparators]):
                found.append(f"{name}:{node.lineno}: compares a user's role")
    return sorted(found)


def scan_template(text: str, name: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = TEMPLATE_DISPLAY.sub("", line)
        for pattern in TEMPLATE_PATTERNS:
            match = pattern.search(line)
            if match:
                found.append(f"{name}:{number}: {match.group(0)}")
    return found


def test_no_view_or_service_checks_a_role_by_hand():
    offences = [o for path in _python_files() for o in scan_python(path.read_text("utf-8"), _relative(path))]
    assert offences == []


def test_no_template_checks_a_role_by_hand():
    templates = sorted(p for p in (ROOT / "templates").rglob("*") if p.is_file())
    offences = [o for path in templates for o in scan_template(path.read_text("utf-8"), _relative(path))]
    assert offences == []


def test_the_allowed_modules_exist():
    """The allow-lists name real files (a renamed module must not silently widen them)."""
    assert sorted(m for m in PERMISSION_MODULES | ROLE_DATA_MODULES if not (ROOT / m).is_file()) == []


# --- the scan itself can fail ---------------------------------------------------------------------

HAND_WRITTEN_VIEW = """\
from app.models import Role
def v():
    if current_user.role in (Role.ADMIN, Role.COORDINATOR):
        pass
    ok = user.role == 'actor'
    also = getattr(user, "role", None) not in EDITORS
"""


def test_the_scan_catches_hand_written_checks_in_a_view():
    assert scan_python(HAND_WRITTEN_VIEW, "offers/views/x.py") == [
        "offers/views/x.py:1: imports Role in a view",
        "offers/views/x.py:3: compares a user's role",
        "offers/views/x.py:3: reads current_user.role in a view",
        "offers/views/x.py:3: uses Role in a view",
        "offers/views/x.py:3: uses Role in a view",
        "offers/views/x.py:5: compares a user's role",
        "offers/views/x.py:6: compares a user's role",
    ]


def test_the_scan_catches_comparisons_in_a_service_but_not_sql_columns():
    source = "q = select(User).where(User.role == Role.ACTOR)\nok = user.role in (Role.ADMIN,)\n"
    assert scan_python(source, "offers/services/x.py") == ["offers/services/x.py:2: compares a user's role"]
    assert scan_python(source, "offers/permissions.py") == []


def test_the_scan_catches_hand_written_checks_in_a_template():
    text = (
        "{{ role_label(current_user.role) }}\n"
        "{% if current_user.role in ('admin', 'coordinator') %}\n"
        "{% if user.role.value == x %}\n"
        "{% if is_coordination(current_user) %}\n"
    )
    assert scan_template(text, "t.html") == [
        "t.html:2: current_user.role",
        "t.html:2: .role in",
        "t.html:2: role in (",
        "t.html:2: 'admin'",
        "t.html:3: .role.value ==",
    ]
