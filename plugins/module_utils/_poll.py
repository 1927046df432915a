# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bounded, jittered polling shared by the collection's modules (private module_utils).

botocore has no waiters for the states we wait on (Lightsail's puller role, IAM principal
propagation into ECR), so this is the one place that decides how long to sleep between tries.
"""

import random
import time


def jittered_sleeps(timeout, initial=1.0, maximum=10.0, clock=time.monotonic, sleep=time.sleep):
    """Yield the retry number (1, 2, ...) before each retry, having slept with exponential
    backoff and jitter, until ``timeout`` seconds have passed since the first call. The caller
    stops iterating when its condition holds; running out of the iterator means time is up.

    The first retry is yielded after a short sleep, never immediately, so a busy API is not hit
    twice in a row."""
    deadline = clock() + max(0.0, float(timeout))
    delay = max(0.05, float(initial))
    attempt = 0
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            return
        sleep(min(remaining, random.uniform(delay / 2.0, delay)))
        attempt += 1
        yield attempt
        delay = min(maximum, delay * 2.0)


def settle(seconds, sleep=time.sleep):
    """Sleep between three quarters and all of ``seconds`` (jittered so that parallel writers
    that started together do not read back in lock-step)."""
    if seconds and seconds > 0:
        sleep(random.uniform(seconds * 0.75, seconds))
