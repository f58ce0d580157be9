"""Server-side sessions with a CSRF token, an idle timeout and logout.

The browser holds only a random session id in a cookie (``__Host-budstikke`` when
secure: Secure, HttpOnly, SameSite=Lax, Path=/); everything else stays in this
process. A session idle longer than ``idle_timeout`` seconds is gone. Thread-safe.
Sessions do not survive a restart of the console (people log in again).
"""

import secrets
import threading
import time
from typing import Any, Callable, Dict, Optional


class SessionStore:
    def __init__(self, idle_timeout: float, clock: Callable[[], float] = time.monotonic,
                 max_sessions: int = 10000):
        self.idle_timeout = idle_timeout
        self._clock = clock
        self._max = max_sessions
        self._lock = threading.Lock()
        self._data: Dict[str, Dict[str, Any]] = {}

    def create(self) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._expire_locked()
            if len(self._data) >= self._max:
                oldest = min(self._data, key=lambda k: self._data[k]["_seen"])
                del self._data[oldest]
            self._data[sid] = {"_seen": self._clock(), "csrf": secrets.token_urlsafe(32)}
        return sid

    def get(self, sid: Optional[str], touch: bool = True) -> Optional[Dict[str, Any]]:
        """The session's dict (mutable), touching its idle timer unless ``touch`` is
        false; None if unknown or idle too long."""
        if not sid:
            return None
        with self._lock:
            s = self._data.get(sid)
            now = self._clock()
            if s is None:
                return None
            if now - s["_seen"] > self.idle_timeout:
                del self._data[sid]
                return None
            if touch:
                s["_seen"] = now
            return s

    def delete(self, sid: Optional[str]) -> None:
        with self._lock:
            self._data.pop(sid or "", None)

    def count(self) -> int:
        with self._lock:
            self._expire_locked()
            return len(self._data)

    def _expire_locked(self) -> None:
        now = self._clock()
        for k in [k for k, v in self._data.items() if now - v["_seen"] > self.idle_timeout]:
            del self._data[k]
