"""The question bank: CSV and JSON files validated row by row (all or nothing), the
demo bank, and the `turnero exam import FILE` command run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from turnero.exam.models import Question
from turnero.exam.policy import CATEGORIES
from turnero.exam.questions import DEMO_BANK, ImportErrors, import_questions, parse_csv, parse_file, parse_json

HEADER = "codigo,categorias,pregunta,opcion_a,opcion_b,opcion_c,opcion_d,opcion_e,respuesta,explicacion\n"
GOOD_CSV = HEADER + (
    'Q-1,B P,"¿Qué indica la luz roja del semáforo?",Detenerse,Avanzar,Girar,,,a,La luz roja obliga a detenerse.\n'
    'Q-2,"M, T",¿Quién usa casco?,Nadie,El conductor y el acompañante,,,,b,\n'
)


def problems(call) -> list[str]:
    with pytest.raises(ImportErrors) as info:
        call()
    return info.value.problems


def test_a_valid_csv_is_read():
    rows = parse_csv(GOOD_CSV)
    assert [r.code for r in rows] == ["Q-1", "Q-2"]
    assert rows[0].categories == ("B", "P") and rows[0].categories_key == "|B|P|"
    assert rows[0].choices == ("Detenerse", "Avanzar", "Girar") and rows[0].correct == 0
    assert rows[1].categories == ("M", "T") and rows[1].choices == ("Nadie", "El conductor y el acompañante")
    assert rows[1].correct == 1 and rows[1].explanation == ""


def test_a_bom_and_upper_case_header_are_accepted():
    assert len(parse_csv("\ufeff" + HEADER.upper() + GOOD_CSV.split("\n", 1)[1])) == 2


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_kept():
    bad = HEADER + (
        "Q-1,B,Pregunta válida,Sí,No,,,,a,\n"
        "Q-2,X,Categoría rara,Sí,No,,,,a,\n"
        "Q-3,B,,Sí,No,,,,a,\n"
        "Q-4,B,Una sola opción,Sí,,,,,a,\n"
        "Q-5,B,Respuesta fuera,Sí,No,,,,d,\n"
        "Q-6,B,Respuesta rara,Sí,No,,,,z,\n"
        "Q-1,B,Código repetido,Sí,No,,,,a,\n"
        "Q 7,B,Código con espacio,Sí,No,,,,a,\n"
        "Q-8,B,Opciones repetidas,Sí,sí,,,,a,\n"
        "Q-9,B,Hueco entre opciones,Sí,,No,,,a,\n"
    )
    found = problems(lambda: parse_csv(bad))
    assert len(found) == 9
    assert found[0].startswith("fila 3:") and "categoría desconocida 'X'" in found[0]
    assert found[1].startswith("fila 4:") and "pregunta" in found[1]
    assert "de 2 a 5 opciones" in found[2]
    assert "no corresponde a ninguna opción" in found[3]
    assert "letra" in found[4]
    assert "ya aparece en fila 2" in found[5]
    assert "«codigo»" in found[6]
    assert "repetidas" in found[7]
    assert "opción vacía" in found[8]


def test_a_csv_without_the_required_columns_is_refused():
    assert problems(lambda: parse_csv("codigo,pregunta\nQ-1,Hola\n")) == [
        "encabezado: faltan las columnas categorias, opcion_a, opcion_b, respuesta"
    ]


def test_an_empty_file_is_refused():
    assert problems(lambda: parse_csv(HEADER)) == ["el archivo no contiene preguntas"]
    assert problems(lambda: parse_json("[]")) == ["el archivo no contiene preguntas"]


def test_json_forms_and_errors():
    item = {"codigo": "J-1", "categorias": ["b", "C"], "pregunta": "¿Preferencia en rotonda?",
            "opciones": ["Quien está dentro", "Quien entra"], "respuesta": "A"}
    assert parse_json(json.dumps([item]))[0].categories == ("B", "C")
    assert parse_json(json.dumps({"preguntas": [item]}))[0].correct == 0
    found = problems(lambda: parse_json(json.dumps([item, "texto", {**item, "codigo": "J-2", "opciones": "a,b"},
                                                    {**item, "codigo": "J-3", "categorias": 5}])))
    assert [p.split(":")[0] for p in found] == ["pregunta 2", "pregunta 3", "pregunta 4"]
    assert "«opciones» debe ser una lista" in found[1] and "«categorias» debe ser texto" in found[2]
    assert problems(lambda: parse_json("{no es json"))[0].startswith("JSON mal formado")
    assert problems(lambda: parse_json('{"otra": 1}'))[0].startswith("el JSON debe ser una lista")


def test_file_type_and_encoding(tmp_path: Path):
    latin = tmp_path / "banco.csv"
    latin.write_bytes(GOOD_CSV.encode("latin-1"))
    assert problems(lambda: parse_file(latin)) == ["el archivo no está en UTF-8"]
    other = tmp_path / "banco.xlsx"
    other.write_bytes(b"PK")
    assert "use .csv o .json" in problems(lambda: parse_file(other))[0]


def test_the_demo_bank_is_valid_and_covers_every_category_generously():
    rows = parse_file(DEMO_BANK)
    assert len(rows) >= 60
    for category in CATEGORIES:
        assert sum(1 for r in rows if category in r.categories) >= 40, category
    # The correct option is not always in the same place.
    assert len({r.correct for r in rows}) == 4


async def test_import_creates_then_updates_by_code(db):
    before = await Question.all().count()  # the demo bank
    created, updated = await import_questions(parse_csv(GOOD_CSV))
    assert (created, updated) == (2, 0)
    changed = GOOD_CSV.replace("¿Quién usa casco?", "¿Quién debe usar casco?")
    assert await import_questions(parse_csv(changed)) == (0, 1)  # only the changed row
    question = await Question.get(code="Q-2")
    assert question.text == "¿Quién debe usar casco?" and question.categories == "|M|T|"
    assert question.choices == ["Nadie", "El conductor y el acompañante"] and question.correct == 1
    assert await Question.all().count() == before + 2


def _turnero(args: list[str], database_url: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TURNERO_DATABASE_URL": database_url, "TURNERO_RUN_JOBS": "0"}
    return subprocess.run([sys.executable, "-m", "turnero", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_cli_import_validates_then_imports(database, tmp_path: Path):
    bad = tmp_path / "malo.csv"
    bad.write_text(HEADER + "Q-1,B,Sin respuesta,Sí,No,,,,,\nQ-2,Z,Categoría,Sí,No,,,,a,\n", encoding="utf-8")
    refused = _turnero(["exam", "import", str(bad)], database.url, tmp_path)
    assert refused.returncode == 1
    assert "No se importó nada: 2 problema(s)" in refused.stderr
    assert "fila 2:" in refused.stderr and "fila 3:" in refused.stderr and "categoría desconocida 'Z'" in refused.stderr

    good = tmp_path / "banco.csv"
    good.write_text(GOOD_CSV, encoding="utf-8")
    done = _turnero(["exam", "import", str(good)], database.url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Preguntas importadas: 2 nuevas, 0 actualizadas." in done.stdout
    again = _turnero(["exam", "import", str(DEMO_BANK)], database.url, tmp_path)
    assert again.returncode == 0 and "0 actualizadas" in again.stdout

    missing = _turnero(["exam", "import", str(tmp_path / "no.csv")], database.url, tmp_path)
    assert missing.returncode != 0 and "No existe el archivo" in missing.stderr
