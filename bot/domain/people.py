"""Who acts on a request."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Person(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.id


# Audit entries for decisions the bot itself takes (decision timeout) name this actor.
SYSTEM = Person(id="rollbot", name="rollbot (system)")
