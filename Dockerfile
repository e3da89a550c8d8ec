# pokegan on a GPU host: PyTorch 2.14.1 with CUDA from the official runtime image, pokegan installed on top.
# The tag must carry the torch the project pins (<=2.14.1); pick another CUDA flavour with
#   docker build --build-arg PYTORCH_IMAGE=pytorch/pytorch:2.14.1-cuda12.6-cudnn9-runtime .
ARG PYTORCH_IMAGE=pytorch/pytorch:2.14.1-cuda12.8-cudnn9-runtime
FROM ${PYTORCH_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    POKEGAN_DATA_DIR=/data \
    POKEGAN_HOST=0.0.0.0 \
    POKEGAN_PORT=8000

# cairosvg (SVG sprites) needs the cairo library
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcairo2 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/pokegan
COPY . .
# Installed as a package (the `pokegan` command); editable, so migrations/, templates/ and static/ stay
# beside the code that finds them. Naming the image's torch/torchvision keeps pip from swapping its CUDA build.
RUN pip install -e . "torch==2.14.1" "torchvision==0.29.1"

RUN useradd --create-home --uid 10001 pokegan \
    && mkdir -p /data \
    && chown pokegan:pokegan /data
USER pokegan
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('POKEGAN_PORT', '8000'), timeout=4)"

# All in one container (web + one worker); compose runs `pokegan serve --no-worker` and `pokegan worker`.
# `serve` applies database migrations before it listens, and refuses 0.0.0.0 without POKEGAN_API_TOKEN.
CMD ["pokegan", "serve"]
