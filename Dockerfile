# rollbot's image: the wheel built in the first stage, installed alone in the second.
#   docker build -t rollbot:0.1.0 .
# It runs as user 10001 with a read-only root filesystem: the only writable places are /tmp
# (an emptyDir in deploy/kubernetes) and /data (the evidence directory when not on S3).

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir "build>=1.2" "setuptools>=69" "wheel>=0.44"
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY rollbot ./rollbot
COPY handlers ./handlers
COPY integrations ./integrations
COPY sandbox ./sandbox
RUN python -m build --wheel --no-isolation --outdir /dist .

FROM python:3.11-slim AS run
COPY --from=build /dist/*.whl /tmp/wheels/
RUN pip install --no-cache-dir /tmp/wheels/*.whl && rm -rf /tmp/wheels \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin rollbot \
    && mkdir -p /data && chown 10001 /data
# matplotlib (report charts) writes its cache under MPLCONFIGDIR; HOME for anything else
ENV MPLCONFIGDIR=/tmp/matplotlib \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ROLLBOT_EVIDENCE_DIR=/data/evidence \
    ROLLBOT_LOG_FORMAT=json
USER 10001
WORKDIR /data
EXPOSE 3000
ENTRYPOINT ["rollbot"]
CMD ["serve", "--port", "3000"]
