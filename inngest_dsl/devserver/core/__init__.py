"""The run engine: runs, flow control, cron and the executor's queue, on a store and a clock.

It imports no HTTP library: the dev server reaches apps through an HTTP transport, the testing
kit through in-process calls.
"""
