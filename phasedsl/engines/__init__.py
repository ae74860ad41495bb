"""Engines: a ``Target`` and a data context -> ``Draws``.

Takes the lowered target, an engine's settings and PRNG keys; gives weighted draws with
phase indicators per sweep point. NUTS (``nuts``, ``flat_nuts``: BlackJAX's NUTS and a
flat-batched version), tempered SMC (``smc``), exact quadrature (``quadrature``), behind one
protocol and registry (``base``); several sweep points per compiled call split across devices
(``many``); what depends on the machine (``devices``); progress reports from inside the
compiled loops (``ticks``).
"""
