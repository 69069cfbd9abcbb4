"""The staff's inbox page: the open tasks of the user's roles and the tasks they claimed,
narrowed by process, role, due window, status and a customer or case search; one page of them,
earliest due first, with each task's customer and process, the total, and the count behind
every filter choice.

Every read is a bounded walk of an index, so the page costs about the same with a hundred or a
hundred thousand open tasks:
- no process and no search: the page is the union of one part per role and status in due order
  (engine.runtime.taskqueries); each count a range of the (role, status, due_at) or (assignee,
  status, due_at) index, read from the index alone and stopped at COUNT_CAP;
- a search, or a process with few running cases (at most CASE_SCAN): the tasks of those cases,
  found by the case number, name and phone indexes or the (process_key, status) index, then the
  task's (case_id, status) index; counted exactly in one pass;
- a process with more running cases than that: the page as without one, each task tested
  against the process; the counts from the first CASE_SCAN of its tasks, shown as "at least".
A count that stopped at its cap is listed in `InboxPage.capped` and shown with a "+".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.core.status import ACTIVE_CASE, TaskStatus
from engine.runtime.taskqueries import merge_parts, ordered_part, task_views
from engine.runtime.views import TaskView
from engine.store.records import TASK_COLUMNS_T
from engine.store.rows import Rows

DUE_FILTERS = ("overdue", "today", "week")
STATUS_FILTERS = ("open", "claimed")  # open to my roles / claimed by me
INBOX_PAGE_SIZE = 25
COUNT_CAP = 5000  # a count from the index stops here (and so do the pages)
CASE_SCAN = 2000  # cases of a process listed by id, and tasks a case-wise count reads
SEARCH_CASES = 200  # cases a search finds by each of number, name and phone

OPEN, CLAIMED = TaskStatus.OPEN.value, TaskStatus.CLAIMED.value
_LIVE = [s.value for s in ACTIVE_CASE]  # an open task's case is running or in error
_LIVE_MARKS = ", ".join("?" * len(_LIVE))


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows: all of it, or only one process, role, due window ("overdue",
    "today", "week": company-local day and ISO week), status ("open": open to my roles;
    "claimed": claimed by me) and the tasks of cases found by `search` (a case number, or the
    start of a customer's name or phone number)."""

    process: str | None = None
    role: str | None = None
    due: str | None = None
    status: str | None = None
    search: str | None = None


@dataclass(frozen=True)
class DueWindows:
    """The instants the due filters compare with: now, and the company-local day and week
    (start inclusive, end exclusive, in UTC)."""

    now: datetime
    day: tuple[datetime, datetime]
    week: tuple[datetime, datetime]


@dataclass(frozen=True)
class InboxRow:
    task: TaskView
    process: str
    process_name: str
    customer_name: str | None
    customer_phone: str | None


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int  # tasks matching the filter (every page); a lower bound when "total" is capped
    offset: int
    limit: int
    # The tasks each filter choice would list, the other filters kept: "status:", "status:open",
    # "status:claimed", "due:", "due:overdue", "due:today", "due:week", "role:", "role:<role>".
    counts: dict[str, int] = field(default_factory=dict)
    roles: list[str] = field(default_factory=list)  # the user's roles (the role filter's choices)
    applied: InboxFilter = InboxFilter()  # the filter as it was applied
    capped: frozenset[str] = frozenset()  # counts that are lower bounds ("total": the total)

    def count(self, key: str) -> str:
        """A count as shown: "12", or "5000+" for a lower bound."""
        return f"{self.counts.get(key, 0)}{'+' if key in self.capped else ''}"

    @property
    def total_text(self) -> str:
        return f"{self.total}{'+' if 'total' in self.capped else ''}"

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + self.limit < self.total


def inbox_page(
    rows: Rows,
    user: str,
    roles: list[str],
    flt: InboxFilter,
    windows: DueWindows,
    limit: int = INBOX_PAGE_SIZE,
    offset: int = 0,
) -> InboxPage:
    """One page of `user`'s inbox (the open tasks of `roles` and the tasks `user` claimed),
    narrowed by `flt`, earliest due first; with the total and the counts of every choice (see
    the module's description for what each read costs)."""
    offset = max(0, min(offset, COUNT_CAP))
    roles = sorted(dict.fromkeys(roles))
    dues = _due_params(rows, windows)
    case_ids, dense = _cases(rows, flt)
    if case_ids is not None and not case_ids:  # the search or the process has no case
        counts, capped = _counts({}, flt, roles, capped=False)
        return InboxPage([], 0, offset, limit, counts, roles, flt, capped)
    if case_ids is not None:
        matrix, partial = _scan_counts(rows, user, roles, dues, case_ids=case_ids)
    elif dense:
        matrix, partial = _scan_counts(rows, user, roles, dues, process=flt.process)
    else:
        matrix, partial = _index_counts(rows, user, roles, dues), False
    counts, capped = _counts(matrix, flt, roles, capped=partial)
    key = "status:" + (flt.status or "")
    total = counts[key]
    if key in capped:
        capped |= {"total"}
    if not total:
        found: list[tuple[Any, ...]] = []
    elif case_ids is not None:
        found = _case_list_page(rows, user, roles, flt, dues, case_ids, limit, offset)
    else:
        found = _index_page(rows, user, roles, flt, dues, limit, offset)
    return InboxPage(
        _with_cases(rows, task_views(found)), total, offset, limit, counts, roles, flt, capped
    )


# ----- which cases ---------------------------------------------------------------------------


def _cases(rows: Rows, flt: InboxFilter) -> tuple[list[int] | None, bool]:
    """The ids of the cases the search and the process narrow the inbox to (None: not
    narrowed by ids), and whether the process has too many running cases to list them (then
    its tasks are tested one by one)."""
    process_where, process_params = "", []
    if flt.process:
        process_where = f' AND "case".process_key = ? AND "case".status IN ({_LIVE_MARKS})'
        process_params = [flt.process, *_LIVE]
    if flt.search and flt.search.strip():
        text = flt.search.strip()[:100]
        compact = "".join(text.split())
        found = rows.all(
            f'SELECT id FROM "case" WHERE number = ?{process_where}'
            f' UNION SELECT id FROM (SELECT id FROM "case" WHERE customer_name >= ?'
            f" AND customer_name < ?{process_where} LIMIT ?) AS n"
            f' UNION SELECT id FROM (SELECT id FROM "case" WHERE customer_phone >= ?'
            f" AND customer_phone < ?{process_where} LIMIT ?) AS p",
            (
                text.upper(),
                *process_params,
                text,
                text + "\uffff",
                *process_params,
                SEARCH_CASES,
                compact,
                compact + "\uffff",
                *process_params,
                SEARCH_CASES,
            ),
        )
        return [r[0] for r in found], False
    if flt.process:
        found = rows.all(
            f'SELECT id FROM "case" WHERE process_key = ? AND status IN ({_LIVE_MARKS}) LIMIT ?',
            (flt.process, *_LIVE, CASE_SCAN + 1),
        )
        if len(found) <= CASE_SCAN:
            return [r[0] for r in found], False
        return None, True
    return None, False


# ----- the conditions ---------------------------------------------------------------------------

_DUE_WHERE = {
    "": "",
    "overdue": "t.due_at < ?",
    "today": "t.due_at >= ? AND t.due_at < ?",
    "week": "t.due_at >= ? AND t.due_at < ?",
}
_BUCKETS = ("", *DUE_FILTERS)


def _due_params(rows: Rows, windows: DueWindows) -> dict[str, list[Any]]:
    """The parameters of each due filter's condition (_DUE_WHERE)."""
    return {
        "": [],
        "overdue": [rows.dt(windows.now)],
        "today": [rows.dt(w) for w in windows.day],
        "week": [rows.dt(w) for w in windows.week],
    }


def _mine(user: str, roles: list[str], flt: InboxFilter | None) -> tuple[str, list[Any]]:
    """The inbox's own tasks (open to one of `roles`, or claimed by `user`), narrowed by the
    status and role of `flt`; a condition on t."""
    parts, params = [], []
    open_roles = [r for r in roles if flt is None or not flt.role or r == flt.role]
    if open_roles and (flt is None or flt.status != CLAIMED):
        parts.append(f"(t.status = ? AND t.role IN ({', '.join('?' * len(open_roles))}))")
        params += [OPEN, *open_roles]
    if flt is None or flt.status != OPEN:
        role = " AND t.role = ?" if flt is not None and flt.role else ""
        parts.append(f"(t.status = ? AND t.assignee = ?{role})")
        params += [CLAIMED, user, *([flt.role] if role else [])]
    return "(" + " OR ".join(parts) + ")", params


# ----- counts ----------------------------------------------------------------------------------

Matrix = dict[tuple[str, str, str], int]  # (status, role, due filter) -> tasks


def _index_counts(rows: Rows, user: str, roles: list[str], dues: dict[str, list[Any]]) -> Matrix:
    """Each (status, role, due filter) counted from the index alone, up to COUNT_CAP + 1: one
    statement of range reads."""
    sql, params = [], []
    for n, bucket in enumerate(_BUCKETS):
        due = f" AND {_DUE_WHERE[bucket]}" if bucket else ""
        for m, role in enumerate(roles):
            # (The status and the bucket are this module's words, written as literals.)
            sql.append(
                f"SELECT '{OPEN}', CAST(? AS VARCHAR(60)), '{bucket}', count(*) FROM"
                f" (SELECT 1 AS one FROM task t WHERE t.role = ? AND t.status = ?{due}"
                f" LIMIT ?) AS o{n}_{m}"
            )
            params += [role, role, OPEN, *dues[bucket], COUNT_CAP + 1]
        sql.append(
            f"SELECT '{CLAIMED}', c{n}.role, '{bucket}', count(*) FROM (SELECT t.role FROM task t"
            f" WHERE t.assignee = ? AND t.status = ?{due} LIMIT ?) AS c{n} GROUP BY c{n}.role"
        )
        params += [user, CLAIMED, *dues[bucket], COUNT_CAP + 1]
    return {(r[0], r[1], r[2]): int(r[3]) for r in rows.all(" UNION ALL ".join(sql), params)}


def _scan_counts(
    rows: Rows,
    user: str,
    roles: list[str],
    dues: dict[str, list[Any]],
    case_ids: list[int] | None = None,
    process: str | None = None,
) -> tuple[Matrix, bool]:
    """Each (status, role, due filter) counted in one pass over the inbox's tasks of some
    cases: those of `case_ids` (by the task's case index), or the running cases of `process`
    (from its index). At most CASE_SCAN tasks are read; when there were more, the counts are
    lower bounds (the second value)."""
    mine, mine_params = _mine(user, roles, None)
    if case_ids is not None:
        source = f"task t WHERE t.case_id IN ({', '.join('?' * len(case_ids))})"
        source_params: list[Any] = list(case_ids)
    else:
        source = (
            f'"case" c CROSS JOIN task t WHERE c.process_key = ? AND c.status IN ({_LIVE_MARKS})'
            " AND t.case_id = c.id"
        )
        source_params = [process, *_LIVE]
    sums = ", ".join(
        f"SUM(CASE WHEN {_DUE_WHERE[b].replace('t.', 'x.')} THEN 1 ELSE 0 END)" for b in DUE_FILTERS
    )
    found = rows.all(
        f"SELECT x.status, x.role, count(*), {sums} FROM (SELECT t.status, t.role, t.due_at"
        f" FROM {source} AND {mine} LIMIT ?) AS x GROUP BY x.status, x.role",
        [
            *(p for b in DUE_FILTERS for p in dues[b]),
            *source_params,
            *mine_params,
            CASE_SCAN + 1,
        ],
    )
    matrix: Matrix = {}
    for status, role, *values in found:
        for bucket, value in zip(_BUCKETS, values, strict=True):
            matrix[(status, role, bucket)] = int(value or 0)
    scanned = sum(v for (_s, _r, b), v in matrix.items() if b == "")
    return matrix, scanned > CASE_SCAN


def _counts(
    matrix: Matrix, flt: InboxFilter, roles: list[str], capped: bool
) -> tuple[dict[str, int], frozenset[str]]:
    """The count of every filter choice, the other filters kept, and those that are lower
    bounds: every one when the matrix is (`capped`), else those that reached COUNT_CAP."""
    lower: set[str] = set()

    def count(key: str, status: str | None, role: str | None, due: str | None) -> int:
        total = sum(
            value
            for (kind, task_role, bucket), value in matrix.items()
            if (status is None or kind == status)
            and (role is None or task_role == role)
            and bucket == (due or "")
        )
        if capped or total > COUNT_CAP:
            lower.add(key)
        return min(total, COUNT_CAP)

    status, role, due = flt.status or None, flt.role or None, flt.due or None
    counts = {
        "status:": count("status:", None, role, due),
        "due:": count("due:", status, role, None),
        "role:": count("role:", status, None, due),
    }
    for choice in STATUS_FILTERS:
        counts["status:" + choice] = count("status:" + choice, choice, role, due)
    for choice in DUE_FILTERS:
        counts["due:" + choice] = count("due:" + choice, status, role, choice)
    for choice in roles:
        counts["role:" + choice] = count("role:" + choice, status, choice, due)
    return counts, frozenset(lower)


# ----- the page ---------------------------------------------------------------------------------


def _index_page(
    rows: Rows,
    user: str,
    roles: list[str],
    flt: InboxFilter,
    dues: dict[str, list[Any]],
    limit: int,
    offset: int,
) -> list[tuple[Any, ...]]:
    """The page from the role and assignee indexes in due order (engine.runtime.taskqueries),
    each task tested against the process when one is chosen."""
    extra, extra_params = [], []
    if flt.due:
        extra.append(_DUE_WHERE[flt.due])
        extra_params += dues[flt.due]
    if flt.process:
        extra.append(
            'EXISTS (SELECT 1 FROM "case" c WHERE c.id = t.case_id AND c.process_key = ?'
            f" AND c.status IN ({_LIVE_MARKS}))"
        )
        extra_params += [flt.process, *_LIVE]
    more = "".join(f" AND {w}" for w in extra)
    parts = []
    if flt.status != CLAIMED:
        for role in roles:
            if not flt.role or role == flt.role:
                where = f"t.role = ? AND t.status = ?{more}"
                parts.append(ordered_part(rows, where, [role, OPEN, *extra_params], limit + offset))
    if flt.status != OPEN:
        where, params = "t.assignee = ? AND t.status = ?", [user, CLAIMED]
        if flt.role:
            where, params = where + " AND t.role = ?", [*params, flt.role]
        parts.append(ordered_part(rows, where + more, [*params, *extra_params], limit + offset))
    return merge_parts(rows, parts, limit, offset) if parts else []


def _case_list_page(
    rows: Rows,
    user: str,
    roles: list[str],
    flt: InboxFilter,
    dues: dict[str, list[Any]],
    case_ids: list[int],
    limit: int,
    offset: int,
) -> list[tuple[Any, ...]]:
    """The page from the tasks of a few cases (by the task's case index), in due order."""
    mine, params = _mine(user, roles, flt)
    due = f" AND {_DUE_WHERE[flt.due]}" if flt.due else ""
    return rows.all(
        f'SELECT {TASK_COLUMNS_T}, c.number FROM task t JOIN "case" c ON c.id = t.case_id'
        f" WHERE t.case_id IN ({', '.join('?' * len(case_ids))}) AND {mine}{due}"
        " ORDER BY (t.due_at IS NULL), t.due_at, t.id LIMIT ? OFFSET ?",
        [*case_ids, *params, *(dues[flt.due] if flt.due else []), limit, offset],
    )


def _with_cases(rows: Rows, tasks: list[TaskView]) -> list[InboxRow]:
    """The page's tasks with their case's customer and process (one read of those cases)."""
    if not tasks:
        return []
    numbers = list(dict.fromkeys(t.case_number for t in tasks))
    found = {
        r[0]: r[1:]
        for r in rows.all(
            "SELECT c.number, c.process_key, pv.name, c.customer_name, c.customer_phone"
            ' FROM "case" c JOIN process_version pv ON pv.id = c.process_version_id'
            f" WHERE c.number IN ({', '.join('?' * len(numbers))})",
            numbers,
        )
    }
    return [InboxRow(t, *found.get(t.case_number, ("", "", None, None))) for t in tasks]
