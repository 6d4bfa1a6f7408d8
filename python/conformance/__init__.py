"""The conformance table (proto/cases/*.json): its Python runners and the checker.

`python -m conformance` starts the servers, runs every client's runner against
every server it applies to, checks each answer against the table and prints the
matrix; `python -m conformance.client` is the runner of the Python clients.
"""
