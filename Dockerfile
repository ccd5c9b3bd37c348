# PrivChat server image: multi-stage, slim Python, non-root, health-checked.
#   docker build -t privchat .
#   docker run -p 9001:9001 -p 9001:9001/udp -p 9080:9080 -p 9083:9083 \
#     -e PRIVCHAT_JWT_SECRET="$(openssl rand -base64 48)" privchat
# Every RUN, HEALTHCHECK and ENTRYPOINT line here is replayed without Docker by
# tests/e2e/test_deploy_files.py (in a clean virtualenv, against a live server).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/privchat
COPY pyproject.toml README.md alembic.ini /app/
COPY alembic /app/alembic
COPY app /app/app
COPY schema /app/schema
COPY resolvers /app/resolvers
COPY gateway_native /app/gateway_native
# Editable: the migrations (alembic/) are found next to the package, at /app.
RUN /opt/privchat/bin/pip install -e /app

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/privchat --create-home privchat
COPY --from=build /opt/privchat /opt/privchat
COPY --from=build /app /app
ENV PATH=/opt/privchat/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PRIVCHAT_DATA_DIR=/var/lib/privchat \
    PRIVCHAT_LOG_FORMAT=json
USER privchat
WORKDIR /var/lib/privchat
VOLUME ["/var/lib/privchat"]
# 9001: native gateway (TCP and QUIC/UDP), 9080: GraphQL + /gate + web client, 9083: service port.
EXPOSE 9001/tcp 9001/udp 9080/tcp 9083/tcp
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9083/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["privchat-server"]
CMD ["serve"]
