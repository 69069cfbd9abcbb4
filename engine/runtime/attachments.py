"""Attachments: files uploaded with a task form or a customer's booking, stored by content
(SHA-256) in the database, linked to their case. Only a few document and image types are
accepted, checked by their first bytes as well as their name, and the size is limited."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.errors import NotFound, ValidationFailed
from engine.core.messages import Message
from engine.identity.users import user_roles
from engine.store.audit import record
from engine.store.database import Database
from engine.store.tables import Attachment, Blob, Case, Task

MAX_BYTES = 10 * 1024 * 1024
# extension -> (content type, magic prefixes; empty = plain text checked separately)
ALLOWED: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (b"PK\x03\x04",),
    ),
    ".xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        (b"PK\x03\x04",),
    ),
    ".txt": ("text/plain; charset=utf-8", ()),
}
REFERENCE = re.compile(r"^att-(\d{1,18})$")


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    case_number: str
    filename: str
    content_type: str
    size: int
    uploaded_by: str | None
    uploaded_at: datetime

    @property
    def reference(self) -> str:
        """What a form field holds for this file."""
        return f"att-{self.id}"


def check_file(filename: str, data: bytes) -> tuple[str, str]:
    """A safe file name and the content type, or ValidationFailed saying why not: its message
    and its one error (under "") are the same Message (engine.core.messages)."""
    name = re.sub(
        r"[^\w.\-() \u4e00-\u9fff]", "_", (filename or "").split("/")[-1].split("\\")[-1]
    ).strip()[:200]
    ext = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if ext not in ALLOWED:
        accepted = ", ".join(sorted(ALLOWED))
        _refuse(
            Message(
                "file_type",
                f"file type {ext or '(none)'} is not accepted (accepted: {accepted})",
                ext=ext or "(none)",
                accepted=accepted,
            )
        )
    if not data:
        _refuse(Message("file_empty", "the file is empty"))
    if len(data) > MAX_BYTES:
        mb = MAX_BYTES // (1024 * 1024)
        _refuse(Message("file_too_large", f"the file is larger than {mb} MB", mb=mb))
    content_type, magic = ALLOWED[ext]
    if magic and not any(data.startswith(m) for m in magic):
        _refuse(Message("file_mismatch", "the file's content does not match its type"))
    if not magic:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            _refuse(Message("file_not_text", "a .txt file must be UTF-8 text"))
    return name, content_type


def _refuse(problem: Message) -> NoReturn:
    raise ValidationFailed(problem, {"": [problem]}) from None


def store(
    db: Database,
    case_number: str,
    filename: str,
    data: bytes,
    actor: str | None,
    now: datetime,
    task_id: int | None = None,
) -> AttachmentInfo:
    """Store a file for a case in a transaction of its own (a customer's booking page, after
    the booking). A task form's files are stored in the step that completes the task (add)."""
    check_file(filename, data)
    with db.write() as session:
        case = session.scalars(select(Case).where(Case.number == case_number)).first()
        if case is None:
            raise NotFound(
                f"no case numbered {case_number!r}", reason="case_not_found", number=case_number
            )
        info = add(session, case.id, case.number, filename, data, actor, now, task_id)
        session.commit()
        return info


def add(
    session: Session,
    case_id: int,
    case_number: str,
    filename: str,
    data: bytes,
    actor: str | None,
    now: datetime,
    task_id: int | None = None,
) -> AttachmentInfo:
    """Add a checked file to a case inside the caller's transaction (content-addressed: the
    same bytes are kept once). Nothing is committed here."""
    name, content_type = check_file(filename, data)
    digest = hashlib.sha256(data).hexdigest()
    if session.get(Blob, digest) is None:
        session.add(Blob(sha256=digest, data=data, size=len(data)))
        session.flush()  # the attachment row refers to it
    row = Attachment(
        case_id=case_id,
        task_id=task_id,
        sha256=digest,
        filename=name,
        content_type=content_type,
        size=len(data),
        uploaded_by=actor,
        uploaded_at=now,
    )
    session.add(row)
    session.flush()
    record(
        session,
        "attachment_added",
        at=now,
        actor=actor,
        case_id=case_id,
        detail={"attachment": row.id, "filename": name, "size": len(data)},
    )
    return AttachmentInfo(row.id, case_number, name, content_type, len(data), actor, now)


def for_case(db: Database, case_number: str) -> list[AttachmentInfo]:
    with db.read() as session:
        rows = session.execute(
            select(Attachment, Case.number)
            .join(Case, Case.id == Attachment.case_id)
            .where(Case.number == case_number)
            .order_by(Attachment.id)
        ).all()
        return [
            AttachmentInfo(
                a.id, n, a.filename, a.content_type, a.size, a.uploaded_by, a.uploaded_at
            )
            for a, n in rows
        ]


def read(db: Database, attachment_id: int, user: str) -> tuple[AttachmentInfo, bytes]:
    """The file, for a supervisor or someone holding the role of one of the case's open or
    finished tasks; NotFound for everyone else (an id must not tell that a file exists)."""
    with db.read() as session:
        row = session.get(Attachment, attachment_id)
        if row is None:
            raise NotFound(
                f"no attachment {attachment_id}", reason="attachment_not_found", id=attachment_id
            )
        roles = user_roles(session, user)
        task_roles = set(session.scalars(select(Task.role).where(Task.case_id == row.case_id)))
        if "supervisor" not in roles and not (roles & task_roles):
            raise NotFound(
                f"no attachment {attachment_id}", reason="attachment_not_found", id=attachment_id
            )
        number = session.scalar(select(Case.number).where(Case.id == row.case_id))
        blob = session.get(Blob, row.sha256)
        return AttachmentInfo(
            row.id,
            number,
            row.filename,
            row.content_type,
            row.size,
            row.uploaded_by,
            row.uploaded_at,
        ), blob.data
