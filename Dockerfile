# One image for web, workers and beat; the compose file picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OMP_THREAD_LIMIT=1 \
    DROPTURK_DATA_DIR=/srv/var

RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/dropturk
COPY pyproject.toml README.md ./
COPY dropturk ./dropturk
COPY annotations ./annotations
COPY audit ./audit
COPY ocr_bridge ./ocr_bridge
COPY ocr ./ocr
COPY templates ./templates
COPY manage.py ./
COPY uwsgi.ini ./
# uWSGI is built from source: a compiler for the install, removed after it.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
 && pip install --no-cache-dir -e . \
 && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /srv/dropturk dropturk \
 && mkdir -p /srv/var && chown dropturk /srv/var \
 && DJANGO_SECRET_KEY=build-only DROPTURK_SECRETS_DIR=/tmp python manage.py collectstatic --noinput

USER dropturk
EXPOSE 8000
CMD ["uwsgi", "--ini", "uwsgi.ini", "--http", "0.0.0.0:8000"]
