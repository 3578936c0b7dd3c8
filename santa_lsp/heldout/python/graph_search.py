"""Graph utilities: adjacency lists, BFS, Dijkstra and topological sort."""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from typing import Iterable


class Graph:
    def __init__(self, directed: bool = False) -> None:
        self.directed = directed
        self._edges: dict[str, dict[str, float]] = defaultdict(dict)

    def add_edge(self, src: str, dst: str, weight: float = 1.0) -> None:
        if weight < 0:
            raise ValueError("negative weights are not supported")
        self._edges[src][dst] = weight
        if not self.directed:
            self._edges[dst][src] = weight
        else:
            self._edges.setdefault(dst, {})

    def add_edges(self, edges: Iterable[tuple[str, str, float]]) -> None:
        for src, dst, weight in edges:
            self.add_edge(src, dst, weight)

    def nodes(self) -> list[str]:
        return sorted(self._edges)

    def neighbors(self, node: str) -> dict[str, float]:
        return self._edges.get(node, {})

    def degree(self, node: str) -> int:
        return len(self.neighbors(node))

    def edge_count(self) -> int:
        total = sum(len(targets) for targets in self._edges.values())
        return total if self.directed else total // 2


def bfs_order(graph: Graph, start: str) -> list[str]:
    seen = {start}
    order = []
    queue = deque([start])
    while queue:
        node = queue.popleft()
        order.append(node)
        for nxt in sorted(graph.neighbors(node)):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return order


def shortest_hops(graph: Graph, start: str, goal: str) -> list[str] | None:
    parents: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            return _rebuild_path(parents, goal)
        for nxt in graph.neighbors(node):
            if nxt not in parents:
                parents[nxt] = node
                queue.append(nxt)
    return None


def _rebuild_path(parents: dict[str, str | None], goal: str) -> list[str]:
    path = []
    node: str | None = goal
    while node is not None:
        path.append(node)
        node = parents[node]
    path.reverse()
    return path


def dijkstra(graph: Graph, source: str) -> tuple[dict[str, float], dict[str, str | None]]:
    dist = {source: 0.0}
    parents: dict[str, str | None] = {source: None}
    heap = [(0.0, source)]
    visited = set()
    while heap:
        cost, node = heapq.heappop(heap)
        if node in visited:
            continue
        visited.add(node)
        for nxt, weight in graph.neighbors(node).items():
            new_cost = cost + weight
            if new_cost < dist.get(nxt, float("inf")):
                dist[nxt] = new_cost
                parents[nxt] = node
                heapq.heappush(heap, (new_cost, nxt))
    return dist, parents


def cheapest_path(graph: Graph, start: str, goal: str) -> tuple[float, list[str]]:
    dist, parents = dijkstra(graph, start)
    if goal not in dist:
        return float("inf"), []
    return dist[goal], _rebuild_path(parents, goal)


def connected_components(graph: Graph) -> list[list[str]]:
    seen: set[str] = set()
    components = []
    for node in graph.nodes():
        if node in seen:
            continue
        group = bfs_order(graph, node)
        seen.update(group)
        components.append(sorted(group))
    return components


def topological_sort(graph: Graph) -> list[str]:
    if not graph.directed:
        raise ValueError("topological sort needs a directed graph")
    indegree = {node: 0 for node in graph.nodes()}
    for node in graph.nodes():
        for nxt in graph.neighbors(node):
            indegree[nxt] += 1
    ready = sorted(node for node, count in indegree.items() if count == 0)
    result = []
    while ready:
        node = ready.pop(0)
        result.append(node)
        for nxt in sorted(graph.neighbors(node)):
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    if len(result) != len(indegree):
        raise ValueError("graph contains a cycle")
    return result


def parse_edge_list(text: str, directed: bool = False) -> Graph:
    graph = Graph(directed=directed)
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        weight = float(parts[2]) if len(parts) > 2 else 1.0
        graph.add_edge(parts[0], parts[1], weight)
    return graph
