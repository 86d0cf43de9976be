"""Keep glibc from handing big blocks back to the OS between iterations.

glibc returns blocks above its mmap threshold to the OS on free, so a
benchmark loop would map and fault in fresh pages for every large tensor,
which costs 2-9x on these VMs and measures the kernel's page handling rather
than the computation. reexec() restarts the calling script once with
MALLOC_MMAP_MAX_=0 (no mmap: every block comes from the heap) and
MALLOC_TRIM_THRESHOLD_ / MALLOC_TOP_PAD_ large (freed heap is never trimmed),
the state a long-running training process reaches anyway. Raising
MALLOC_MMAP_THRESHOLD_ alone is not enough: glibc caps it at 32 MiB.
"""

import os
import sys

MALLOC_ENV = {
    "MALLOC_MMAP_MAX_": "0",
    "MALLOC_TRIM_THRESHOLD_": str(1 << 40),
    "MALLOC_TOP_PAD_": str(256 << 20),
}

# Set in the restarted process (and inherited by its children, which then
# already run with MALLOC_ENV) so that the restart happens once.
_MARK = "EFFNET_RETAINED_MALLOC"


def reexec():
    """Replace this process by one with MALLOC_ENV set: glibc reads those
    variables only at start-up, so setting them after it would be too late.
    Returns only in the restarted process."""
    if os.environ.get(_MARK):
        return
    env = dict(os.environ)
    env.update(MALLOC_ENV)
    env[_MARK] = "1"
    os.execve(sys.executable, [sys.executable] + sys.argv, env)
