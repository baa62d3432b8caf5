"""Posting charges through HTTP, as production serves them, against the raw
minimum of the same database work.

Project: gunicorn (`deelrx.wsgi` with the project's `gunicorn.conf.py`, as the
image runs it, workers = CPU count; production settings: DJANGO_DEBUG off, a
secret key, ALLOWED_HOSTS, HTTPS behind a proxy — the clients send
`X-Forwarded-Proto: https` as the proxy would — access log on, throttling on
with a rate the run cannot reach) on a free loopback port,
against the benchmark database. 16 clients with keep-alive (`http.client`,
4 threads in each of 4 processes, so the load generator is never the
bottleneck: its CPU use is printed) each POST
`/api/teams/<id>/credit/transactions/` with `Authorization: Token …` and a
unique `Idempotency-Key`: small charges (due in 30 days) spread over 1,000
accounts whose limits are high enough never to refuse one, then all on one
hot account.

Baseline: the same 16 clients as a raw psycopg loop, 16 connections, per
charge one transaction with the statements the work needs: the idempotency
record INSERT, `SELECT … FOR UPDATE` of the account, the ledger row INSERT,
the balance UPDATE, the audit event INSERT, COMMIT.

The team is realistic and large: 100,000 accounts and 1,000,000 ledger rows
at BENCH_SCALE=1 (bench/data.py). Each measurement runs 15 s after a 3 s
warm-up (shorter below BENCH_SCALE=1). Afterwards every response must have
been 201, every counted charge must be in the ledger, and `verify_ledger`
must find the team consistent.

Targets: many accounts ≥ 0.2x the raw loop's rate; the hot account ≥ 0.9x
the many-accounts project rate (charges to one account serialise on its row
lock, which must not cost more than that)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

if __name__ == "__main__":
    from bench.harness import setup_django

    setup_django()

ACCOUNTS = 100_000
LEDGER_ROWS = 1_000_000
CHARGED_ACCOUNTS = 1_000
CLIENTS = 16
CLIENT_PROCESSES = 4
SECONDS = 15.0
WARMUP = 3.0
TARGET_MANY = 0.2
TARGET_HOT = 0.9
DESCRIPTION = "Bench HTTP charge"
RAW_DESCRIPTION = "Bench raw charge"
BASE_DIR = Path(__file__).resolve().parent.parent


# --- Load generators (run in spawned processes: no Django there) ----------------------------


@dataclass
class ClientResult:
    counted: int = 0  # completed inside the measured window
    total: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0

    def add(self, other: ClientResult) -> None:
        self.counted += other.counted
        self.total += other.total
        self.errors += other.errors
        self.error_samples += other.error_samples[: max(0, 5 - len(self.error_samples))]
        self.latencies += other.latencies
        self.cpu_seconds += other.cpu_seconds
        self.wall_seconds = max(self.wall_seconds, other.wall_seconds)


def _charge_body(customer_id: str, seq: int, due_date: str) -> dict:
    return {"customer_id": customer_id, "type": "charge", "amount_cents": 100 + seq % 900, "due_date": due_date}


def _run_threads(threads: int, target) -> ClientResult:
    results = [ClientResult() for _ in range(threads)]
    started_cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    workers = [threading.Thread(target=target, args=(i, results[i])) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    ended_cpu = resource.getrusage(resource.RUSAGE_SELF)
    total = ClientResult()
    for result in results:
        total.add(result)
    total.cpu_seconds = (ended_cpu.ru_utime - started_cpu.ru_utime) + (ended_cpu.ru_stime - started_cpu.ru_stime)
    total.wall_seconds = time.monotonic() - started
    return total


def http_clients(spec: dict) -> ClientResult:
    """`spec["threads"]` keep-alive clients POSTing charges until `stop_at`;
    counted are the responses that arrive in [`count_from`, `stop_at`)."""
    path = spec["path"]
    due_date = spec["due_date"]

    def client(index: int, result: ClientResult) -> None:
        rng = random.Random(f"{spec['seed']}-{index}")
        conn = http.client.HTTPConnection(spec["host"], spec["port"], timeout=60)
        seq = 0
        prefix = f"{spec['key_prefix']}-{spec['process']}-{index}"
        headers = {
            "Authorization": f"Token {spec['token']}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Host": "localhost",
            "X-Forwarded-Proto": "https",
            "Connection": "keep-alive",
            "User-Agent": "deelrx-bench",
        }
        while True:
            now = time.time()
            if now >= spec["stop_at"]:
                break
            if now < spec["start_at"]:
                time.sleep(spec["start_at"] - now)
                continue
            seq += 1
            request = _charge_body(rng.choice(spec["customers"]), seq, due_date)
            body = json.dumps(request | {"description": spec["description"]})
            started = time.time()
            try:
                conn.request("POST", path, body=body, headers={**headers, "Idempotency-Key": f"{prefix}-{seq}"})
                response = conn.getresponse()
                content = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                status, content = 0, repr(exc).encode()
            ended = time.time()
            result.total += 1
            if status != 201:
                result.errors += 1
                if len(result.error_samples) < 3:
                    result.error_samples.append(f"{status}: {content[:300]!r}")
            elif spec["count_from"] <= ended < spec["stop_at"]:
                result.counted += 1
                result.latencies.append(ended - started)
        conn.close()

    return _run_threads(spec["threads"], client)


def raw_clients(spec: dict) -> ClientResult:
    """`spec["threads"]` psycopg connections posting charges the raw way (see the module doc)."""
    import psycopg

    due_date = spec["due_date"]

    def client(index: int, result: ClientResult) -> None:
        rng = random.Random(f"{spec['seed']}-{index}")
        prefix = f"{spec['key_prefix']}-{spec['process']}-{index}"
        team_id, user_id = spec["team_id"], spec["user_id"]
        with psycopg.connect(spec["conninfo"], autocommit=True) as conn:
            seq = 0
            while True:
                now = time.time()
                if now >= spec["stop_at"]:
                    break
                if now < spec["start_at"]:
                    time.sleep(spec["start_at"] - now)
                    continue
                seq += 1
                customer_id = rng.choice(spec["customers"])
                request = _charge_body(customer_id, seq, due_date) | {"description": spec["description"]}
                amount = request["amount_cents"]
                key = f"{prefix}-{seq}"
                canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
                fingerprint = hashlib.sha256(f"POST\n{spec['path']}\n{canonical}".encode()).hexdigest()
                tx_id = uuid.uuid4()
                started = time.time()
                try:
                    with conn.transaction(), conn.cursor() as cur:
                        response = {"id": str(tx_id), "team_id": team_id, "customer_id": customer_id, **request}
                        cur.execute(
                            spec["idempotency_sql"],
                            spec["idempotency_defaults"]
                            | {
                                "team_id": team_id,
                                "key": key,
                                "fingerprint": fingerprint,
                                "body": json.dumps(response),
                            },
                        )
                        cur.execute(spec["lock_sql"], {"team_id": team_id, "customer_id": customer_id})
                        account_id, balance, limit, status = cur.fetchone()
                        if status != "active" or balance + amount > limit:
                            raise RuntimeError(f"charge refused: {status}, {balance} + {amount} > {limit}")
                        balance += amount
                        cur.execute(
                            spec["ledger_sql"],
                            spec["ledger_defaults"]
                            | {
                                "id": tx_id,
                                "team_id": team_id,
                                "account_id": account_id,
                                "amount": amount,
                                "description": request["description"],
                                "due_date": due_date,
                                "key": key,
                                "balance_after": balance,
                                "user_id": user_id,
                            },
                        )
                        cur.execute(spec["balance_sql"], {"balance": balance, "account_id": account_id})
                        cur.execute(
                            spec["event_sql"],
                            spec["event_defaults"]
                            | {
                                "team_id": team_id,
                                "user_id": user_id,
                                "data": json.dumps(
                                    {
                                        "transaction_id": str(tx_id),
                                        "account_id": str(account_id),
                                        "customer_id": customer_id,
                                        "type": "charge",
                                        "amount_cents": amount,
                                        "status": "completed",
                                        "balance_after_cents": balance,
                                    }
                                ),
                            },
                        )
                    ok, error = True, ""
                except Exception as exc:
                    ok, error = False, repr(exc)
                ended = time.time()
                result.total += 1
                if not ok:
                    result.errors += 1
                    if len(result.error_samples) < 3:
                        result.error_samples.append(error[:300])
                elif spec["count_from"] <= ended < spec["stop_at"]:
                    result.counted += 1
                    result.latencies.append(ended - started)

    return _run_threads(spec["threads"], client)


@dataclass
class Load:
    name: str
    result: ClientResult
    seconds: float

    @property
    def rate(self) -> float:
        return self.result.counted / self.seconds

    def describe(self) -> str:
        lat = sorted(self.result.latencies) or [0.0]
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        cores = self.result.cpu_seconds / self.result.wall_seconds if self.result.wall_seconds else 0.0
        return (
            f"    {self.name}: {self.rate:.1f}/s, N = {self.result.counted:,} in {self.seconds:.0f} s,"
            f" latency p50 {p50:.1f} ms p99 {p99:.1f} ms, errors {self.result.errors},"
            f" client CPU {cores:.2f} cores"
        )


def run_load(name: str, worker, spec: dict, *, seconds: float, warmup: float) -> Load:
    """CLIENTS clients in CLIENT_PROCESSES processes, all starting together."""
    per_process = CLIENTS // CLIENT_PROCESSES
    start_at = time.time() + 3.0  # time for the processes to start
    common = spec | {
        "key_prefix": uuid.uuid4().hex[:12],  # every run its own Idempotency-Keys
        "threads": per_process,
        "start_at": start_at,
        "count_from": start_at + warmup,
        "stop_at": start_at + warmup + seconds,
    }
    total = ClientResult()
    with ProcessPoolExecutor(max_workers=CLIENT_PROCESSES, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(worker, common | {"process": p}) for p in range(CLIENT_PROCESSES)]
        for future in futures:
            total.add(future.result())
    load = Load(name, total, seconds)
    print(load.describe(), flush=True)
    return load


# --- The server --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    def __init__(self, *, workers: int, log_path: Path):
        self.workers = workers
        self.log_path = log_path
        self.port = 0
        self.process: subprocess.Popen | None = None

    def config_note(self) -> str:
        config = BASE_DIR / "gunicorn.conf.py"
        return "gunicorn.conf.py" if config.exists() else "gunicorn defaults: sync workers"

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "deelrx.settings",
                "DJANGO_DEBUG": "false",
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
                "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
                # throttling stays on, at a rate the benchmark cannot reach (a per-second
                # window keeps DRF's request history as short as production's)
                "API_THROTTLE_USER": "1000000/s",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def start(self) -> None:
        for _ in range(3):
            self.port = _free_port()
            log = open(self.log_path, "ab")  # noqa: SIM115 (the server writes to it until stop)
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "deelrx.wsgi",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(self.workers),
                    "--access-logfile",
                    "-",
                    "--timeout",
                    "120",
                ],
                cwd=BASE_DIR,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            if self._wait_ready(timeout=90):
                return
            self.stop()
        raise RuntimeError(f"gunicorn did not start; its log:\n{self.log_tail()}")

    def _wait_ready(self, *, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz", headers={"Host": "localhost", "X-Forwarded-Proto": "https"})
                ok = conn.getresponse().status == 200
                conn.close()
                if ok:
                    return True
            except OSError:
                pass
            time.sleep(0.25)
        return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# --- The benchmark -----------------------------------------------------------------------


def _raw_statements(team_id: int) -> dict:
    """The raw loop's SQL, column lists from the models (bench.data)."""
    from bench.data import insert_values_sql
    from credit.models import CreditAccount, CreditTransaction, IdempotencyRecord
    from deelrx.audit.models import ActivityEvent

    idempotency_sql, idempotency_defaults = insert_values_sql(
        IdempotencyRecord,
        {
            "team_id": "%(team_id)s",
            "key": "%(key)s",
            "fingerprint": "%(fingerprint)s",
            "response_status": "201",
            "response_body": "%(body)s::jsonb",
            "created_at": "now()",
            "expires_at": "now() + interval '48 hours'",
        },
    )
    ledger_sql, ledger_defaults = insert_values_sql(
        CreditTransaction,
        {
            "id": "%(id)s",
            "team_id": "%(team_id)s",
            "account_id": "%(account_id)s",
            "type": "'charge'",
            "amount_cents": "%(amount)s",
            "status": "'completed'",
            "description": "%(description)s",
            "due_date": "%(due_date)s::date",
            "idempotency_key": "%(key)s",
            "balance_after_cents": "%(balance_after)s",
            "created_by_id": "%(user_id)s",
            "completed_at": "now()",
            "created_at": "now()",
            "updated_at": "now()",
        },
    )
    event_sql, event_defaults = insert_values_sql(
        ActivityEvent,
        {
            "team_id": "%(team_id)s",
            "user_id": "%(user_id)s",
            "event_type": "'credit.transaction.created'",
            "event_data": "%(data)s::jsonb",
            "ip_address": "'127.0.0.1'",
            "user_agent": "'deelrx-bench'",
            "created_at": "now()",
        },
    )
    accounts = CreditAccount._meta.db_table
    return {
        "idempotency_sql": idempotency_sql,
        "idempotency_defaults": idempotency_defaults,
        "lock_sql": f"SELECT id, balance_cents, credit_limit_cents, status FROM {accounts}"
        " WHERE team_id = %(team_id)s AND customer_id = %(customer_id)s FOR UPDATE",
        "ledger_sql": ledger_sql,
        "ledger_defaults": ledger_defaults,
        "balance_sql": f"UPDATE {accounts} SET balance_cents = %(balance)s, updated_at = now()"
        " WHERE id = %(account_id)s",
        "event_sql": event_sql,
        "event_defaults": event_defaults,
    }


def _conninfo() -> str:
    from django.db import connection
    from psycopg.conninfo import make_conninfo

    s = connection.settings_dict
    params = {"dbname": s["NAME"], "user": s["USER"], "password": s["PASSWORD"], "host": s["HOST"], "port": s["PORT"]}
    return make_conninfo(**{k: str(v) for k, v in params.items() if v})


def main() -> bool:
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from bench import data
    from bench.harness import Rate, bench_scale, report_rate, scale
    from credit.models import MAX_AMOUNT_CENTS, CreditAccount
    from credit.services import ledger

    if connection.vendor != "postgresql":
        print("## Credit charge over HTTP: skipped (PostgreSQL only: row locks, gunicorn against a shared database)")
        return True
    factor = bench_scale()
    seconds = min(SECONDS, max(4.0, SECONDS * factor))
    warmup = min(WARMUP, max(1.0, seconds / 5))
    accounts_n, rows_n = scale(ACCOUNTS), scale(LEDGER_ROWS)
    label = f"bench-charge-{uuid.uuid4().hex[:8]}"
    team = data.credit_team(label=label, accounts=accounts_n, ledger_rows=rows_n)
    workdir = Path(tempfile.mkdtemp(prefix="bench-charge-http-"))
    server = Gunicorn(workers=os.cpu_count() or 1, log_path=workdir / "gunicorn.log")
    try:
        # Active accounts with limits high enough never to refuse: one set for the
        # raw loop, one for HTTP, and a hot account for each.
        wanted = min(CHARGED_ACCOUNTS, max(1, (accounts_n - 2) // 4))
        picked = list(
            CreditAccount.objects.filter(team_id=team.team_id, status="active")
            .order_by("id")
            .values_list("id", "customer_id")[: 2 * wanted + 2]
        )
        if len(picked) < 2 * wanted + 2:
            raise RuntimeError(f"only {len(picked)} active accounts generated; need {2 * wanted + 2}")
        CreditAccount.objects.filter(pk__in=[pk for pk, _ in picked]).update(
            credit_limit_cents=MAX_AMOUNT_CENTS // 10, limit_frozen=False
        )
        raw_many = [str(c) for _, c in picked[:wanted]]
        http_many = [str(c) for _, c in picked[wanted : 2 * wanted]]
        http_hot, raw_hot = [str(picked[-2][1])], [str(picked[-1][1])]
        raw_account_ids = [pk for pk, _ in picked[:wanted]] + [picked[-1][0]]
        token = data.api_token(team.users["member"])
        due_date = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
        path = f"/api/teams/{team.team_id}/credit/transactions/"
        common = {"due_date": due_date, "path": path, "seed": label}

        print(
            f"  {CLIENTS} clients ({CLIENT_PROCESSES} processes), {seconds:.0f} s measured"
            f" after {warmup:.0f} s warm-up;"
            f" server: gunicorn, {server.workers} workers ({server.config_note()}); {wanted:,} accounts charged",
            flush=True,
        )
        raw_spec = (
            common
            | _raw_statements(team.team_id)
            | {
                "conninfo": _conninfo(),
                "team_id": team.team_id,
                "user_id": team.users["member"],
                "description": RAW_DESCRIPTION,
            }
        )
        connection.close()  # the loads below run in other processes; nothing here holds a lock
        timing = {"seconds": seconds, "warmup": warmup}
        raw = run_load("raw psycopg, many accounts", raw_clients, raw_spec | {"customers": raw_many}, **timing)
        server.start()
        http_spec = common | {
            "host": "127.0.0.1",
            "port": server.port,
            "token": token,
            "description": DESCRIPTION,
        }
        many = run_load("HTTP, many accounts", http_clients, http_spec | {"customers": http_many}, **timing)
        hot = run_load("HTTP, one hot account", http_clients, http_spec | {"customers": http_hot}, **timing)
        server.stop()
        raw_hot_load = run_load(
            "raw psycopg, one hot account (for reference)",
            raw_clients,
            raw_spec | {"customers": raw_hot},
            **timing,
        )

        ok = report_rate(
            f"Credit charge over HTTP: {CLIENTS} clients, {wanted:,} accounts"
            f" (team of {team.accounts:,} accounts, {team.ledger_rows:,} ledger rows)",
            Rate("POST …/credit/transactions/ (gunicorn)", many.result.counted, many.seconds),
            Rate("raw psycopg: 1 transaction per charge", raw.result.counted, raw.seconds),
            target_ratio=TARGET_MANY,
            unit="/s",
        )
        ok &= report_rate(
            f"Credit charge over HTTP: {CLIENTS} clients on one hot account",
            Rate("POST …/credit/transactions/, one account", hot.result.counted, hot.seconds),
            Rate("POST …/credit/transactions/, many accounts", many.result.counted, many.seconds),
            target_ratio=TARGET_HOT,
            unit="/s",
        )
        print(f"  raw loop on one hot account: {raw_hot_load.rate:.1f} tx/s (for reference)")

        # Correctness: every answer 201, every counted charge in the ledger, the ledger consistent.
        problems = []
        for load in (raw, many, hot, raw_hot_load):
            if load.result.errors:
                problems.append(f"{load.name}: {load.result.errors} failed request(s): {load.result.error_samples}")
        from credit.models import CreditTransaction

        posted = CreditTransaction.objects.filter(team_id=team.team_id, description=DESCRIPTION).count()
        answered = many.result.total - many.result.errors + hot.result.total - hot.result.errors
        if posted != answered:
            problems.append(f"{answered} charges answered 201 but {posted} in the ledger")
        data.figures_rebuild(team.team_id, account_ids=raw_account_ids)  # the raw loop keeps only the balance
        mismatches = ledger.verify_ledger(team=team.team)
        if mismatches:
            problems.append(f"verify_ledger: {len(mismatches)} account(s) differ, e.g. {mismatches[:2]}")
        for problem in problems:
            print(f"  PROBLEM: {problem}")
        if problems:
            print(f"  gunicorn log (last lines):\n{server.log_tail()}")
        return ok and not problems
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        data.drop_team(team)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
