from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule


class TrafficSource(Rule):
    id = "MS801"
    summary = "A traffic profile comes from requests_per_month or counts_file, exactly one"
    description = (
        "traffic.requests_per_month (spread over the week by pattern) and traffic.counts_file "
        "(168 real hourly counts) each describe the whole week; set one of them. pattern and "
        "peak_factor only shape requests_per_month."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        spec = ctx.manifest.traffic if ctx.manifest else None
        if spec is None or ctx.manifest is None:
            return
        raw = ctx.manifest.source.data.get("traffic", {})
        if spec.counts_file is not None and spec.requests_per_month is not None:
            yield Finding(
                ("traffic", "counts_file"),
                "traffic sets both counts_file and requests_per_month; keep one of them",
            )
        elif spec.counts_file is None and spec.requests_per_month is None:
            yield Finding(("traffic",), "traffic needs requests_per_month or counts_file")
        elif spec.counts_file is not None:
            for key in ("pattern", "peak_factor"):
                if key in raw:
                    yield Finding(
                        ("traffic", key),
                        f"traffic.{key} has no effect with counts_file (the counts are the "
                        "week's shape); remove it",
                    )


class TrafficCounts(Rule):
    id = "MS802"
    summary = "A traffic counts file must be a week of hourly counts inside the bundle"
    description = (
        "traffic.counts_file is a CSV beside the manifest with 168 non-negative hourly counts, "
        "Monday 00:00 UTC first: one per line, or columns hour,requests with a header."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        spec = ctx.manifest.traffic if ctx.manifest else None
        if ctx.manifest is None or spec is None or spec.counts_file is None:
            return
        from modelstack.cost.traffic import read_counts
        from modelstack.errors import CostError, ModelError
        from modelstack.modelfile import resolve_in_bundle

        where = ("traffic", "counts_file")
        try:
            path = resolve_in_bundle(ctx.manifest.directory, spec.counts_file, what="counts file")
            read_counts(path, spec.counts_file)
        except (ModelError, CostError) as exc:
            yield Finding(where, str(exc))
