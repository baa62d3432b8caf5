# Production image: one image for web (uvicorn: HTTP and WebSocket), worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Tesseract: OCR of uploaded images and scanned PDFs (DESIGN §15).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings but no services; a throwaway key is enough at build time.
RUN DJANGO_SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-0123456789 \
    python manage.py collectstatic --noinput \
    && useradd --system --uid 1000 deelrx \
    && mkdir -p /app/var && chown deelrx /app/var
USER deelrx

EXPOSE 8000
CMD ["uvicorn", "deelrx.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--ws", "websockets"]
