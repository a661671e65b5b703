# Cloud Run (CPU) and local HTTP image: the Open Inference Protocol on $PORT.
# Rendered by `modelstack build`, which fills in the double-brace placeholders.
#
# Layers of the final stage, least to most often changed: dependencies (pinned
# requirements), the model, the runtime code, the runtime config, then labels. A new model
# keeps the dependency layer; new runtime code keeps the dependency and model layers.

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
ENV PYTHONPATH=/opt/modelstack/site:/opt/modelstack/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MODELSTACK_RUNTIME_CONFIG=/opt/modelstack/runtime.json \
    HOST=0.0.0.0 \
    PORT=8080
COPY --from=builder /opt/modelstack/site/ /opt/modelstack/site/
{{model_copy}}
COPY --from=builder /opt/modelstack/app/ /opt/modelstack/app/
COPY runtime.json /opt/modelstack/runtime.json
USER 10001:10001
EXPOSE 8080
CMD ["python3", "-m", "modelstack_runtime"]
{{labels}}
