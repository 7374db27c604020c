"""Request time, no I/O of its own: one call of a function, from its request to its result.

`(FunctionSpec, CallRequest) -> CallResult`: the walk over the declared ops, the `Context`
bodies receive, `ctx.step`, the opcodes and failures a call answers, failure handlers run as
companion functions. Imports `spec`, `wire` and `errors`; never an HTTP library or the client
(a `send_event` block sends through whatever `EventSender` the caller hands in).
"""
