"""The cost model: serverless against reserved, from a traffic profile and measured latency.

Price tables are data files under `modelstack/providers/<provider>/prices/`; this package
reads them (`prices`), turns a traffic profile into billable quantities and prices them
(`aws_lambda`, `cloud_run`, `reserved`), compares the options (`estimate`) and reports them
(`report`, `chart`). `measure` times the built image on the local Docker engine.
"""
