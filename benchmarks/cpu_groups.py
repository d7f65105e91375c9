"""CPU seconds by process group, from /proc: what each part of a deployment spent on the requests measured.

A group is its root processes (a postmaster, an `sdi serve`, an nginx) and all their descendants, so that a
PostgreSQL backend counts for its server and a gunicorn worker for its node.
"""

from __future__ import annotations

import os
from pathlib import Path


def snapshot() -> dict[int, tuple[int, float]]:
    """Every process: its parent and the CPU seconds (user + system) it has used so far."""
    tick, out = os.sysconf("SC_CLK_TCK"), {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:  # the fields after the command name: state ppid pgrp ... utime (11th) stime (12th)
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # it has just exited
            out[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return out


def by_group(before: dict, after: dict, roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used between two snapshots by each group: its root processes and all their descendants.

    A process that exited in between is not counted (the pools keep their connections, so few do).
    """
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in after.items():
        children.setdefault(parent, []).append(pid)
    out = {}
    for group, pids in roots.items():
        todo, used = list(pids), 0.0
        while todo:
            pid = todo.pop()
            if pid in after:
                used += after[pid][1] - before.get(pid, (0, 0.0))[1]
            todo += children.get(pid, [])
        out[group] = used
    return out


def settle(quiet: float = 0.15, window: float = 3.0, timeout: float = 1800.0) -> float:
    """Wait until the whole machine is quiet (busy under `quiet` of its cores over two windows in a row); returns
    the seconds waited. `sdi serve` answers before its start-up work is done (it writes the download files in a
    thread, minutes at millions of rows), and a measurement taken meanwhile shares the cores with it."""
    import time

    def busy() -> tuple[float, float]:
        fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(fields) - fields[3] - fields[4], sum(fields)  # all but idle and iowait; all

    started, calm = time.monotonic(), 0
    while time.monotonic() - started < timeout and calm < 2:
        (b0, t0), _ = busy(), time.sleep(window)
        b1, t1 = busy()
        calm = calm + 1 if (b1 - b0) / max(t1 - t0, 1e-9) < quiet else 0
    return time.monotonic() - started
