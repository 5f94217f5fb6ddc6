"""Sandbox state: the host's sandbox policy, as the manager sends it and servers receive it.

Two wire forms exist, and both sides of syncmcp speak both:

* syncmcp's own: a server declaring ``capabilities.experimental["syncmcp/sandbox-state"]``
  receives the request ``syncmcp/sandbox-state/update`` with camelCase params
  (:meth:`SandboxState.to_syncmcp`).
* Codex's: a server declaring ``capabilities.experimental["codex/sandbox-state"]`` receives
  ``codex/sandbox-state/update`` with Codex's field names (:meth:`SandboxState.to_codex`).

A server that declares both gets only syncmcp's form. Both are requests answered with ``{}``.

Example:
    >>> state = SandboxState("workspace-write", "/work", writable_roots=["/work"])
    >>> state.to_codex()["sandboxPolicy"]["type"]
    'workspace-write'
    >>> SandboxState.from_params(state.to_syncmcp()) == state
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

__all__ = [
    "CODEX_SANDBOX_CAPABILITY",
    "CODEX_SANDBOX_METHOD",
    "SANDBOX_POLICIES",
    "SYNCMCP_SANDBOX_CAPABILITY",
    "SYNCMCP_SANDBOX_METHOD",
    "SandboxState",
]

#: syncmcp's experimental server capability and request method.
SYNCMCP_SANDBOX_CAPABILITY = "syncmcp/sandbox-state"
SYNCMCP_SANDBOX_METHOD = "syncmcp/sandbox-state/update"
#: Codex's, for servers written for Codex.
CODEX_SANDBOX_CAPABILITY = "codex/sandbox-state"
CODEX_SANDBOX_METHOD = "codex/sandbox-state/update"

#: The policies, from most to least restrictive.
SANDBOX_POLICIES: Tuple[str, ...] = ("read-only", "workspace-write", "danger-full-access")


@dataclass(frozen=True)
class SandboxState:
    """What a sandbox-aware server may do, and where.

    Args:
        policy: ``"read-only"``, ``"workspace-write"`` or ``"danger-full-access"``.
        cwd: the working directory the policy is relative to.
        sandbox_exe: path of an OS sandbox helper (Codex's ``codexLinuxSandboxExe``), if any.
        writable_roots: with ``workspace-write``, the directories writes are allowed under
            (``cwd`` is always one of them).
        network_access: with ``workspace-write``, whether commands may use the network.
        exclude_tmpdir_env_var: with ``workspace-write``, do not make ``$TMPDIR`` writable.
        exclude_slash_tmp: with ``workspace-write``, do not make ``/tmp`` writable.

    Raises:
        ValueError: an unknown policy.

    Example:
        >>> SandboxState("read-only", "/srv/project").policy
        'read-only'
    """

    policy: str
    cwd: str
    sandbox_exe: Optional[str] = None
    writable_roots: Tuple[str, ...] = field(default_factory=tuple)
    network_access: bool = False
    exclude_tmpdir_env_var: bool = False
    exclude_slash_tmp: bool = False

    def __post_init__(self) -> None:
        if self.policy not in SANDBOX_POLICIES:
            raise ValueError(f"sandbox policy must be one of {', '.join(SANDBOX_POLICIES)}, got {self.policy!r}")
        # Accept any iterable of strings (a list, typically) and store a tuple.
        object.__setattr__(self, "writable_roots", tuple(_strings(self.writable_roots)))

    def to_syncmcp(self) -> Dict[str, Any]:
        """Params of ``syncmcp/sandbox-state/update``."""
        policy: Dict[str, Any] = {"type": self.policy}
        if self.policy == "workspace-write":
            policy.update(
                writableRoots=list(self.writable_roots),
                networkAccess=self.network_access,
                excludeTmpdirEnvVar=self.exclude_tmpdir_env_var,
                excludeSlashTmp=self.exclude_slash_tmp,
            )
        return {"policy": policy, "cwd": self.cwd, "sandboxExe": self.sandbox_exe}

    def to_codex(self) -> Dict[str, Any]:
        """Params of ``codex/sandbox-state/update`` (camelCase outside, snake_case in the policy)."""
        policy: Dict[str, Any] = {"type": self.policy}
        if self.policy == "workspace-write":
            policy.update(
                writable_roots=list(self.writable_roots),
                network_access=self.network_access,
                exclude_tmpdir_env_var=self.exclude_tmpdir_env_var,
                exclude_slash_tmp=self.exclude_slash_tmp,
            )
        return {
            "sandboxPolicy": policy,
            "codexLinuxSandboxExe": self.sandbox_exe,
            "sandboxCwd": self.cwd,
            "useLinuxSandboxBwrap": False,
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SandboxState:
        """Read either wire form (the server side of the update request).

        Raises:
            ValueError: the params are not a sandbox state.
        """
        if "sandboxPolicy" in params:
            policy = params.get("sandboxPolicy")
            cwd = params.get("sandboxCwd")
            exe = params.get("codexLinuxSandboxExe")
            keys = ("writable_roots", "network_access", "exclude_tmpdir_env_var", "exclude_slash_tmp")
        else:
            policy = params.get("policy")
            cwd = params.get("cwd")
            exe = params.get("sandboxExe")
            keys = ("writableRoots", "networkAccess", "excludeTmpdirEnvVar", "excludeSlashTmp")
        if isinstance(policy, str):
            policy = {"type": policy}
        if not isinstance(policy, Mapping) or not isinstance(cwd, str):
            raise ValueError("sandbox state needs a policy object and a cwd string")
        return cls(
            str(policy.get("type")),
            cwd,
            exe if isinstance(exe, str) else None,
            tuple(_strings(policy.get(keys[0]) or ())),
            policy.get(keys[1]) is True,
            policy.get(keys[2]) is True,
            policy.get(keys[3]) is True,
        )


def _strings(values: Iterable[Any]) -> Iterable[str]:
    for value in values:
        if not isinstance(value, str):
            raise ValueError(f"writable roots must be strings, got {value!r}")
        yield value
