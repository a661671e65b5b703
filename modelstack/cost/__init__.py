"""The cost model: serverless against reserved, from a traffic profile and measured latency.

This package is provider-neutral. Each provider prices its own targets (`Provider.prices`
answers a `pricing.TargetPricing` from `modelstack/providers/<provider>/pricing.py`, with
its billing formulas beside it and its price tables under `prices/`). Here are the table
reader (`prices`), traffic profiles (`traffic`), the priced lines of an option (`options`),
reserved servers (`reserved`), the comparison and break-even (`estimate`), the report
(`report`, `chart`), `plan`'s column (`plan_estimate`), and `measure`, which times the built
image on the local Docker engine at the sizes the provider names.
"""
