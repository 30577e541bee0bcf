# keepwise in a container: the package, the dashboard and the scheduler (docker-compose.yml).
# Build: docker compose build   (or: docker build -t keepwise .)
# The image has no compilers: wheels are built in the first stage and only installed in the second.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .
# supercronic runs the crontab (examples/schedules/crontab) as the container's non-root user and passes the
# environment on; pinned, and its checksum checked (from the release page of aptible/supercronic). Not
# re-verified against the download (no network where this was written, 2026-12); the SHA-1 agrees with the
# v0.2.32 linux-amd64 stanza that many public Dockerfiles copied from that page. The build fails on a mismatch.
ARG SUPERCRONIC_URL=https://github.com/aptible/supercronic/releases/download/v0.2.32/supercronic-linux-amd64
ARG SUPERCRONIC_SHA1SUM=7da26ce6ab48d75e97f7204554afe7c80779d4e0
RUN python -c "import hashlib, os, sys, urllib.request; data = urllib.request.urlopen('${SUPERCRONIC_URL}').read(); \
sys.exit('supercronic: checksum mismatch') if hashlib.sha1(data).hexdigest() != '${SUPERCRONIC_SHA1SUM}' else None; \
open('/usr/local/bin/supercronic', 'wb').write(data); os.chmod('/usr/local/bin/supercronic', 0o755)"

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KEEPWISE_DB=duckdb:////var/lib/keepwise/store.duckdb
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels keepwise \
 && rm -rf /wheels \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/keepwise --create-home keepwise \
 && mkdir -p /etc/keepwise \
 && touch /etc/keepwise/env
COPY --from=build /usr/local/bin/supercronic /usr/local/bin/supercronic
# the schedule; the jobs source /etc/keepwise/env, empty here: the settings come from the environment
COPY examples/schedules/crontab /etc/keepwise/crontab
USER keepwise
WORKDIR /var/lib/keepwise
VOLUME /var/lib/keepwise
EXPOSE 8000
CMD ["keepwise", "serve", "--host", "0.0.0.0", "--port", "8000"]
