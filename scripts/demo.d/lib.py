"""Small helpers for the demo chapters (synthetic national ids, JSON fields)."""
import json
import sys

W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def synthetic_id(day, month, year):
    """A checksum-valid SYNTHETIC national id (month + 80) for a birth date."""
    yy = year % 100
    start = 500 if year >= 2000 else 0
    for individual in range(start, start + 500):
        digits = [int(c) for c in f"{day:02d}{month + 80:02d}{yy:02d}{individual:03d}"]
        k1 = 11 - sum(a * b for a, b in zip(W1, digits)) % 11
        k1 = 0 if k1 == 11 else k1
        if k1 == 10:
            continue
        digits.append(k1)
        k2 = 11 - sum(a * b for a, b in zip(W2, digits)) % 11
        k2 = 0 if k2 == 11 else k2
        if k2 == 10:
            continue
        return "".join(map(str, digits + [k2]))
    raise SystemExit("no synthetic id found")


if __name__ == "__main__":
    if sys.argv[1] == "id":
        print(synthetic_id(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
    elif sys.argv[1] == "field":  # field NAME < json; nothing and exit 1 if absent
        try:
            value = json.load(sys.stdin)[sys.argv[2]]
        except (ValueError, KeyError, TypeError):
            raise SystemExit(1)
        print(value if isinstance(value, str) else json.dumps(value))
