"""`serve()` says what is wrong with the functions it is given, in every shell alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from inngest_dsl import ConfigError, Context, Inngest, InngestFunction, asgi, step, wsgi
from inngest_dsl import aiohttp as aiohttp_shell


class Greet(InngestFunction, id="greet", event="app/hello"):
    @step("greet")
    def greet(self, ctx: Context) -> str:
        return "hello"


def _aiohttp(client: Inngest, functions: Any) -> Any:
    return aiohttp_shell.serve(web.Application(), client, functions)


def _asgi(client: Inngest, functions: Any) -> Any:
    return asgi.serve(client, functions)


def _wsgi(client: Inngest, functions: Any) -> Any:
    return wsgi.serve(client, functions)


SHELLS: list[Callable[[Inngest, Any], Any]] = [_aiohttp, _asgi, _wsgi]


@pytest.fixture
def client() -> Inngest:
    return Inngest("shop", is_dev=True)


@pytest.mark.parametrize("serve", SHELLS)
def test_serving_no_functions_is_an_error_naming_it(
    serve: Callable[[Inngest, Any], Any], client: Inngest
) -> None:
    with pytest.raises(ConfigError, match=r"serve\(\) was given no functions"):
        serve(client, [])


@pytest.mark.parametrize("serve", SHELLS)
def test_a_single_class_is_served_alone(
    serve: Callable[[Inngest, Any], Any], client: Inngest
) -> None:
    served = serve(client, Greet)
    served = getattr(served, "served", served)
    assert [spec.id for spec in served.specs] == ["greet"]


@pytest.mark.parametrize("serve", SHELLS)
def test_something_else_is_an_error_naming_what_was_given(
    serve: Callable[[Inngest, Any], Any], client: Inngest
) -> None:
    with pytest.raises(ConfigError, match=r"serve\(\) takes the function classes.*got Greet"):
        serve(client, Greet())
