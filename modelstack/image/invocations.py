"""The invoke side of a local Lambda, re-exported for the image build's container smoke tests.

It lives with the local target (`modelstack.deploy.local.invocations`), whose router process
must not import this package.
"""

from __future__ import annotations

from modelstack.deploy.local.invocations import Invocation, InvocationBroker, InvocationFailed

__all__ = ["Invocation", "InvocationBroker", "InvocationFailed"]
