#!/usr/bin/env python3
"""Fails if a committed fuzz corpus (tests/fuzz/corpus/) holds a checksum-valid
national id with a real birth date (day 1-31 or D-number day 41-71, month
1-12): inputs merged in from fuzzing runs may have mutated one into being.
Synthetic ids (month + 80) are fine. Run after merging new inputs."""
import pathlib
import re
import sys

W2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]


def check_digit(digits, weights):
    k = 11 - sum(d * w for d, w in zip(digits, weights)) % 11
    return 0 if k == 11 else k


def real_looking(s):
    d = [int(c) for c in s]
    # Only the second control digit: ids issued from 2032 may carry any of
    # several first control digits, so a valid second one is enough to look
    # real (the first one is not checked).
    k2 = check_digit(d[:10], W2)
    if k2 == 10 or k2 != d[10]:
        return False
    day, month = int(s[:2]), int(s[2:4])
    if day > 40:
        day -= 40
    return 1 <= month <= 12 and 1 <= day <= 31


def main():
    root = pathlib.Path(__file__).resolve().parent / "corpus"
    bad = []
    for f in sorted(root.rglob("*")):
        if f.is_file():
            for m in re.finditer(rb"(?=(\d{11}))", f.read_bytes()):
                if real_looking(m.group(1).decode()):
                    bad.append(f"{f.relative_to(root)}: {m.group(1).decode()[:4]}*******")
    for b in bad:
        print(f"check_corpus: real-looking national id in {b}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
