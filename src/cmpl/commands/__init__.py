"""What a user can run: one module per command of ``cmpl``, each a workflow that puts the engine, the data
and the analysis together. ``cli`` parses arguments, calls one of these and prints what it returns; nothing
below this layer imports it."""
