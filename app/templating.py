"""The templates' context: what a template's call of a function costs.

Jinja runs every call written in a template (``{{ _("Total HT") }}``, ``{{ url_for(…) }}``,
``{{ label(a.status) }}``, ``{{ lot_url(lot.id) }}``) through :meth:`jinja2.runtime.Context.call`,
which asks the callable, and its ``__call__``, whether it wants the context, the evaluation context
or the environment passed first (what ``pass_context`` and its kind set). An event page makes about
460 such calls: the asking cost 1 to 2 µs each, more than most of the functions called (a filter,
resolved when the template is compiled, costs nothing of the kind).

:class:`TemplateContext` reads the answer at once for the callables pages call: functions and bound
methods (what they carry, in one dictionary lookup), built-in functions and methods (which carry
nothing), and instances of a class whose ``__call__`` is a plain function and whose instances have
no attribute dictionary (e.g. :class:`app.urls.UrlPattern`; checked once per class). Each is called
as Jinja would call it: the evaluation context or the environment first when it asks for it, the
same arguments, ``StopIteration`` read as undefined. A callable that wants the whole context, and
anything else (macros, other objects), goes through Jinja's own ``call``.
"""

from __future__ import annotations

from functools import lru_cache
from types import BuiltinFunctionType, FunctionType, MethodType

from jinja2.runtime import Context
from jinja2.utils import _PassArg

#: What ``pass_context``, ``pass_eval_context`` and ``pass_environment`` set on a function.
_PASS_ARG = "jinja_pass_arg"  # noqa: S105 - an attribute's name, not a password
#: Stands for "ask Jinja": the callable's answer was not read here.
_ASK_JINJA = object()


@lru_cache(maxsize=256)
def _plain_class(kind: type) -> bool:
    """Whether calling an instance of ``kind`` passes nothing first, whatever the instance: its
    ``__call__`` is a function that asks for nothing, the class carries no answer of its own, and
    its instances have no attribute dictionary to carry one."""
    # The class's own __call__, else type's (not a function).
    call = getattr(kind, "__call__", None)  # noqa: B004 - the method itself, not whether it is callable
    return (
        isinstance(call, FunctionType)
        and _PASS_ARG not in call.__dict__
        and not hasattr(kind, _PASS_ARG)
        and kind.__dictoffset__ == 0
    )


def _pass_arg(obj):
    """What ``obj`` asks to be passed first (``None``: nothing), or :data:`_ASK_JINJA`."""
    kind = type(obj)
    if kind is FunctionType:
        return obj.__dict__.get(_PASS_ARG)
    if kind is MethodType:
        function = obj.__func__
        return function.__dict__.get(_PASS_ARG) if type(function) is FunctionType else _ASK_JINJA
    if kind is BuiltinFunctionType:
        return None
    if _plain_class(kind):
        return None
    return _ASK_JINJA


class TemplateContext(Context):
    def call(__self, __obj, *args, **kwargs):
        pass_arg = _pass_arg(__obj)
        if pass_arg is _PassArg.eval_context:
            args = (__self.eval_ctx, *args)
        elif pass_arg is _PassArg.environment:
            args = (__self.environment, *args)
        elif pass_arg is not None:  # the whole context (derived for loops and blocks), or not read here
            return Context.call(__self, __obj, *args, **kwargs)
        if kwargs:
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception"
            )


def use_template_context(app) -> None:
    app.jinja_env.context_class = TemplateContext
