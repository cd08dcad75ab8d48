"""The allocator settings of a process that trains (core/memory.py)."""

import subprocess
import sys

import pytest

from playground.core.memory import _glibc

# In a fresh interpreter, so that no earlier test has tuned this process's allocator: page faults
# while a small CNN trains on the CPU, before and after keep_freed_memory. Counts of page faults,
# not times: they depend on the allocation pattern, not on the machine's speed or load.
STEPS = r"""
import resource, sys, torch
from torch import nn
from playground.core.memory import keep_freed_memory

torch.manual_seed(0)
torch.set_num_threads(1)
model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1),
                      nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x, y = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))

def faults(steps):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults(3)   # the first steps fault in what the process had never touched
plain = faults(6)
keep_freed_memory()
faults(3)
print(plain, faults(6))
"""


@pytest.mark.skipif(_glibc() is None, reason="glibc's mallopt: Linux with glibc only")
def test_a_training_process_stops_faulting_its_step_buffers_in_again():
    done = subprocess.run([sys.executable, "-c", STEPS], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    plain, kept = map(int, done.stdout.split())
    # glibc hands a freed block over its threshold back to the kernel and faults it in at every
    # step: thousands of faults in 6 steps (each of a 4 KiB page). Kept, the heap faults only where
    # it grows past its peak so far: at most about one step's worth after the warm-up, often none
    assert plain > 1000
    assert kept < plain / 4
