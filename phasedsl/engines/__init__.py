"""Engines: a ``Target`` and a data context -> ``Draws``.

Takes the lowered target, an engine's settings and PRNG keys; gives weighted draws with
phase indicators per sweep point. NUTS (``nuts``, ``flat_nuts``: BlackJAX's NUTS and a
flat-batched version), tempered SMC (``smc``: the engine that compiles and batches;
``smc_kernel``: one run as ``init``/``step``/``finish`` over a ``SmcState``), exact quadrature
(``quadrature``), behind one protocol and registry (``protocol``, ``registry``; the shared
``run`` timing in ``base.TimedRun``; what each engine can do: ``language.traits``); several sweep points per compiled call split across devices
(``many``); what depends on the machine (``devices``); progress reports from inside the
compiled loops (``ticks``).
"""
