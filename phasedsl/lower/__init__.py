"""Lowering: a checked spec -> pure JAX functions (``compile.compile_spec`` -> ``Compiled``).

Takes a ``CheckedSpec``; gives the ``Target`` every engine samples (log prior, tempered
log-likelihood, phase indicators, prior draws: functions of one parameter vector and one
data context, so one compilation serves every sweep value) and the ``Draws`` contract that
engines return (``target``). Sympy -> JAX through a whitelist (``jaxexpr``).
"""
