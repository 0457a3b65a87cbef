"""Schema of conf/sweep (option costs): the sensitivity grid and the launcher that runs it.
Launchers are the files of conf/hydra/launcher (plus Hydra's own `basic`)."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from pipeline.core.settings.schema import Bad, NonNegative, Section, Text

BUILT_IN_LAUNCHERS = ("basic",)


def launchers() -> list[str]:
    from pipeline.core.config import conf_dir

    return sorted([p.stem for p in (conf_dir() / "hydra" / "launcher").glob("*.yaml")] + list(BUILT_IN_LAUNCHERS))


class Sweep(Section):
    costs: Annotated[list[Text], Field(min_length=1)]
    scales: Annotated[list[NonNegative], Field(min_length=1)]
    launcher: Text
    dir: Text
    curves: Annotated[dict[str, Text], Field(min_length=1)]

    @field_validator("launcher")
    @classmethod
    def _known_launcher(cls, name: str) -> str:
        known = launchers()
        if name not in known:
            raise Bad("", name, f"allowed one of {', '.join(known)} (conf/hydra/launcher/<name>.yaml)")
        return name
