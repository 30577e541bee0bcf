"""Composing letters: one Jinja2 environment per process against a new one per letter (the old behaviour).

Run: ``.venv/bin/python bench/compose.py [--letters 200]``. Both sides compose the same goodbye letters in
one process; the "per letter" side clears the environment cache before each letter, which is what
``messages.compose.environment`` did before it was cached (every template compiled again for every letter).
Prints CPU seconds and the ratio as a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time

from keepwise.messages import compose as c


def run(letters: int, fresh: bool) -> float:
    """CPU seconds to compose ``letters`` letters; ``fresh``: a new environment for each one."""
    start = time.process_time()
    for i in range(letters):
        if fresh:
            c._environment.cache_clear()
        c.compose(
            "goodbye", customer_id=str(i), recipient="a@example.com", customer_name="Ada", language="en",
            cause="bench", facts={}, business_name="Shop", unsubscribe_url="https://example.com/u",
        )  # fmt: skip
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--letters", type=int, default=200)
    n = parser.parse_args().letters
    run(5, False)  # imports and the first compilation, outside both measurements
    fresh, cached = run(n, True), run(n, False)
    print(f"| {n} goodbye letters | CPU (s) |\n|---|---:|")
    print(
        f"| new environment per letter (before) | {fresh:.3f} |\n| one environment (after) | {cached:.3f} |"
    )
    print(f"| ratio before / after | {fresh / cached:.0f}x |")


if __name__ == "__main__":
    main()
