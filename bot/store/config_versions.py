"""ConfigMap versions kept in rollbot's own database: the history a ConfigMap rollback needs
(Kubernetes keeps none for ConfigMaps, unlike Deployments' ReplicaSets)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.domain.request import TargetRef
from bot.ports import Clock, ConfigVersion
from bot.store.tables import ConfigVersionRow
from bot.store.uow import UnitOfWork


def _version(row: ConfigVersionRow) -> ConfigVersion:
    return ConfigVersion(
        version=row.version,
        data=json.loads(row.data),
        sha256=row.sha256,
        recorded_at=row.recorded_at,
    )


class StoredConfigVersions:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def history(self, target: TargetRef) -> list[ConfigVersion]:
        async with self._uow() as uow:
            rows = await uow.session.scalars(
                select(ConfigVersionRow)
                .where(col(ConfigVersionRow.target) == target.label)
                .order_by(col(ConfigVersionRow.version))
            )
            return [_version(r) for r in rows]

    async def get(self, target: TargetRef, version: int) -> ConfigVersion | None:
        return next((v for v in await self.history(target) if v.version == version), None)

    async def record(self, target: TargetRef, data: dict[str, str]) -> ConfigVersion:
        """The latest version if the content is unchanged, else a new one (numbered from 1)."""
        body = json.dumps(data, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(body.encode()).hexdigest()
        for _ in range(3):  # two replicas recording at once: the loser reads the winner's number
            known = await self.history(target)
            if known and known[-1].sha256 == digest:
                return known[-1]
            number = (known[-1].version if known else 0) + 1
            try:
                async with self._uow() as uow:
                    uow.session.add(
                        ConfigVersionRow(
                            target=target.label,
                            version=number,
                            sha256=digest,
                            data=body,
                            recorded_at=self._clock.now(),
                        )
                    )
                return ConfigVersion(
                    version=number, data=dict(data), sha256=digest, recorded_at=self._clock.now()
                )
            except IntegrityError:
                continue
        raise RuntimeError(f"could not record a version of {target.label}")
