"""Labels: where the name of an event, a gateway or a flow may go, best first, and the space
of shapes, lines and labels already placed that a new label avoids."""

from __future__ import annotations

from engine.definitions.layout.model import GATEWAYS, Node, Rect


def node_label_spots(n: Node, w: int, h: int) -> list[Rect]:
    """Where a node's name may go, best first."""
    r = n.rect
    below = Rect(r.cx - w // 2, r.bottom + 5, w, h)
    above = Rect(r.cx - w // 2, r.y - 5 - h, w, h)
    spots = {
        "below": below,
        "above": above,
        "below_right": Rect(r.right - 4, r.bottom + 2, w, h),
        "below_left": Rect(r.x + 4 - w, r.bottom + 2, w, h),
        "above_right": Rect(r.right - 4, r.y - 2 - h, w, h),
        "above_left": Rect(r.x + 4 - w, r.y - 2 - h, w, h),
        "right": Rect(r.right + 5, r.cy - h // 2, w, h),
        "left": Rect(r.x - 5 - w, r.cy - h // 2, w, h),
    }
    if n.kind == "boundaryEvent" and n.y < n.host.y:  # beside the flow that leaves upwards
        spots["above_right"] = Rect(r.cx + 6, r.y - 2 - h, w, h)
        spots["above_left"] = Rect(r.cx - 6 - w, r.y - 2 - h, w, h)
        order = ["above_right", "above_left", "above", "right", "left"]
    elif n.kind == "boundaryEvent":  # beside the flow that leaves downwards
        spots["below_right"] = Rect(r.cx + 6, r.bottom + 2, w, h)
        spots["below_left"] = Rect(r.cx - 6 - w, r.bottom + 2, w, h)
        order = ["below_right", "below_left", "below", "right", "left"]
    elif n.kind in GATEWAYS:
        order = ["above", "above_left", "above_right", "below", "below_left", "below_right"]
    else:
        order = ["below", "above", "below_right", "below_left", "above_right", "right", "left"]
    return [spots[k] for k in order]


Segment = tuple[tuple[int, int], tuple[int, int]]


def segments_of(points: list[tuple[int, int]]) -> list[Segment]:
    return list(zip(points, points[1:], strict=False))


def _collinear_overlap(a: Segment, b: Segment) -> bool:
    (ax1, ay1), (ax2, ay2) = a
    (bx1, by1), (bx2, by2) = b
    if ax1 == ax2 == bx1 == bx2:
        return min(max(ay1, ay2), max(by1, by2)) > max(min(ay1, ay2), min(by1, by2))
    if ay1 == ay2 == by1 == by2:
        return min(max(ax1, ax2), max(bx1, bx2)) > max(min(ax1, ax2), min(bx1, bx2))
    return False


def flow_label_spots(
    points: list[tuple[int, int]], w: int, h: int, others: list[Segment]
) -> list[Rect]:
    """Where a flow's name may go: along its first segment, then its last, then the rest;
    a stretch it shares with other flows (a fan-out from a gateway) only as a last resort."""
    segments = segments_of(points)
    if len(segments) > 1:
        segments = [segments[0], segments[-1]] + segments[1:-1]
    segments.sort(key=lambda seg: any(_collinear_overlap(seg, o) for o in others))
    spots = []
    for (x1, y1), (x2, y2) in segments:
        if abs(x2 - x1) + abs(y2 - y1) < 24:
            continue
        if y1 == y2:
            lo, hi = min(x1, x2), max(x1, x2)
            near = x1 + 6 if x2 > x1 else x1 - 6 - w
            for x in (near, (lo + hi - w) // 2, hi - 6 - w if x2 > x1 else lo + 6):
                spots += [Rect(x, y1 - h - 3, w, h), Rect(x, y1 + 3, w, h)]
        else:
            lo, hi = min(y1, y2), max(y1, y2)
            near = y1 + 4 if y2 > y1 else y1 - 4 - h
            for y in (near, (lo + hi - h) // 2):
                spots += [Rect(x1 + 5, y, w, h), Rect(x1 - 5 - w, y, w, h)]
    return spots


class LabelSpace:
    """Shapes, flow lines and labels already placed, for labels to avoid."""

    def __init__(self, shapes: list[Rect], lines: list[list[tuple[int, int]]]):
        self.rects = [r.grow(2) for r in shapes]
        for points in lines:
            for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
                x, y = min(x1, x2), min(y1, y2)
                self.rects.append(Rect(x - 1, y - 1, abs(x2 - x1) + 2, abs(y2 - y1) + 2))

    def place(self, spots: list[Rect]) -> Rect:
        def clash(spot: Rect) -> int:
            return sum(
                (min(spot.right, r.right) - max(spot.x, r.x))
                * (min(spot.bottom, r.bottom) - max(spot.y, r.y))
                for r in self.rects
                if spot.overlaps(r)
            )

        best = min(spots, key=clash)  # min() keeps the first of equals: the preferred spot
        self.rects.append(best)
        return best
