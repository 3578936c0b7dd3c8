"""Builds grouped summary reports from sales CSV exports."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

REQUIRED_COLUMNS = ("date", "region", "product", "units", "revenue")


@dataclass
class SaleRecord:
    day: date
    region: str
    product: str
    units: int
    revenue: Decimal


@dataclass
class GroupSummary:
    key: str
    units: int = 0
    revenue: Decimal = Decimal("0")
    orders: int = 0

    def add(self, record: SaleRecord) -> None:
        self.units += record.units
        self.revenue += record.revenue
        self.orders += 1

    @property
    def average_order(self) -> Decimal:
        if not self.orders:
            return Decimal("0")
        return (self.revenue / self.orders).quantize(Decimal("0.01"))


def parse_row(row: dict[str, str], line_no: int) -> SaleRecord:
    try:
        return SaleRecord(
            day=date.fromisoformat(row["date"].strip()),
            region=row["region"].strip().title(),
            product=row["product"].strip(),
            units=int(row["units"]),
            revenue=Decimal(row["revenue"].replace(",", "").strip()),
        )
    except (KeyError, ValueError, InvalidOperation) as exc:
        raise ValueError(f"bad row on line {line_no}: {exc}") from exc


def read_records(source: io.TextIOBase) -> tuple[list[SaleRecord], list[str]]:
    reader = csv.DictReader(source)
    missing = [col for col in REQUIRED_COLUMNS if col not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")
    records, errors = [], []
    for line_no, row in enumerate(reader, start=2):
        try:
            records.append(parse_row(row, line_no))
        except ValueError as exc:
            errors.append(str(exc))
    return records, errors


def load_file(path: Path) -> tuple[list[SaleRecord], list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return read_records(handle)


def group_by(records: list[SaleRecord], field_name: str) -> dict[str, GroupSummary]:
    groups: dict[str, GroupSummary] = {}
    for record in records:
        key = str(getattr(record, field_name))
        if key not in groups:
            groups[key] = GroupSummary(key)
        groups[key].add(record)
    return groups


def monthly_totals(records: list[SaleRecord]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for record in records:
        totals[record.day.strftime("%Y-%m")] += record.revenue
    return dict(sorted(totals.items()))


def filter_records(records: list[SaleRecord], start: date | None = None,
                   end: date | None = None, region: str | None = None) -> list[SaleRecord]:
    result = []
    for record in records:
        if start and record.day < start:
            continue
        if end and record.day > end:
            continue
        if region and record.region.lower() != region.lower():
            continue
        result.append(record)
    return result


def render_table(groups: dict[str, GroupSummary], title: str) -> str:
    rows = sorted(groups.values(), key=lambda g: g.revenue, reverse=True)
    width = max([len(title)] + [len(g.key) for g in rows])
    header = f"{title:<{width}}  {'orders':>7}  {'units':>7}  {'revenue':>12}  {'avg':>9}"
    lines = [header, "-" * len(header)]
    for g in rows:
        lines.append(
            f"{g.key:<{width}}  {g.orders:>7}  {g.units:>7}  {g.revenue:>12,.2f}  "
            f"{g.average_order:>9,.2f}"
        )
    total = sum((g.revenue for g in rows), Decimal("0"))
    lines.append(f"{'TOTAL':<{width}}  {'':>7}  {'':>7}  {total:>12,.2f}")
    return "\n".join(lines)


def write_summary_csv(groups: dict[str, GroupSummary], target: io.TextIOBase) -> int:
    writer = csv.writer(target)
    writer.writerow(["key", "orders", "units", "revenue", "average_order"])
    count = 0
    for key in sorted(groups):
        g = groups[key]
        writer.writerow([g.key, g.orders, g.units, f"{g.revenue:.2f}", f"{g.average_order:.2f}"])
        count += 1
    return count


def build_report(path: Path, region: str | None = None) -> str:
    records, errors = load_file(path)
    records = filter_records(records, region=region)
    sections = [
        render_table(group_by(records, "region"), "Region"),
        render_table(group_by(records, "product"), "Product"),
    ]
    months = monthly_totals(records)
    sections.append("\n".join(f"{month}  {value:>12,.2f}" for month, value in months.items()))
    if errors:
        sections.append(f"{len(errors)} rows skipped:\n" + "\n".join(errors[:10]))
    return "\n\n".join(sections)
