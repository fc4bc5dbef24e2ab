"""Templates call functions through ``app.templating.TemplateContext``: the same results as Jinja's
own context for every kind of callable, whatever it asks to be passed first."""

from __future__ import annotations

import pytest
from jinja2 import Environment, pass_context, pass_environment, pass_eval_context
from jinja2.runtime import Context

from app.templating import TemplateContext


def plain(*args, **kwargs):
    return f"plain{args}{sorted(kwargs.items())}"


@pass_eval_context
def with_eval_context(eval_ctx, value):
    return f"{type(eval_ctx).__name__} autoescape={eval_ctx.autoescape} {value}"


@pass_environment
def with_environment(environment, value):
    return f"{type(environment).__name__} {value}"


@pass_context
def with_context(context, value):
    return f"{context.get('shown')} {value}"


def stops(value):
    raise StopIteration


class Slotted:
    __slots__ = ("prefix",)

    def __init__(self, prefix):
        self.prefix = prefix

    def __call__(self, value):
        return f"{self.prefix}{value}"


class AsksContext:
    __slots__ = ()

    @pass_context
    def __call__(self, context, value):
        return f"{context.get('shown')}/{value}"


class WithDict:
    def __call__(self, value):
        return f"dict {value}"


class Holder:
    def method(self, value):
        return f"method {value}"

    @pass_eval_context
    def asks(self, eval_ctx, value):
        return f"method {type(eval_ctx).__name__} autoescape={eval_ctx.autoescape} {value}"


marked = WithDict()
marked.jinja_pass_arg = None  # an instance that carries an answer of its own (none)

CALLABLES = {
    "plain": plain,
    "eval_context": with_eval_context,
    "environment": with_environment,
    "context": with_context,
    "stop_iteration": stops,
    "slotted": Slotted("#"),
    "asks_context": AsksContext(),
    "with_dict": WithDict(),
    "marked": marked,
    "method": Holder().method,
    "method_eval_context": Holder().asks,
    "builtin": {"1": "one"}.get,
    "class": str,
    "lambda": lambda value: f"lambda {value}",
}

TEMPLATE = (
    "{% macro m(v) %}<m{{ f(v) }}>{% endmacro %}"
    "{{ f(1) }}|{% for i in [2, 3] %}{% set shown = i * 10 %}{{ f(i|string) }};{% endfor %}"
    "{% block b %}{% set shown = 'b' %}{{ f('4') }}{% endblock %}|{{ m('5') }}|{{ f(value='6') if false else '' }}"
)


@pytest.mark.parametrize("name", list(CALLABLES))
@pytest.mark.parametrize("autoescape", [True, False])
def test_every_kind_of_callable_gives_what_jinja_gives(name, autoescape):
    rendered = {}
    for context_class in (Context, TemplateContext):
        environment = Environment(autoescape=autoescape)  # noqa: S701 - both modes compared, no user input
        environment.context_class = context_class
        environment.globals.update(f=CALLABLES[name], shown="top")
        rendered[context_class] = environment.from_string(TEMPLATE).render()
    assert rendered[TemplateContext] == rendered[Context]
    assert rendered[Context].count("|") >= 2


def test_the_application_renders_with_it(app):
    assert app.jinja_env.context_class is TemplateContext
