"""Small inventory and order model for a warehouse backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum


class OrderStatus(Enum):
    DRAFT = "draft"
    PLACED = "placed"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class StockError(Exception):
    pass


@dataclass
class Product:
    sku: str
    name: str
    price: Decimal
    weight_kg: float = 0.0

    def label(self) -> str:
        return f"{self.sku} - {self.name} ({self.price:.2f})"


@dataclass
class OrderLine:
    product: Product
    quantity: int

    def subtotal(self) -> Decimal:
        return self.product.price * self.quantity

    def weight(self) -> float:
        return self.product.weight_kg * self.quantity


@dataclass
class Order:
    order_id: str
    customer: str
    lines: list[OrderLine] = field(default_factory=list)
    status: OrderStatus = OrderStatus.DRAFT

    def add_line(self, product: Product, quantity: int) -> None:
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        for line in self.lines:
            if line.product.sku == product.sku:
                line.quantity += quantity
                return
        self.lines.append(OrderLine(product, quantity))

    def remove_line(self, sku: str) -> bool:
        before = len(self.lines)
        self.lines = [line for line in self.lines if line.product.sku != sku]
        return len(self.lines) < before

    def total(self) -> Decimal:
        return sum((line.subtotal() for line in self.lines), Decimal("0"))

    def total_weight(self) -> float:
        return round(sum(line.weight() for line in self.lines), 3)

    def is_empty(self) -> bool:
        return not self.lines


class Inventory:
    def __init__(self) -> None:
        self._products: dict[str, Product] = {}
        self._stock: dict[str, int] = {}

    def register(self, product: Product, initial: int = 0) -> None:
        if product.sku in self._products:
            raise ValueError(f"duplicate sku: {product.sku}")
        self._products[product.sku] = product
        self._stock[product.sku] = initial

    def get(self, sku: str) -> Product:
        try:
            return self._products[sku]
        except KeyError:
            raise KeyError(f"unknown sku: {sku}") from None

    def available(self, sku: str) -> int:
        return self._stock.get(sku, 0)

    def restock(self, sku: str, amount: int) -> int:
        if amount < 0:
            raise ValueError("amount must not be negative")
        self._stock[sku] = self.available(sku) + amount
        return self._stock[sku]

    def can_fulfil(self, order: Order) -> bool:
        for line in order.lines:
            if self.available(line.product.sku) < line.quantity:
                return False
        return True

    def missing_items(self, order: Order) -> dict[str, int]:
        missing = {}
        for line in order.lines:
            shortfall = line.quantity - self.available(line.product.sku)
            if shortfall > 0:
                missing[line.product.sku] = shortfall
        return missing

    def reserve(self, order: Order) -> None:
        if order.status is not OrderStatus.DRAFT:
            raise StockError(f"order {order.order_id} is already {order.status.value}")
        if not self.can_fulfil(order):
            skus = ", ".join(sorted(self.missing_items(order)))
            raise StockError(f"not enough stock for: {skus}")
        for line in order.lines:
            self._stock[line.product.sku] -= line.quantity
        order.status = OrderStatus.PLACED

    def cancel(self, order: Order) -> None:
        if order.status is OrderStatus.SHIPPED:
            raise StockError("cannot cancel a shipped order")
        if order.status is OrderStatus.PLACED:
            for line in order.lines:
                self.restock(line.product.sku, line.quantity)
        order.status = OrderStatus.CANCELLED

    def low_stock(self, threshold: int = 5) -> list[str]:
        return sorted(sku for sku, count in self._stock.items() if count <= threshold)

    def stock_value(self) -> Decimal:
        total = Decimal("0")
        for sku, count in self._stock.items():
            total += self._products[sku].price * count
        return total


def summarize(order: Order) -> str:
    lines = [f"Order {order.order_id} for {order.customer} [{order.status.value}]"]
    for line in order.lines:
        lines.append(f"  {line.quantity:>3} x {line.product.name:<20} {line.subtotal():>9.2f}")
    lines.append(f"  {'Total':<26} {order.total():>9.2f}")
    return "\n".join(lines)
