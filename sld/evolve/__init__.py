"""The discovery engine: population, islands, Pareto archive, proposers, the loop, budgets.

Kept import-light on purpose: import what you need from its module
(``sld.evolve.population``, ...), so importing the package never pulls in JAX.
"""
