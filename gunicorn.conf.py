"""gunicorn settings for the web service (read from the working directory by
`gunicorn deelrx.wsgi`; the Docker image and docker-compose use it).

Threaded workers: a request spends most of its time waiting for PostgreSQL, so
each process serves several at once (Django is thread-safe; each thread has its
own database connection). Workers = cores, threads from GUNICORN_THREADS."""

import multiprocessing
import os

workers = int(os.environ.get("GUNICORN_WORKERS") or multiprocessing.cpu_count())
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or 8)
timeout = 60
keepalive = 5
