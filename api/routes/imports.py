"""Spreadsheet imports over HTTP (docs/spec.md §11.13): a template per kind, an upload that
is checked and previewed but issues nothing, a mapping of the file's columns, the officer's
confirmation, then issuance in the background with its progress and a result file.

Plain `def` routes: each reads or writes the database (FastAPI runs them in its thread pool).
"""

import datetime as dt
from typing import Annotated, Final, Literal

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import OfficerDep, StackDep
from api.problems import responses
from registry.fields import CertificateKind
from registry.imports import ImportView
from registry.sheets import MAX_ROWS, template_columns, template_csv, template_xlsx

__all__ = ["IMPORT_PATH", "router"]

router = APIRouter(prefix="/v1/imports", tags=["imports"])

#: the upload route, which takes bodies larger than the API's usual bound (api/app.py)
IMPORT_PATH: Final = "/v1/imports"
ImportId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
_AUTH: Final = (401, 403, 429)
_XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RowErrorOut(BaseModel):
    row: int = Field(description="the spreadsheet's row number")
    column: str = Field(description="the file's column header ('' for the row as a whole)")
    message_vi: str
    message_en: str


class ImportOut(BaseModel):
    id: str
    issuer_id: str
    kind: str
    filename: str
    file_sha256: str
    state: str = Field(description="uploaded, queued, running, done or failed")
    created_at: dt.datetime
    headers: list[str] = Field(description="the file's header row")
    mapping: dict[str, str] = Field(description="header → column key of the kind's template")
    mapping_problems: list[str] = Field(description="what keeps the mapping from being used")
    rows: int
    valid: int
    error_count: int
    errors: list[RowErrorOut] = Field(description="the first 200 errors; all in the result file")
    done: int = Field(description="rows done while issuing")
    issued: int
    existing: int = Field(description="rows issued before with the same record: not again")
    refused: int
    confirmed_at: dt.datetime | None
    finished_at: dt.datetime | None
    message: str | None
    repeated: bool = Field(description="this file was uploaded before: its earlier job")


class ImportPage(BaseModel):
    total: int
    imports: list[ImportOut]


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mapping: dict[Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=64)]] = (
        Field(max_length=500)
    )


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skip_invalid: bool = Field(
        default=False, description="issue the valid rows and list the others as invalid"
    )


class ColumnOut(BaseModel):
    key: str
    header_vi: str
    header_en: str
    required: bool
    hint: str


class ImportColumns(BaseModel):
    columns: list[ColumnOut]


def _out(view: ImportView) -> ImportOut:
    return ImportOut(
        **{k: v for k, v in view.__dict__.items() if k != "errors"},
        errors=[RowErrorOut(**e.__dict__) for e in view.errors],
    )


@router.get(
    "/templates/{kind}",
    summary="A kind's import template (XLSX or CSV, Vietnamese headers)",
    responses={
        200: {"content": {_XLSX: {}, "text/csv": {}, "application/json": {}}},
        **responses(422),
    },
)
def template(
    kind: CertificateKind,
    format_: Annotated[Literal["xlsx", "csv", "json"], Query(alias="format")] = "xlsx",
) -> Response:
    """The columns of `kind`'s rows: an XLSX with the header row and a sheet of instructions,
    a CSV header row, or the columns as JSON (key, headers, required, how to write it)."""
    if format_ == "json":
        columns = [ColumnOut(**c.__dict__) for c in template_columns(kind)]
        return Response(
            content=ImportColumns(columns=columns).model_dump_json(),
            media_type="application/json",
        )
    content, media = (
        (template_xlsx(kind), _XLSX) if format_ == "xlsx" else (template_csv(kind), "text/csv")
    )
    return Response(
        content=content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="mau-{kind.value}.{format_}"'},
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a spreadsheet of certificates: checked and previewed, nothing issued",
    responses={200: {"model": ImportOut, "description": "This file was uploaded before"},
               **responses(*_AUTH, 400, 413, 422)},
)  # fmt: skip
def upload(
    officer: OfficerDep,
    stack: StackDep,
    response: Response,
    kind: Annotated[CertificateKind, Form()],
    file: Annotated[UploadFile, File(description=f"CSV or XLSX, at most {MAX_ROWS} rows")],
) -> ImportOut:
    """The file's rows checked against `kind`'s model with its headers mapped automatically;
    each row's errors in plain words (Vietnamese and English). The same file again answers its
    earlier job with 200."""
    data = file.file.read()
    view = stack.service.imports.upload(
        officer.issuer_id,
        kind=kind,
        filename=file.filename or "import",
        data=data,
        actor=officer.actor,
    )
    if view.repeated:
        response.status_code = status.HTTP_200_OK
    return _out(view)


@router.get("", summary="The CB's imports, newest first", responses=responses(*_AUTH, 422))
def list_imports(
    officer: OfficerDep,
    stack: StackDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ImportPage:
    views, total = stack.service.imports.search(officer.issuer_id, limit=limit, offset=offset)
    return ImportPage(total=total, imports=[_out(v) for v in views])


@router.get(
    "/{import_id}",
    summary="An import: its check, and its progress once confirmed",
    responses=responses(*_AUTH, 404, 422),
)
def get_import(import_id: ImportId, officer: OfficerDep, stack: StackDep) -> ImportOut:
    return _out(stack.service.imports.get(officer.issuer_id, import_id))


@router.put(
    "/{import_id}/mapping",
    summary="Map the file's columns otherwise and check the rows again",
    responses=responses(*_AUTH, 400, 404, 409, 422),
)
def remap(import_id: ImportId, body: MappingIn, officer: OfficerDep, stack: StackDep) -> ImportOut:
    return _out(stack.service.imports.remap(officer.issuer_id, import_id, body.mapping))


@router.post(
    "/{import_id}/confirm",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Issue the import's rows, in the background",
    responses=responses(*_AUTH, 400, 404, 409, 422),
)
def confirm(
    import_id: ImportId, body: ConfirmIn, officer: OfficerDep, stack: StackDep
) -> ImportOut:
    """Every row must be valid, unless `skip_invalid`; then the job is queued and issued in
    chunks (follow `GET /v1/imports/{id}`: `state`, `done`, `issued`)."""
    view = stack.service.imports.confirm(
        officer.issuer_id, import_id, skip_invalid=body.skip_invalid, actor=officer.actor
    )
    stack.import_runner.submit(import_id, actor=officer.actor)
    return _out(view)


@router.get(
    "/{import_id}/result.csv",
    summary="Each row's outcome (or, before issuing, its check) as CSV",
    responses={200: {"content": {"text/csv": {}}}, **responses(*_AUTH, 404, 422)},
)
def result(import_id: ImportId, officer: OfficerDep, stack: StackDep) -> Response:
    name, content = stack.service.imports.result_csv(officer.issuer_id, import_id)
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return Response(
        content=content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )
