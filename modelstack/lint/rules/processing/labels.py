from __future__ import annotations

from collections.abc import Iterator

from modelstack.errors import ManifestError
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.lint.rules.processing import underlying_signature
from modelstack.processing.labels import read_labels
from modelstack.processing.served import scored_output

POST = ("model", "postprocess")


class LabelMapFits(Rule):
    id = "MS111"
    summary = "The label map must be a bounded file in the bundle with one name per class"
    description = (
        "model.postprocess.labels is a UTF-8 text file inside the manifest's folder, at most "
        "1 MiB, one class name per line with none empty. The scored model output "
        "(`output`, else the first) must be [N, classes] with one line per class (or one score "
        "column and two names, with a `threshold`), and `top_k` at most the number of classes."
    )
    needs_model = True

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        post = ctx.manifest.model.postprocess if ctx.manifest else None
        if ctx.manifest is None or post is None:
            return
        try:
            names = read_labels(ctx.manifest.directory, post.labels)
        except ManifestError as exc:
            yield Finding((*POST, "labels"), str(exc))
            return
        signature = underlying_signature(ctx)
        scored = scored_output(post, signature) if signature is not None else None
        if signature is not None and scored is None:
            outputs = ", ".join(t.name for t in signature.outputs)
            yield Finding((*POST, "output"), f"the model has no output {post.output!r} ({outputs})")
            return
        if scored is None or len(scored.shape) != 2 or scored.shape[-1] == -1:
            return
        columns = scored.shape[-1]
        binary = columns == 1 and post.threshold is not None
        if len(names) != (2 if binary else columns):
            wanted = "2 names (one score column with a threshold)" if binary else f"{columns}"
            yield Finding(
                (*POST, "labels"),
                f"{post.labels} names {len(names)} classes, output '{scored.name}' has "
                f"{columns} score column(s): give {wanted} lines",
            )
        if post.top_k is not None and post.top_k > columns and not binary:
            yield Finding(
                (*POST, "top_k"),
                f"top_k {post.top_k} is over the {columns} classes of '{scored.name}'",
            )
