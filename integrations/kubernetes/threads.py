"""The threads the official `kubernetes` client's blocking calls run on.

Not the event loop's default pool: that has min(32, cores + 4) threads (six on a two-core
machine), shared with everything else that runs in a thread. An API server that takes seconds
per call would fill it, and then every other blocking call (evidence writes, CodeDeploy) and
every other rollback's preflight would queue behind one slow cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

# Enough for many rollbacks' preflights at once against a slow API server; each thread mostly
# waits on the network.
KUBE_THREADS = 32
_KUBERNETES = ThreadPoolExecutor(max_workers=KUBE_THREADS, thread_name_prefix="kubernetes")


async def in_kube_thread(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_KUBERNETES, partial(fn, *args))
