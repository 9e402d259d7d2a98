FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app
COPY . .
# The project is installed for its dependencies; PYTHONPATH keeps /app (templates, static and
# manage.py beside the code) the copy that runs. collectstatic writes to /app/var/static.
RUN pip install . -c requirements.lock \
    && python manage.py collectstatic --noinput \
    && useradd --system --home-dir /app portal \
    && chown -R portal /app/var

USER portal
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000"]
