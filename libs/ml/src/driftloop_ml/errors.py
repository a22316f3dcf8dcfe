"""Why bytes are not a model this process will load: one error family, each saying what to do."""

from __future__ import annotations

#: The setting that trusts the types of a user's own modules (comma-separated module prefixes).
TRUSTED_MODULES_SETTING = "DRIFTLOOP_TRUSTED_MODULES"


class ArtifactError(ValueError):
    """The bytes are not a model artifact this code can load; the message says why."""


class UntrustedTypes(ArtifactError):
    """A skops file holds types outside the trusted list; nothing of it was constructed."""

    def __init__(self, what: str, types: list[str]) -> None:
        self.types = sorted(types)
        modules = sorted({t.rpartition(".")[0] for t in self.types})
        super().__init__(
            f"{what} holds types that are not trusted: {self.types}; nothing was loaded. "
            f"If they are your own model code, add their module to {TRUSTED_MODULES_SETTING} "
            f"(comma-separated module prefixes, e.g. {','.join(modules)}) on the trainer, "
            "the registry and the predictor"
        )


class PickleRefused(ArtifactError):
    """Bytes that only unpickling could read, where unpickling is not allowed."""
