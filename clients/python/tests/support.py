"""Test helpers: synthetic national ids (month + 80) only, never real ones."""

import datetime as _dt

_W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def synthetic_national_id(birth: _dt.date, individual: int = 500) -> str:
    """A synthetic fødselsnummer (month + 80) with valid check digits, born in
    2000-2039 (individual number 500-999)."""
    assert 2000 <= birth.year <= 2039
    for ind in list(range(max(500, individual), 1000)) + list(range(500, individual)):
        digits = "%02d%02d%02d%03d" % (birth.day, birth.month + 80, birth.year % 100, ind)
        k1 = (11 - sum(w * int(d) for w, d in zip(_W1, digits)) % 11) % 11
        if k1 == 10:
            continue
        digits += str(k1)
        k2 = (11 - sum(w * int(d) for w, d in zip(_W2, digits)) % 11) % 11
        if k2 == 10:
            continue
        return digits + str(k2)
    raise ValueError("no valid individual number")


def child_id(age_years: int, individual: int = 500) -> str:
    """A synthetic id of a child who is ``age_years`` old today (birthday 30 days ago)."""
    today = _dt.date.today() - _dt.timedelta(days=30)
    try:
        birth = today.replace(year=today.year - age_years)
    except ValueError:  # 29 February
        birth = today.replace(year=today.year - age_years, day=28)
    return synthetic_national_id(birth, individual)
