# The Deskpilot service image: same pinned versions as `make install`, models built at build time.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ORT_DISABLE_TELEMETRY=1 HF_HUB_OFFLINE=1
COPY pyproject.toml requirements.lock requirements-nodeps.lock requirements-nodeps.in ./
RUN pip install --no-cache-dir "uv==0.9.30" \
 && uv pip install --system --require-hashes -r requirements.lock \
 && uv pip install --system --no-deps --require-hashes -r requirements-nodeps.lock
COPY agent agent
COPY tools tools
COPY knowledge knowledge
COPY api api
# setuptools reads the readme named in pyproject.toml
COPY README.md ./
RUN uv pip install --system --no-deps . \
 && python -m knowledge.build_embedder \
 && python -m agent.tokens
EXPOSE 8000
CMD ["deskpilot", "serve", "--host", "0.0.0.0", "--port", "8000"]
