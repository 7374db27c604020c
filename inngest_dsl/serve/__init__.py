"""Serving without a web framework: the serve path's protocol, what `serve()` mounts, one
call's answer, the sync bodies.

The request -> response core the framework shells share (`inngest_dsl.aiohttp` is one; the
testing kit's in-process transport answers calls through it too). Imports `engine`, `wire`,
`spec`, `client` and `errors`; never a web framework.
"""
