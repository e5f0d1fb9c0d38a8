"""`/rollback report [YYYY-MM]`: the month's numbers as a message, the charts as files (Slack's
two-step upload: files.getUploadURLExternal, then files.completeUploadExternal)."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.reporting import Month
from bot.usecases.reports import summary_rows
from handlers.blockkit.cards import Message, escape, section
from handlers.slack.deps import HandlerDeps


def report_message(rows: list[tuple[str, str]], month: str, targets: dict[str, str]) -> Message:
    table = "\n".join(f"• *{name}*: {escape(value)}" for name, value in rows)
    goals = " · ".join(f"{escape(k)}: {v}" for k, v in targets.items())
    return {
        "text": f"Rollback report {month}",
        "blocks": [
            section(f"*Rollback report {month}*\n{table}"),
            section(
                f"_Targets (change management guide)_: {goals}\nDefinitions: `rollbot report --month {month} --format md`"
            ),
        ],
    }


async def post_report(
    client: AsyncWebClient, deps: HandlerDeps, channel: str, month: Month | None, now: datetime
) -> None:
    chosen = month or Month(year=now.year, month=now.month)
    auditor = await deps.reports.monthly(chosen)
    report = auditor.report
    await client.chat_postMessage(
        channel=channel,
        **report_message(summary_rows(report), report.metrics.month, report.targets),
    )
    pictures = deps.charts(auditor)
    await client.files_upload_v2(
        channel=channel,
        file_uploads=[
            {"file": data, "filename": name, "title": f"{report.metrics.month} {name[:-4]}"}
            for name, data in pictures.items()
        ],
        initial_comment=f"Charts for {report.metrics.month}",
    )
