"""The question bank: reading CSV and JSON files, validating every row, importing.

File formats (Spanish column names, as the SEGELIC staff write them):

CSV, UTF-8, a header row:
    codigo,categorias,pregunta,opcion_a,opcion_b,opcion_c,opcion_d,opcion_e,respuesta,explicacion
    `categorias`: one or more of A B C M P T separated by spaces, commas or "|";
    `opcion_c` … `opcion_e` may be empty (2 to 5 options); `respuesta`: the letter
    of the correct option (a–e); `explicacion` optional.

JSON, a list of objects (or {"preguntas": [...]}):
    {"codigo", "categorias": ["B", "P"] or "B P", "pregunta", "opciones": [str],
     "respuesta": "b" (letter) , "explicacion"?}

An import is all or nothing: any invalid row rejects the file with every problem listed
by row. Existing codes are updated, new codes created.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from tortoise.transactions import in_transaction

from turnero.exam.models import Question
from turnero.exam.policy import CATEGORIES

LETTERS = "abcde"
MAX_CHOICES = len(LETTERS)
CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_BANK = DATA_DIR / "preguntas_demo.json"


@dataclass(frozen=True)
class QuestionRow:
    code: str
    categories: tuple[str, ...]
    text: str
    choices: tuple[str, ...]
    correct: int
    explanation: str = ""

    @property
    def categories_key(self) -> str:
        return "|" + "|".join(self.categories) + "|"


class ImportErrors(ValueError):
    """The file is not imported; `problems` says where and why, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _categories(value) -> tuple[list[str], str | None]:
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = [c for c in re.split(r"[\s,|;]+", value) if c]
    else:
        return [], "«categorias» debe ser texto o una lista"
    if not items:
        return [], "falta «categorias»"
    wrong = [str(c) for c in items if not isinstance(c, str) or c.strip().upper() not in CATEGORIES]
    if wrong:
        return [], f"categoría desconocida {', '.join(map(repr, wrong))} (válidas: {' '.join(CATEGORIES)})"
    ordered = sorted({c.strip().upper() for c in items}, key=CATEGORIES.index)
    return ordered, None


def validate_row(raw: dict) -> tuple[QuestionRow | None, list[str]]:
    """A row as read from either format (keys: codigo, categorias, pregunta, opciones,
    respuesta, explicacion) -> the question, or the list of what is wrong with it."""
    problems = []
    code = _text(raw.get("codigo"))
    if not code:
        problems.append("falta «codigo»")
    elif not CODE_RE.fullmatch(code):
        problems.append(f"«codigo» {code!r} no es válido (letras, números, . _ -; hasta 32)")
    categories, why = _categories(raw.get("categorias"))
    if why:
        problems.append(why)
    text = _text(raw.get("pregunta"))
    if not text:
        problems.append("falta el texto de «pregunta»")
    elif len(text) > 1000:
        problems.append("«pregunta» admite como máximo 1000 caracteres")
    options = raw.get("opciones")
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        problems.append("«opciones» debe ser una lista de textos")
        options = []
    choices = [o.strip() for o in options]
    if any(not c for c in choices):
        problems.append("hay una opción vacía entre las opciones")
    elif not 2 <= len(choices) <= MAX_CHOICES:
        problems.append(f"se necesitan de 2 a {MAX_CHOICES} opciones (hay {len(choices)})")
    elif len(set(c.casefold() for c in choices)) != len(choices):
        problems.append("hay opciones repetidas")
    elif any(len(c) > 300 for c in choices):
        problems.append("cada opción admite como máximo 300 caracteres")
    answer = _text(raw.get("respuesta")).lower()
    correct = LETTERS.find(answer) if len(answer) == 1 else -1
    if correct < 0:
        problems.append(f"«respuesta» debe ser una letra de la a a la {LETTERS[MAX_CHOICES - 1]}")
    elif choices and correct >= len(choices):
        problems.append(f"«respuesta» {answer!r} no corresponde a ninguna opción")
    explanation = _text(raw.get("explicacion"))
    if problems:
        return None, problems
    return QuestionRow(code, tuple(categories), text, tuple(choices), correct, explanation), []


def _collect(rows: list[tuple[str, dict]]) -> list[QuestionRow]:
    good, problems, seen = [], [], {}
    for where, raw in rows:
        row, wrong = validate_row(raw)
        if row and row.code in seen:
            wrong = [f"el código {row.code!r} ya aparece en {seen[row.code]}"]
        if wrong:
            problems.append(f"{where}: " + "; ".join(wrong))
        else:
            seen[row.code] = where
            good.append(row)
    if problems:
        raise ImportErrors(problems)
    if not good:
        raise ImportErrors(["el archivo no contiene preguntas"])
    return good


CSV_REQUIRED = ("codigo", "categorias", "pregunta", "opcion_a", "opcion_b", "respuesta")


def parse_csv(content: str) -> list[QuestionRow]:
    content = content.lstrip("\ufeff")  # a BOM from spreadsheet exports
    reader = csv.DictReader(io.StringIO(content))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise ImportErrors([f"encabezado: faltan las columnas {', '.join(missing)}"])
    reader.fieldnames = header
    rows = []
    try:
        for raw in reader:
            options = [_text(raw.get(f"opcion_{letter}")) for letter in LETTERS]
            while options and not options[-1]:
                options.pop()
            rows.append((f"fila {reader.line_num}", {**raw, "opciones": options}))
    except csv.Error as exc:
        raise ImportErrors([f"fila {reader.line_num}: CSV mal formado ({exc})"]) from None
    return _collect(rows)


def parse_json(content: str) -> list[QuestionRow]:
    try:
        data = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise ImportErrors([f"JSON mal formado: {exc}"]) from None
    if isinstance(data, dict) and "preguntas" in data:
        data = data["preguntas"]
    if not isinstance(data, list):
        raise ImportErrors(["el JSON debe ser una lista de preguntas (o {\"preguntas\": [...]})"])
    rows = []
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict):
            rows.append((f"pregunta {i}", {}))
            continue
        rows.append((f"pregunta {i}", item))
    return _collect(rows)


def parse_file(path: Path) -> list[QuestionRow]:
    try:
        content = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ImportErrors(["el archivo no está en UTF-8"]) from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return parse_csv(content)
    if suffix == ".json":
        return parse_json(content)
    raise ImportErrors([f"formato no reconocido {suffix or '(sin extensión)'}: use .csv o .json"])


async def import_questions(rows: list[QuestionRow]) -> tuple[int, int]:
    """Create new codes and update existing ones that changed, in one transaction;
    (created, updated)."""
    created = updated = 0
    async with in_transaction():
        existing = {q.code: q for q in await Question.filter(code__in=[r.code for r in rows])}
        for row in rows:
            values = dict(
                categories=row.categories_key, text=row.text, choices=list(row.choices),
                correct=row.correct, explanation=row.explanation, active=True,
            )
            question = existing.get(row.code)
            if question is None:
                await Question.create(code=row.code, **values)
                created += 1
            elif any(getattr(question, name) != value for name, value in values.items()):
                await Question.filter(id=question.id).update(**values)
                updated += 1  # (a row identical to the bank's is left alone and not counted)
    return created, updated


async def seed_demo_bank() -> int:
    """Load the demo bank when the bank is empty (idempotent)."""
    if await Question.exists():
        return 0
    created, _ = await import_questions(parse_file(DEMO_BANK))
    return created
