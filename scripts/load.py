"""A small, steady load for watching a rollout: many users, varied questions, the OpenAI SDK.

    python scripts/load.py --duration 90 --rps 40 --users 300

Each request comes from one of ``--users`` users (the OpenAI ``user`` field, so
canary assignment is sticky per user) and asks a different question. Every few
seconds it prints what answered: the route (stable, canary, fallback), the
bundle, and errors by status. Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
from collections import Counter

import openai
from openai import AsyncOpenAI


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8080/v1")
    parser.add_argument("--api-key", default="local", help="A data-plane key, if keys are on.")
    parser.add_argument("--model", default="support-chat", help="The alias to call.")
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds to run.")
    parser.add_argument("--rps", type=float, default=20.0, help="Requests per second.")
    parser.add_argument("--users", type=int, default=200, help="Distinct `user` values.")
    parser.add_argument("--report-every", type=float, default=5.0, help="Seconds between lines.")
    return parser.parse_args()


class Tally:
    def __init__(self) -> None:
        self.window: Counter[str] = Counter()
        self.total: Counter[str] = Counter()

    def add(self, key: str) -> None:
        self.window[key] += 1
        self.total[key] += 1

    def line(self, counts: Counter[str]) -> str:
        return "  ".join(f"{key}={n}" for key, n in sorted(counts.items())) or "no answers yet"


async def ask(client: AsyncOpenAI, args: argparse.Namespace, n: int, tally: Tally) -> None:
    user = f"user-{random.randrange(args.users)}"
    try:
        raw = await client.chat.completions.with_raw_response.create(
            model=args.model,
            messages=[{"role": "user", "content": f"Where is my order {n}?"}],
            user=user,
            extra_body={"variables": {"customer_name": user}},
        )
    except openai.APIStatusError as exc:
        route = exc.response.headers.get("x-pinyard-route", "none")
        tally.add(f"{route}:error-{exc.status_code}")
        return
    except openai.APIConnectionError:
        tally.add("unreachable")
        return
    tally.add(f"{raw.headers['x-pinyard-route']}:{raw.headers['x-pinyard-bundle']}")


async def main() -> None:
    args = parse_args()
    client = AsyncOpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0)
    tally = Tally()
    started = last = time.monotonic()
    pending: set[asyncio.Task[None]] = set()
    n = 0
    try:
        while (now := time.monotonic()) - started < args.duration:
            task = asyncio.create_task(ask(client, args, n, tally))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
            if now - last >= args.report_every:
                print(f"[{now - started:5.0f}s] {tally.line(tally.window)}", flush=True)
                tally.window.clear()
                last = now
            await asyncio.sleep(1 / args.rps)
        await asyncio.gather(*pending)
    finally:
        await client.close()
    print(f"[ total] {tally.line(tally.total)}", flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: stop quietly
        asyncio.run(main())
