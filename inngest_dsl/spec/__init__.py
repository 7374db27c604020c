"""The compiled description of a function, and the vocabulary it is written in.

`FunctionSpec` and its ops, triggers and options; events; durations, instants, cron schedules,
expressions and the limits Inngest puts on options. Pure data and pure functions: this layer
imports nothing of the rest of the package but `errors`.
"""
