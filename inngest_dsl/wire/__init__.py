"""At the wire: the JSON shapes of the Inngest SDK protocol, request signatures, canonical JSON.

Registration entries derived from a `FunctionSpec` through one cattrs converter, call requests
decoded, opcodes and call results encoded; HMAC signatures over JCS-canonical bodies. Imports
only `spec` and `errors`; the dev server uses the signing half too.
"""
