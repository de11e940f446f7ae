"""Cron schedules in time zones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cepkit.schedule import next_fire_times


def schedule(expression: str, tz: str = "UTC") -> dict[str, object]:
    return {
        "rule_name": "s",
        "trigger_type": "schedule",
        "trigger_spec": {"scheduleExpression": expression, "timezone": tz},
    }


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("*/5 * * * *", ["10:05", "10:10", "10:15"]),
        ("*/15 * * * *", ["10:15", "10:30", "10:45"]),
        ("0 * * * *", ["11:00", "12:00", "13:00"]),
        ("0 */2 * * *", ["12:00", "14:00", "16:00"]),
    ],
)
def test_guide_cron_table(expression: str, expected: list[str]) -> None:
    after = datetime(2026, 2, 9, 10, 1, tzinfo=UTC)  # a Monday
    assert [
        t.strftime("%H:%M") for t in next_fire_times(schedule(expression), after, 3)
    ] == expected


def test_daily_weekly_monthly_and_weekdays() -> None:
    friday = datetime(2026, 2, 6, 12, 0, tzinfo=UTC)
    assert next_fire_times(schedule("0 9 * * *"), friday)[0] == datetime(2026, 2, 7, 9, tzinfo=UTC)
    assert next_fire_times(schedule("0 9 * * 1"), friday)[0] == datetime(2026, 2, 9, 9, tzinfo=UTC)
    assert next_fire_times(schedule("0 0 1 * *"), friday)[0] == datetime(2026, 3, 1, tzinfo=UTC)
    weekdays = next_fire_times(schedule("0 9 * * 1-5"), friday, 2)
    assert [t.day for t in weekdays] == [9, 10]


def test_kst_nine_oclock_is_midnight_utc() -> None:
    # the guide's note: KST 09:00 is UTC 00:00; with a timezone no conversion is needed
    [t] = next_fire_times(schedule("0 9 * * *", "Asia/Seoul"), datetime(2026, 2, 8, 1, tzinfo=UTC))
    assert t == datetime(2026, 2, 9, 0, 0, tzinfo=UTC)


def test_not_a_schedule_rule_and_naive_datetimes() -> None:
    lab1 = {
        "rule_name": "cpu",
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 1},
    }
    with pytest.raises(ValueError, match="is a metric rule, not schedule"):
        next_fire_times(lab1, datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_times(schedule("* * * * *"), datetime(2026, 1, 1))  # noqa: DTZ001  (naive on purpose)
