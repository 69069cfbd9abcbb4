"""Routing of edges: where a flow may leave and enter a shape (ports), and orthogonal routes
found by A* on the grid of candidate coordinates, clear of shapes and of other flows' lines.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass

from engine.definitions.layout.model import (
    BEND,
    CLEARANCE,
    DX,
    DY,
    EVENTS,
    GATEWAYS,
    OVERLAP,
    D,
    L,
    Node,
    R,
    Rect,
    U,
)


@dataclass
class Port:
    x: int
    y: int
    dir: int  # source: direction of the first move; target: direction of the last move
    cost: int


@dataclass
class End:
    key: str
    rect: Rect | None
    obstacle: int | None
    ports: list[Port]


def source_ports(n: Node, message: bool = False) -> list[Port]:
    r = n.rect
    if n.kind == "boundaryEvent":
        return [Port(r.cx, r.bottom, D, 0)] if n.y > n.host.y else [Port(r.cx, r.y, U, 0)]
    side = 0 if n.kind in GATEWAYS else 20 if n.kind in EVENTS else 30
    ports = [Port(r.right, r.cy, R, 0), Port(r.cx, r.bottom, D, side), Port(r.cx, r.y, U, side + 5)]
    if message:
        ports = [Port(r.cx, r.bottom, D, 0), Port(r.cx, r.y, U, 0), Port(r.right, r.cy, R, 40)]
    return [p for p in ports if p.dir not in n.busy]  # not between boundary events


def target_ports(n: Node, message: bool = False) -> list[Port]:
    r = n.rect
    side = 0 if n.kind in GATEWAYS else 20
    ports = [Port(r.x, r.cy, R, 0), Port(r.cx, r.bottom, U, side), Port(r.cx, r.y, D, side + 5)]
    if message:
        ports = [Port(r.cx, r.y, D, 0), Port(r.cx, r.bottom, U, 0), Port(r.x, r.cy, R, 40)]
    # A flow arriving at the bottom moves up (U): that edge is busy when it carries a
    # boundary event (D in `busy`); the same for the top.
    return [p for p in ports if (p.dir + 2) % 4 not in n.busy]


class Router:
    """Orthogonal routes on a grid of candidate coordinates (A*, length plus bends), kept
    CLEARANCE px away from every shape but the two ends, avoiding other flows' lines."""

    def __init__(self, xs: set[int], ys: set[int], obstacles: list[Rect]):
        self.xs, self.ys = sorted(xs), sorted(ys)
        self.xi = {x: i for i, x in enumerate(self.xs)}
        self.yi = {y: j for j, y in enumerate(self.ys)}
        self.hits: dict[tuple[int, int], list[int]] = defaultdict(list)
        for k, r in enumerate(o.grow(CLEARANCE) for o in obstacles):
            for i in range(bisect_right(self.xs, r.x), bisect_left(self.xs, r.right)):
                for j in range(bisect_right(self.ys, r.y), bisect_left(self.ys, r.bottom)):
                    self.hits[(i, j)].append(k)
        self.used: dict[tuple[int, int, int], list[tuple[str, str]]] = defaultdict(list)

    def route(self, src: End, tgt: End) -> list[tuple[int, int]]:
        xs, ys = self.xs, self.ys
        exempt = {src.obstacle, tgt.obstacle}
        solid = [r for r in (src.rect, tgt.rect) if r is not None]
        starts = {(self.xi[p.x], self.yi[p.y]): p for p in src.ports}
        goals = {(self.xi[p.x], self.yi[p.y]): p for p in tgt.ports}
        status_cache: dict[tuple[int, int], int] = {}

        def status(i: int, j: int) -> int:  # 0 free, 1 near an end (pass only), 2 blocked
            st = status_cache.get((i, j))
            if st is None:
                x, y = xs[i], ys[j]
                hits = self.hits.get((i, j), ())
                if any(r.x < x < r.right and r.y < y < r.bottom for r in solid):
                    st = 2
                elif any(h not in exempt for h in hits):
                    st = 2
                else:
                    st = 1 if hits else 0
                status_cache[(i, j)] = st
            return st

        def h(i: int, j: int) -> int:
            return min(abs(xs[i] - p.x) + abs(ys[j] - p.y) for p in tgt.ports)

        def penalty(key: tuple[int, int, int], length: int) -> int:
            cost = 0
            for s, t in self.used.get(key, ()):
                if s == src.key and t == tgt.key:  # two flows between one pair: never one line
                    return 1000
                if s != src.key and t != tgt.key:  # a fan-out or a fan-in may share a line
                    cost = OVERLAP * length + 200
            return cost

        heap: list[tuple[int, int, int, tuple[int, int, int]]] = []
        parent: dict[tuple[int, int, int], tuple[int, int, int] | None] = {}
        best: dict[tuple[int, int, int], int] = {}
        counter = 0
        for (i, j), p in starts.items():
            state = (i, j, p.dir)
            best[state] = p.cost
            heapq.heappush(heap, (p.cost + h(i, j), counter, p.cost, state))
            parent[state] = None
            counter += 1
        done: set[tuple[int, int, int]] = set()
        terminal: set[tuple[int, int, int]] = set()
        found = None
        while heap:
            _, _, g, state = heapq.heappop(heap)
            if state in done:
                continue
            done.add(state)
            if state in terminal:
                found = state
                break
            i, j, d = state
            at_start = (i, j) in starts
            for e in (d,) if at_start else tuple(e for e in range(4) if e != (d + 2) % 4):
                ci, cj, dist, extra, passed = i, j, 0, 0, False
                while True:
                    ni, nj = ci + DX[e], cj + DY[e]
                    if not (0 <= ni < len(xs) and 0 <= nj < len(ys)):
                        break
                    step = abs(xs[ni] - xs[ci]) + abs(ys[nj] - ys[cj])
                    dist += step
                    key = (e % 2, min(ci, ni), min(cj, nj))
                    extra += penalty(key, step)
                    goal = goals.get((ni, nj))
                    if goal is not None and goal.dir == e:
                        nxt = (ni, nj, e)
                        cost = g + dist + extra + goal.cost + (BEND if e != d else 0)
                        terminal.add(nxt)
                    else:
                        st = status(ni, nj)
                        if st == 2:
                            break
                        if st == 1:
                            ci, cj, passed = ni, nj, True
                            continue
                        if passed and not at_start:
                            break
                        nxt = (ni, nj, e)
                        cost = g + dist + extra + (BEND if e != d else 0)
                    if cost < best.get(nxt, 1 << 60):
                        best[nxt] = cost
                        parent[nxt] = state
                        heapq.heappush(heap, (cost + h(ni, nj), counter, cost, nxt))
                        counter += 1
                    break
        if found is None:  # should not happen on this grid; draw something plain
            s, t = src.ports[0], tgt.ports[0]
            mid = (s.x + t.x) // 2
            return _simplify([(s.x, s.y), (mid, s.y), (mid, t.y), (t.x, t.y)])
        path = []
        state: tuple[int, int, int] | None = found
        while state is not None:
            path.append(state)
            state = parent[state]
        path.reverse()
        for (i0, j0, _), (i1, j1, e) in zip(path, path[1:], strict=False):
            ci, cj = i0, j0
            while (ci, cj) != (i1, j1):
                ni, nj = ci + DX[e], cj + DY[e]
                self.used[(e % 2, min(ci, ni), min(cj, nj))].append((src.key, tgt.key))
                ci, cj = ni, nj
        return _simplify([(xs[i], ys[j]) for i, j, _ in path])


def _simplify(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for p in points:
        if out and p == out[-1]:
            continue
        if len(out) >= 2 and (out[-2][0] == out[-1][0] == p[0] or out[-2][1] == out[-1][1] == p[1]):
            out[-1] = p
        else:
            out.append(p)
    return out


def side_ports(r: Rect, leaving: bool) -> list[Port]:
    """The middles of all four sides (associations to data objects and annotations)."""
    sides = [(r.right, r.cy, R), (r.cx, r.bottom, D), (r.x, r.cy, L), (r.cx, r.y, U)]
    return [Port(x, y, d if leaving else (d + 2) % 4, 0) for x, y, d in sides]
