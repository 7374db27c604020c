"""Definition time: the class-body verbs, the metaclass that records them, compile and validate.

A class body's declarations become a frozen `FunctionSpec` when the class is created, every
problem reported at once in one `DefinitionError`; `discover` finds function classes by module.
Imports only `spec` and `errors`: nothing here knows how a function is run or served.
"""
