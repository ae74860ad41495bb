"""The language: ``.phase`` text -> a checked spec (``CheckedSpec``), JAX-free.

Takes the text of a spec and ``--set`` overrides; gives a ``CheckedSpec`` (every name,
dimension, sweep value, phase predicate and setting resolved, expressions as sympy) and
warnings as values, or a located ``SpecError``/``UsageError``. Syntax (``grammar.lark``,
``syntax``, ``syntax_errors``), the tree (``ast``), checking (``check``, ``network_check``,
``sweep_check``, ``symbolic``, ``functions``, ``values``), the settings table (``settings``),
the network's parameter layout (``layout``), a network's data file (``datafile``: read with numpy
and checked) and the one error family (``errors``).
"""
