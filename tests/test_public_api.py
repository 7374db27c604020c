"""The public API: exports are pinned, and every public name is documented."""

from __future__ import annotations

import importlib
import inspect

import pytest

PUBLIC = {
    "inngest_dsl": [
        "Batch", "Cancel", "Concurrency", "ConfigError", "Context", "CronTrigger", "Debounce",
        "DefinitionError", "EventTrigger",
        "Event", "EventError", "Failure", "FunctionSpec", "Inngest", "InngestError",
        "InngestFunction", "NonRetriableError", "Priority", "RateLimit", "RetryAfterError",
        "SendEventError", "Singleton", "StepError", "Throttle", "Timeouts", "__version__",
        "discover", "failure_spec", "on_failure", "run", "sleep", "sleep_until", "spec_of",
        "step", "wait_for_event",
        "invoke", "parallel", "send_event",
        "NotAFunctionError", "PayloadError", "event_type",
    ],
    "inngest_dsl.testing": [
        "CapturingClient", "DEFAULT_MAX_CALLS", "DevServerHarness", "ErrorInfo", "EventLike",
        "OpKind", "RunFunctionError", "RunResult", "RunStatus", "ServerRun",
        "SyncTestEnvironment", "TestEnvironment", "TestEnvironmentError", "TraceOp",
        "ctx_step", "CtxStep", "run_function", "run_function_sync",
    ],
    "inngest_dsl.aiohttp": ["SERVED", "ServedFunctions", "serve"],
    "inngest_dsl.middleware": ["CallError", "CallInput", "CallOutput", "Middleware", "StepInfo"],
    "inngest_dsl.encryption": ["EncryptionMiddleware"],
    "inngest_dsl.asgi": ["ASGIApp", "InngestASGI", "serve"],
    "inngest_dsl.wsgi": ["InngestWSGI", "StartResponse", "WSGIApp", "serve"],
    "inngest_dsl.devserver": ["DEFAULT_DB", "DevServer", "DevServerConfig"],
    "inngest_dsl.pytest_plugin": [
        "StartDevServer", "inngest_client", "inngest_dev_server", "pytest_assertrepr_compare",
    ],
}  # fmt: skip


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_exports_are_pinned(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC[module_name])


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_names_have_docstrings(module_name: str) -> None:
    module = importlib.import_module(module_name)
    undocumented = []
    for name in module.__all__:
        value = getattr(module, name)
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        if not (value.__doc__ or "").strip():
            undocumented.append(name)
        if inspect.isclass(value):
            for attribute, member in vars(value).items():
                documentable = inspect.isfunction(member) or isinstance(member, property)
                if not attribute.startswith("_") and documentable and not (member.__doc__ or ""):
                    undocumented.append(f"{name}.{attribute}")
    assert undocumented == []
