"""Settings refuse a flag provider they cannot reach, naming the variables."""

from __future__ import annotations

import pytest

from bot.config.settings import MissingSettingError, load_settings

SLACK = {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s"}


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (
            {"flag_provider": "launchdarkly"},
            "ROLLBOT_FLAG_PROVIDER=launchdarkly needs ROLLBOT_LAUNCHDARKLY_TOKEN",
        ),
        (
            {"flag_provider": "unleash", "unleash_token": "t"},
            "needs ROLLBOT_UNLEASH_URL and ROLLBOT_UNLEASH_TOKEN",
        ),
        ({"flag_provider": "split"}, "invalid setting ROLLBOT_FLAG_PROVIDER"),
    ],
)
def test_a_flag_provider_without_its_access_is_refused(given: dict[str, str], says: str) -> None:
    with pytest.raises(MissingSettingError, match=says):
        load_settings(**SLACK, **given)


def test_a_reachable_provider_is_accepted() -> None:
    settings = load_settings(
        **SLACK, flag_provider="unleash", unleash_url="http://u", unleash_token="t"
    )
    assert (settings.flag_provider, settings.unleash_project) == ("unleash", "default")


def test_serve_builds_the_flag_executor_the_settings_name() -> None:
    from integrations.flags.launchdarkly import LaunchDarklyExecutor
    from integrations.flags.unleash import UnleashExecutor
    from rollbot.bootstrap.executors import codedeploy_executor, flag_executor

    versions: object = None  # not used until a flag is read
    ld = load_settings(**SLACK, flag_provider="launchdarkly", launchdarkly_token="api-1")
    unleash = load_settings(
        **SLACK, flag_provider="unleash", unleash_url="http://u", unleash_token="t"
    )
    assert isinstance(flag_executor(ld, versions), LaunchDarklyExecutor)  # type: ignore[arg-type]
    assert isinstance(flag_executor(unleash, versions), UnleashExecutor)  # type: ignore[arg-type]
    assert flag_executor(load_settings(**SLACK), versions) is None  # type: ignore[arg-type]
    endpoint = load_settings(
        **SLACK, codedeploy_endpoint="http://127.0.0.1:9", aws_region="eu-west-1"
    )
    client = codedeploy_executor(endpoint)._client
    assert (client.meta.endpoint_url, client.meta.region_name) == (
        "http://127.0.0.1:9",
        "eu-west-1",
    )


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"log_level": "verbose"}, "invalid setting ROLLBOT_LOG_LEVEL"),
        ({"log_format": "pretty"}, "invalid setting ROLLBOT_LOG_FORMAT"),
    ],
)
def test_logging_settings_take_only_their_values(given: dict[str, str], says: str) -> None:
    with pytest.raises(MissingSettingError, match=says):
        load_settings(**SLACK, **given)


def test_log_levels_are_read_in_any_case() -> None:
    settings = load_settings(**SLACK, log_level="WARNING", log_format="JSON")
    assert (settings.log_level, settings.log_format) == ("warning", "json")
