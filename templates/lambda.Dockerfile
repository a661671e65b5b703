# AWS Lambda container image: the handler takes the v2 infer request as a direct invocation
# and function-URL / API Gateway events. Rendered by `modelstack build`.
#
# On the AWS Lambda Python base the code and dependencies go to /var/task and the base's own
# runtime client calls the handler named in CMD. On any other base with Python,
# awslambdaric is installed and `python3 -m modelstack_runtime.lambda_bootstrap` runs it.
# Layers of the final stage, least to most often changed: dependencies (pinned
# requirements), the model, the runtime code, the runtime config, then labels.

# ---- builder: dependencies into /opt/modelstack/site, runtime code precompiled
FROM {{base_image}} AS builder
{{ca_copy}}
COPY requirements.txt /tmp/modelstack/requirements.txt
RUN python3 -m venv /opt/build-venv \
 && {{pip_env}}/opt/build-venv/bin/pip install --no-cache-dir --disable-pip-version-check \
      --only-binary=:all: --target /opt/modelstack/site -r /tmp/modelstack/requirements.txt
COPY app/ /opt/modelstack/app/
RUN python3 -m compileall -q --invalidation-mode unchecked-hash /opt/modelstack/app
{{optimize}}

# ---- final: the runtime package, its dependencies and the model; no pip, no CA bundle
FROM {{base_image}}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MODELSTACK_RUNTIME_CONFIG=/opt/modelstack/runtime.json
{{python_path}}
COPY --from=builder /opt/modelstack/site/ {{site_dir}}/
{{model_copy}}
COPY --from=builder /opt/modelstack/app/ {{app_dir}}/
COPY runtime.json /opt/modelstack/runtime.json
{{entrypoint}}
{{labels}}
