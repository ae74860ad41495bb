"""Engines: a ``Target`` and a data context -> ``Draws``.

Takes the lowered target, an engine's settings and PRNG keys; gives weighted draws with
phase indicators per sweep point. NUTS (``nuts``, ``flat_nuts``: BlackJAX's NUTS and a
flat-batched version; ``flat_nuts_kernel``: one flat chain as ``init``/``step``/``finish``
over a ``Chain``, its warmup in ``window_adaptation``), tempered SMC (``smc``: the engine that
compiles and batches; ``smc_kernel``: one run as ``init``/``step``/``finish`` over a
``SmcState``), the sweep as one tempering path (``smc_path``; ``smc_path_kernel``: one bridge
as ``bridge_init``/``bridge_step``/``bridge_finish`` over a ``BridgeState``), exact quadrature
(``quadrature``), behind one protocol and registry (``protocol``, ``registry``; the shared
``run`` timing in ``base.TimedRun``; what each engine can do: ``language.traits``); several sweep points per compiled call split across devices
(``many``); what depends on the machine (``devices``); progress reports from inside the
compiled loops (``ticks``).
"""
