from __future__ import annotations

from collections.abc import Iterator

from modelstack.events.lint.sources import event_sources, raw_events
from modelstack.events.spec import BUCKET_SUFFIXES
from modelstack.lint.rule import Finding, LintContext, Rule


class OutputLoop(Rule):
    id = "MS937"
    summary = "An output must not feed its own input (an endless loop)"
    description = (
        "Results written under the prefix a bucket source watches (or sent to a queue an event "
        "source reads) would be scored again, and their results again, without end. Give the "
        "output a prefix (or queue) of its own that does not overlap the input."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        sources = list(event_sources(ctx))
        queues = {source.name for _, source in sources if source.queue is not None}
        for index, source in sources:
            output = source.output
            if output.queue is not None and output.queue.removesuffix(".fifo") in queues:
                yield Finding(
                    ("events", index, "output", "queue"),
                    f"the output queue {output.queue!r} is read by the event source of that "
                    "name: results would be scored again; use another queue",
                )
            bucket = source.bucket
            if bucket is None or output.bucket != bucket.bucket:
                continue
            if output.prefix.startswith(bucket.prefix) or bucket.prefix.startswith(output.prefix):
                yield Finding(
                    ("events", index, "output", "prefix"),
                    f"the output prefix {output.prefix!r} overlaps the input prefix "
                    f"{bucket.prefix!r} in bucket {bucket.bucket}: results would be scored "
                    "again without end; use a prefix beside it, such as 'scored/'",
                )


class BucketSuffix(Rule):
    id = "MS939"
    summary = "A bucket source's suffix must be one the readers know"
    description = (
        "Bucket objects are read as .npz (arrays by input name), .jsonl (one record per line) "
        "or .csv (a header of input names)."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for index, entry in enumerate(raw_events(ctx)):
            bucket = entry.get("bucket") if isinstance(entry, dict) else None
            suffix = bucket.get("suffix") if isinstance(bucket, dict) else None
            if isinstance(suffix, str) and suffix not in BUCKET_SUFFIXES:
                yield Finding(
                    ("events", index, "bucket", "suffix"),
                    f"suffix {suffix!r} has no reader; use one of {', '.join(BUCKET_SUFFIXES)}",
                )
