"""Bulk import: a CB's spreadsheet of certificates, checked, previewed, confirmed, then issued
in the background (docs/spec.md §11.13).

An upload reads the file (registry.sheets), maps its headers to the kind's columns, checks
every row and keeps the cells, the mapping and the errors in `import_jobs`; nothing is issued.
The same file again (by SHA-256, for the same CB and kind) gives back its earlier job. A CB
person confirms — with every row valid, or choosing to skip the invalid ones — and the job is
queued; `run` issues its rows in chunks through the one issuance path (`issue_batch`: a
certificate already issued with the same record is not issued again), recording progress and
each row's outcome after each chunk. A job the process stopped in the middle of is queued
again at start-up (`pending`) and carries on: what was issued stays issued.
"""

import csv
import datetime as dt
import hashlib
import io
import logging
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from registry.accounts import Actor
from registry.certificates import Certificates, review_required
from registry.clock import naive_utc, utc_now
from registry.db import models
from registry.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    RetryLaterError,
    ServiceError,
)
from registry.fields import CertificateKind
from registry.kinds import TypedModel
from registry.records import certificate_id_for
from registry.sheets import (
    RowError,
    SheetError,
    Table,
    auto_mapping,
    check_mapping,
    read_table,
    validate_rows,
)

__all__ = ["CHUNK", "ImportRunner", "ImportView", "Imports"]

log = logging.getLogger("certreg.imports")

#: rows issued per transaction: large enough that the log lock is taken rarely, small enough
#: that progress moves and one refused row costs a retry of only its chunk
CHUNK: Final = 500
#: a `running` job not heard of for this long was left by a process that stopped
STALE_AFTER: Final = dt.timedelta(minutes=2)
#: errors an answer lists (all of them are in the result file)
ERRORS_SHOWN: Final = 200


@dataclass(frozen=True)
class ImportView:
    """A job as the API shows it."""

    id: str
    issuer_id: str
    kind: str
    filename: str
    file_sha256: str
    state: str
    created_at: dt.datetime
    headers: list[str]
    mapping: dict[str, str]
    mapping_problems: list[str]
    rows: int
    valid: int
    errors: list[RowError]
    error_count: int
    done: int
    issued: int
    existing: int
    refused: int
    confirmed_at: dt.datetime | None
    finished_at: dt.datetime | None
    message: str | None
    #: True when this answer is to a re-upload of a file this CB uploaded before
    repeated: bool = False


def _view(job: models.ImportJob, *, repeated: bool = False) -> ImportView:
    table = job.table
    return ImportView(
        id=job.id,
        issuer_id=job.issuer_id,
        kind=job.kind,
        filename=job.filename,
        file_sha256="0x" + job.file_sha256.hex(),
        state=job.state,
        created_at=job.created_at.replace(tzinfo=dt.UTC),
        headers=list(table["headers"]),
        mapping=dict(job.mapping),
        mapping_problems=check_mapping(job.mapping, table["headers"], job.kind),
        rows=job.rows,
        valid=job.valid,
        errors=[RowError(*e) for e in job.errors[:ERRORS_SHOWN]],
        error_count=len(job.errors),
        done=job.done,
        issued=job.issued,
        existing=job.existing,
        refused=job.refused,
        confirmed_at=None if job.confirmed_at is None else job.confirmed_at.replace(tzinfo=dt.UTC),
        finished_at=None if job.finished_at is None else job.finished_at.replace(tzinfo=dt.UTC),
        message=job.message,
        repeated=repeated,
    )


def _table(job: models.ImportJob) -> Table:
    return Table(
        headers=list(job.table["headers"]),
        rows=[list(r) for r in job.table["rows"]],
        first_row=int(job.table["first_row"]),
    )


class Imports:
    """Import jobs over the registry's database; issuance through `certificates`."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        certificates: Certificates,
        clock: Callable[[], dt.datetime] = utc_now,
        chunk: int = CHUNK,
    ) -> None:
        self._sessions = sessions
        self._certificates = certificates
        self._clock = clock
        self._chunk = chunk

    # -- upload, mapping, reads -------------------------------------------------------------------

    def upload(
        self,
        issuer_id: str,
        *,
        kind: CertificateKind,
        filename: str,
        data: bytes,
        actor: Actor | None = None,
    ) -> ImportView:
        """Read and check a file; nothing is issued. The same file again for the same kind
        answers its earlier job (`repeated`)."""
        digest = hashlib.sha256(data).digest()
        with self._sessions.begin() as session:
            earlier = session.scalars(
                select(models.ImportJob)
                .where(
                    models.ImportJob.issuer_id == issuer_id,
                    models.ImportJob.file_sha256 == digest,
                    models.ImportJob.kind == kind.value,
                )
                .order_by(models.ImportJob.created_at)
                .limit(1)
            ).first()
            if earlier is not None:
                return _view(earlier, repeated=True)
        try:
            table = read_table(data, filename=filename)
        except SheetError as exc:
            raise InvalidRequestError(str(exc)) from exc
        mapping = auto_mapping(table.headers, kind)
        checked = validate_rows(table, mapping, kind)
        now = naive_utc(self._clock())
        job = models.ImportJob(
            id=secrets.token_hex(16),
            issuer_id=issuer_id,
            kind=kind.value,
            filename=filename[:200] or "import",
            file_sha256=digest,
            state="uploaded",
            created_at=now,
            created_by=None
            if actor is None or actor.principal is None
            else actor.principal.account_id,
            table={"headers": table.headers, "rows": table.rows, "first_row": table.first_row},
            mapping=mapping,
            rows=len(table.rows),
            valid=checked.valid,
            errors=[[e.row, e.column, e.message_vi, e.message_en] for e in checked.errors],
            done=0,
            issued=0,
            existing=0,
            refused=0,
            results=[],
        )
        with self._sessions.begin() as session:
            session.add(job)
            session.flush()
            return _view(job)

    def remap(self, issuer_id: str, job_id: str, mapping: dict[str, str]) -> ImportView:
        """Check the rows again with another mapping (header → column key)."""
        with self._sessions.begin() as session:
            job = self._job(session, issuer_id, job_id, lock=True)
            if job.state != "uploaded":
                raise ConflictError(f"import {job_id}: got state {job.state}, want uploaded")
            table = _table(job)
            problems = [
                p for p in check_mapping(mapping, table.headers, job.kind) if "thiếu" not in p
            ]
            if problems:
                raise InvalidRequestError("mapping: " + "; ".join(problems))
            checked = validate_rows(table, mapping, job.kind)
            job.mapping = dict(mapping)
            job.valid = checked.valid
            job.errors = [[e.row, e.column, e.message_vi, e.message_en] for e in checked.errors]
            return _view(job)

    def get(self, issuer_id: str, job_id: str) -> ImportView:
        with self._sessions() as session:
            return _view(self._job(session, issuer_id, job_id))

    def search(
        self, issuer_id: str, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[ImportView], int]:
        with self._sessions() as session:
            where = models.ImportJob.issuer_id == issuer_id
            total = session.scalar(select(func.count()).select_from(models.ImportJob).where(where))
            jobs = session.scalars(
                select(models.ImportJob)
                .where(where)
                .order_by(models.ImportJob.created_at.desc(), models.ImportJob.id)
                .limit(limit)
                .offset(offset)
            ).all()
            return [_view(j) for j in jobs], int(total or 0)

    # -- confirm and run ------------------------------------------------------------------------

    def confirm(
        self, issuer_id: str, job_id: str, *, skip_invalid: bool = False, actor: Actor | None = None
    ) -> ImportView:
        """Queue the job's rows for issuing: all valid, or `skip_invalid` to leave out the rows
        with errors (each listed in the result file). A job done before stays done."""
        with self._sessions.begin() as session:
            job = self._job(session, issuer_id, job_id, lock=True)
            if job.state != "uploaded":
                raise ConflictError(
                    f"import {job_id}: got state {job.state}, want uploaded (confirmed once)"
                )
            problems = check_mapping(job.mapping, job.table["headers"], job.kind)
            if problems:
                raise InvalidRequestError("mapping: " + "; ".join(problems))
            if job.errors and not skip_invalid:
                raise ConflictError(
                    f"import {job_id}: got {len(job.errors)} errors in {job.rows - job.valid} "
                    "rows, want none (fix and upload again, or confirm with skip_invalid)"
                )
            if job.valid == 0:
                raise InvalidRequestError(f"import {job_id}: got no valid row, want at least one")
            confirmer = (
                None if actor is None or actor.principal is None else actor.principal.account_id
            )
            if review_required(session, issuer_id) and (
                confirmer is None or confirmer == job.created_by
            ):
                # The import is the preparation, its confirmation the decision (ISO/IEC 17065
                # §7.6): by another person when the CB requires review (docs/spec.md §11.12).
                raise ForbiddenError(
                    f"import {job_id}: got its confirmation by the officer who uploaded it, "
                    "want another officer's: the CB requires review"
                )
            job.state = "queued"
            job.confirmed_at = naive_utc(self._clock())
            job.confirmed_by = (
                None if actor is None or actor.principal is None else actor.principal.account_id
            )
            return _view(job)

    def pending(self) -> list[str]:
        """Jobs queued or left running (by a process that stopped): to run again."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(models.ImportJob.id)
                    .where(models.ImportJob.state.in_(("queued", "running")))
                    .order_by(models.ImportJob.confirmed_at)
                ).all()
            )

    def run(self, job_id: str, *, actor: Actor | None = None) -> ImportView:
        """Issue a queued job's rows, `CHUNK` a transaction, from where it stopped."""
        with self._sessions.begin() as session:
            job = self._job(session, None, job_id, lock=True)
            now = naive_utc(self._clock())
            left = job.state == "running" and (
                job.heartbeat_at is None or now - job.heartbeat_at > STALE_AFTER
            )
            if job.state != "queued" and not left:
                return _view(job)  # done, failed, or being issued by another process
            job.state = "running"
            job.heartbeat_at = now
            issuer_id, kind, start = job.issuer_id, CertificateKind(job.kind), job.done
            checked = validate_rows(_table(job), job.mapping, kind)
            first_row = int(job.table["first_row"])
            errors_by_row: dict[int, list[str]] = {}
            for e in checked.errors:
                errors_by_row.setdefault(e.row, []).append(f"{e.column}: {e.message_en}")
        rows = list(enumerate(checked.submissions))
        try:
            for begin in range(start, len(rows), self._chunk):
                chunk = rows[begin : begin + self._chunk]
                results = self._issue_chunk(
                    issuer_id, chunk, first_row=first_row, errors=errors_by_row, actor=actor
                )
                self._progress(job_id, done=begin + len(chunk), results=results)
        except Exception as exc:  # the job says why; the rows done stay done
            log.exception("import %s failed", job_id)
            with self._sessions.begin() as session:
                job = self._job(session, None, job_id, lock=True)
                job.state = "failed"
                job.message = f"{type(exc).__name__}: {exc}"[:2000]
                job.finished_at = naive_utc(self._clock())
                return _view(job)
        with self._sessions.begin() as session:
            job = self._job(session, None, job_id, lock=True)
            job.state = "done"
            job.finished_at = naive_utc(self._clock())
            return _view(job)

    def _issue_chunk(
        self,
        issuer_id: str,
        chunk: Sequence[tuple[int, TypedModel | None]],
        *,
        first_row: int,
        errors: dict[int, list[str]],
        actor: Actor | None,
    ) -> list[list[Any]]:
        """Each row's [row, number, certificate_id, outcome, message]: the chunk's valid rows
        issued at once; if that is refused, one by one, so that only the refused rows fail."""
        valid = [(i, s) for i, s in chunk if s is not None]
        outcome: dict[int, list[Any]] = {}
        for i, submission in chunk:
            if submission is None:
                row = first_row + i
                outcome[i] = [row, None, None, "invalid", "; ".join(errors.get(row, []))]
        try:
            issued = self._certificates.issue_batch(
                issuer_id, [s for _, s in valid], actor=actor, reviewed=True
            )
            for (i, submission), result in zip(valid, issued, strict=True):
                outcome[i] = self._row(
                    first_row + i, submission, result.certificate.id, result.created
                )
        except RetryLaterError:
            raise
        except ServiceError:
            for i, submission in valid:
                try:
                    [result] = self._certificates.issue_batch(
                        issuer_id, [submission], actor=actor, reviewed=True
                    )
                except ServiceError as exc:
                    certificate_id = certificate_id_for(
                        issuer_id=issuer_id, number=submission.number
                    )
                    outcome[i] = [
                        first_row + i,
                        submission.number,
                        certificate_id,
                        "refused",
                        str(exc),
                    ]
                    continue
                outcome[i] = self._row(
                    first_row + i, submission, result.certificate.id, result.created
                )
        return [outcome[i] for i, _ in chunk]

    @staticmethod
    def _row(row: int, submission: TypedModel, certificate_id: str, created: bool) -> list[Any]:
        return [row, submission.number, certificate_id, "issued" if created else "existing", ""]

    def _progress(self, job_id: str, *, done: int, results: list[list[Any]]) -> None:
        with self._sessions.begin() as session:
            job = self._job(session, None, job_id, lock=True)
            counted = {"issued": 0, "existing": 0, "refused": 0}
            for result in results:
                if result[3] in counted:
                    counted[result[3]] += 1
            job.done = done
            job.heartbeat_at = naive_utc(self._clock())
            job.issued += counted["issued"]
            job.existing += counted["existing"]
            job.refused += counted["refused"]
            job.results = [*job.results, *results]

    def certificate_ids(self, issuer_id: str, job_id: str) -> list[str]:
        """The certificates a job issued or found issued, in its rows' order (to print)."""
        with self._sessions() as session:
            job = self._job(session, issuer_id, job_id)
            return [r[2] for r in job.results if r[3] in ("issued", "existing") and r[2]]

    # -- the result file --------------------------------------------------------------------------

    def result_csv(self, issuer_id: str, job_id: str) -> tuple[str, bytes]:
        """(file name, CSV): before issuing, each row's check (valid, or its errors); after,
        each row's outcome — issued, existing (issued before, the same record), refused or
        invalid — with its certificate id. UTF-8 with a BOM, for spreadsheets."""
        with self._sessions() as session:
            job = self._job(session, issuer_id, job_id)
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(
                ["dòng/row", "số chứng nhận/number", "mã chứng nhận/certificate_id",
                 "kết quả/outcome", "lỗi/error"]
            )  # fmt: skip
            done = {r[0]: r for r in job.results}
            errors: dict[int, list[str]] = {}
            for row, column, _, message in job.errors:
                errors.setdefault(row, []).append(f"{column}: {message}" if column else message)
            number_column = next((h for h, k in job.mapping.items() if k == "number"), None)
            headers = job.table["headers"]
            number_at = headers.index(number_column) if number_column in headers else None
            for offset, cells in enumerate(job.table["rows"]):
                row = int(job.table["first_row"]) + offset
                if row in done:
                    _, number, certificate_id, outcome, message = done[row]
                elif row in errors:
                    number, certificate_id, outcome, message = (
                        None,
                        None,
                        "invalid",
                        "; ".join(errors[row]),
                    )
                else:
                    number, certificate_id, outcome, message = None, None, "valid", ""
                if number is None and number_at is not None and number_at < len(cells):
                    number = cells[number_at]
                writer.writerow(
                    [row, _safe(number or ""), certificate_id or "", outcome, _safe(message)]
                )
            stem = job.filename.rsplit(".", 1)[0][:80] or "import"
            return f"{stem}-result.csv", "\ufeff".encode() + out.getvalue().encode("utf-8")

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _job(
        session: Session, issuer_id: str | None, job_id: str, *, lock: bool = False
    ) -> models.ImportJob:
        query = select(models.ImportJob).where(models.ImportJob.id == job_id)
        if lock:
            query = query.with_for_update()
        job = session.scalars(query).first()
        if job is None or (issuer_id is not None and job.issuer_id != issuer_id):
            raise NotFoundError(f"import {job_id}: got none of this CB, want an upload's id")
        return job


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


class ImportRunner:
    """Issues confirmed jobs one at a time on a thread of its own, in the API's process (a
    job's work is mostly the database's and the signing's; one at a time keeps a big import
    from starving requests of the log's lock)."""

    def __init__(self, imports: Imports) -> None:
        self._imports = imports
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="certreg-import")

    def submit(self, job_id: str, *, actor: Actor | None = None) -> "Future[ImportView]":
        return self._executor.submit(self._imports.run, job_id, actor=actor)

    def resume(self) -> None:
        """Queue the jobs confirmed but not finished (this or another process stopped)."""
        for job_id in self._imports.pending():
            self.submit(job_id)

    def close(self) -> None:
        """Finish the job in hand (its chunk is one transaction); drop the queued ones, which
        stay queued in the database for the next start."""
        self._executor.shutdown(wait=True, cancel_futures=True)
