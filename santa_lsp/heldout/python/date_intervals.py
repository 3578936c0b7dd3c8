"""Helpers for working with date ranges, business days and booking intervals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterator

WEEKEND = {5, 6}


@dataclass(frozen=True, order=True)
class Interval:
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"interval ends before it starts: {self.start} > {self.end}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: Interval) -> bool:
        return self.start <= other.end and other.start <= self.end

    def intersection(self, other: Interval) -> Interval | None:
        if not self.overlaps(other):
            return None
        return Interval(max(self.start, other.start), min(self.end, other.end))

    def each_day(self) -> Iterator[date]:
        current = self.start
        while current <= self.end:
            yield current
            current += timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def parse_date(value: str) -> date:
    for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y"):
        try:
            return datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    raise ValueError(f"unrecognized date: {value!r}")


def parse_interval(text: str) -> Interval:
    if ".." not in text:
        day = parse_date(text)
        return Interval(day, day)
    left, right = text.split("..", 1)
    return Interval(parse_date(left), parse_date(right))


def merge_intervals(intervals: list[Interval]) -> list[Interval]:
    if not intervals:
        return []
    ordered = sorted(intervals)
    merged = [ordered[0]]
    for current in ordered[1:]:
        last = merged[-1]
        if current.start <= last.end + timedelta(days=1):
            merged[-1] = Interval(last.start, max(last.end, current.end))
        else:
            merged.append(current)
    return merged


def free_slots(window: Interval, busy: list[Interval]) -> list[Interval]:
    slots = []
    cursor = window.start
    for block in merge_intervals(busy):
        if block.end < window.start or block.start > window.end:
            continue
        if block.start > cursor:
            slots.append(Interval(cursor, block.start - timedelta(days=1)))
        cursor = max(cursor, block.end + timedelta(days=1))
    if cursor <= window.end:
        slots.append(Interval(cursor, window.end))
    return slots


def is_business_day(day: date, holidays: set[date] | None = None) -> bool:
    if day.weekday() in WEEKEND:
        return False
    return holidays is None or day not in holidays


def add_business_days(start: date, count: int, holidays: set[date] | None = None) -> date:
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    current = start
    while remaining > 0:
        current += timedelta(days=step)
        if is_business_day(current, holidays):
            remaining -= 1
    return current


def business_days_between(interval: Interval, holidays: set[date] | None = None) -> int:
    return sum(1 for day in interval.each_day() if is_business_day(day, holidays))


def month_bounds(year: int, month: int) -> Interval:
    first = date(year, month, 1)
    if month == 12:
        next_first = date(year + 1, 1, 1)
    else:
        next_first = date(year, month + 1, 1)
    return Interval(first, next_first - timedelta(days=1))


def week_of(day: date) -> Interval:
    monday = day - timedelta(days=day.weekday())
    return Interval(monday, monday + timedelta(days=6))


def humanize_delta(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    suffix = "ago" if seconds < 0 else "from now"
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            amount = seconds // size
            plural = "s" if amount != 1 else ""
            return f"{amount} {unit}{plural} {suffix}"
    return "just now"


def age_on(birthday: date, today: date) -> int:
    years = today.year - birthday.year
    if (today.month, today.day) < (birthday.month, birthday.day):
        years -= 1
    return years
