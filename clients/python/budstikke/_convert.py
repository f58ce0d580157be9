"""Conversions between friendly Python values and the protobuf types (internal)."""

import datetime as _dt
from typing import Any, Iterable, List, Optional, Union

import grpc
from google.protobuf import timestamp_pb2

from budstikke.errors import InvalidArgument
from budstikke.pb import types_pb2

EnumLike = Union[int, str, None]
DateLike = Union[_dt.date, str, "types_pb2.Date", None]
TimeLike = Union[_dt.datetime, "timestamp_pb2.Timestamp", None]


def _local_invalid(message: str) -> InvalidArgument:
    return InvalidArgument(message + " (checked locally)", code=grpc.StatusCode.INVALID_ARGUMENT)


def enum_value(enum_type: Any, value: EnumLike, prefix: str, field: str) -> int:
    """Accepts the enum's int, its full name, or the short command-line form.

    ``enum_value(types_pb2.AgencyType, "bup", "AGENCY_TYPE_", "type")`` -> 7;
    ``"3-5"`` for an AgeBand gives AGE_BAND_3_5."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise _local_invalid("%s: not a valid value: %r" % (field, value))
    if isinstance(value, int):
        return value
    s = str(value).strip().upper().replace("-", "_").replace(" ", "_")
    for name in (s, prefix + s):
        try:
            return enum_type.Value(name)
        except ValueError:
            pass
    allowed = ", ".join(n[len(prefix):].lower() for n in enum_type.keys()
                        if not n.endswith("_UNSPECIFIED"))
    raise _local_invalid("%s: unknown value %r (one of: %s)" % (field, value, allowed))


def enum_values(enum_type: Any, values: Optional[Iterable[EnumLike]], prefix: str,
                field: str) -> List[int]:
    if values is None:
        return []
    if isinstance(values, (str, int)):
        values = [values]
    return [enum_value(enum_type, v, prefix, field) for v in values]


def enum_name(enum_type: Any, value: int, prefix: str) -> str:
    """``enum_name(ConsultationStatus, 1, "CONSULTATION_STATUS_")`` -> ``"OPEN"``."""
    try:
        name = enum_type.Name(value)
    except ValueError:
        return str(value)
    return name[len(prefix):] if name.startswith(prefix) else name


def to_date(value: DateLike, field: str) -> Optional["types_pb2.Date"]:
    if value is None or value == "":
        return None
    if isinstance(value, types_pb2.Date):
        return value
    if isinstance(value, _dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = _dt.date.fromisoformat(value)
        except ValueError:
            raise _local_invalid("%s: expected YYYY-MM-DD, got %r" % (field, value)) from None
    if isinstance(value, _dt.date):
        return types_pb2.Date(year=value.year, month=value.month, day=value.day)
    raise _local_invalid("%s: expected a date, got %r" % (field, value))


def to_timestamp(value: TimeLike, field: str) -> Optional[timestamp_pb2.Timestamp]:
    if value is None:
        return None
    if isinstance(value, timestamp_pb2.Timestamp):
        return value
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _local_invalid("%s: expected an ISO 8601 time, got %r" % (field, value)) \
                from None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        ts = timestamp_pb2.Timestamp()
        ts.FromDatetime(value.astimezone(_dt.timezone.utc).replace(tzinfo=None))
        return ts
    raise _local_invalid("%s: expected a datetime, got %r" % (field, value))


def from_timestamp(ts: timestamp_pb2.Timestamp) -> Optional[_dt.datetime]:
    """An aware UTC datetime, or None for an unset (zero) timestamp."""
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime().replace(tzinfo=_dt.timezone.utc)
