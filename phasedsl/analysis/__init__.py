"""Analysis: ``Draws`` -> typed records, plain numpy, no sentences.

Takes each sweep point's draws; gives a ``PointSummary`` (phase masses with standard errors,
free energies, overlaps, R-hat/ESS and mixing ``Finding``s: ``masses``, ``mixing``,
``diagnostics``, ``modes``) and, across the sweep, ``Event`` records (crossovers,
destruction/creation, merges: ``events``). Records and their JSON form: ``records``.
"""
