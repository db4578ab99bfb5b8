"""Statistics on an analyst's own tables: agreement (kappa), incidence rates, survival.

Pure functions on plain values (no database, no Qt), so both the ``pml-workbench stats``
command and, later, the registry's own analytics can use them. See :mod:`workbench.analysis.stats`.
"""
