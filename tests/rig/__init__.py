"""Test rig of pullaccess.aws: real HTTP to emulated AWS (moto + a Lightsail emulator).

Import :class:`Rig` with ``tests/`` on ``sys.path``; see README.md beside this file.
"""

from .client import Rig, RigError

__all__ = ["Rig", "RigError"]
