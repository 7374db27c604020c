"""Serving without a web framework: what `serve()` mounts, one call's answer, the sync bodies.

The request -> response core the framework adapters share (`inngest_dsl.aiohttp` is one; the
testing kit's in-process transport is another). Imports `engine`, `wire`, `spec`, `client`
and `errors`; never a web framework.
"""
