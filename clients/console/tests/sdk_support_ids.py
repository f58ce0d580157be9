"""Synthetic national ids (month + 80) from the SDK tests' helpers."""
import importlib.util
import os

_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python",
                     "tests", "support.py")
_spec = importlib.util.spec_from_file_location("budstikke_sdk_support", _path)
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
child_id = _mod.child_id
synthetic_national_id = _mod.synthetic_national_id
