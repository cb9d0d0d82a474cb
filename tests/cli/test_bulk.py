"""`send --bulk FILE.csv`: the header row, row numbers and addresses in every error."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from smtp_servers import MakeServer, config_for

from smtp_connector.cli import main


def run_bulk(tmp_path: Path, config: dict, csv_text: str, *extra: str) -> tuple[int, str, str]:
    (tmp_path / "smtp.json").write_text(json.dumps(config))
    (tmp_path / "rows.csv").write_text(csv_text, encoding="utf-8")
    args = ["send", "--config", str(tmp_path / "smtp.json"), "--bulk", str(tmp_path / "rows.csv")]
    result = CliRunner().invoke(main, [*args, *extra])
    return result.exit_code, result.stdout, result.stderr


def test_columns_in_any_order_with_defaults(make_server: MakeServer, tmp_path: Path) -> None:
    server = make_server()
    csv_text = (
        "\ufefflocale,To,code,usage\n"  # Excel's BOM, capitalised header, any column order
        "es,ana@example.org,111111,Register\n"
        ",bob@example.org,222222,\n"
    )
    code, out, err = run_bulk(tmp_path, config_for(server), csv_text, "--usage", "SignIn")
    assert code == 0, out + err
    assert "sent 2/2" in out
    by_rcpt = {m.rcpt_tos[0]: m.content for m in server.handler.messages}
    assert b"111111" in by_rcpt["ana@example.org"] and b"222222" in by_rcpt["bob@example.org"]


def test_every_error_names_row_and_address(make_server: MakeServer, tmp_path: Path) -> None:
    server = make_server(reject_rcpt={"gone@example.org": "550 5.1.1 No such user"})
    csv_text = (
        "to,code,link\n"
        "ok@example.org,111111,\n"  # row 2
        "\n"  # row 3: blank lines are skipped but still counted
        "not-an-address,222222,\n"  # row 4
        "gone@example.org,333333,\n"  # row 5
        'link@example.org,444444,"javascript:alert(1)"\n'  # row 6
    )
    code, out, err = run_bulk(tmp_path, config_for(server), csv_text)
    assert code == 1
    assert "sent 1/4" in out
    lines = err.strip().splitlines()
    assert lines[-3].startswith("  row 4 (not-an-address): [invalid_recipient]")
    assert lines[-2].startswith("  row 5 (gone@example.org): [recipient_rejected]")
    assert "550 5.1.1" in lines[-2]
    assert lines[-1].startswith("  row 6 (link@example.org): [template_error]")
    assert [m.rcpt_tos for m in server.handler.messages] == [["ok@example.org"]]


def test_json_results_carry_row_and_address(make_server: MakeServer, tmp_path: Path) -> None:
    server = make_server()
    csv_text = 'to,code\nok@example.org,1\n"bad address",2\n'
    code, out, _ = run_bulk(tmp_path, config_for(server), csv_text, "--json")
    assert code == 1
    report = json.loads(out[out.index("{") :])
    first, second = report["results"]
    assert (first["row"], first["to"], first["ok"]) == (2, "ok@example.org", True)
    assert first["result"]["accepted"] == ["ok@example.org"]
    assert (second["row"], second["to"], second["ok"]) == (3, "bad address", False)
    assert second["error"]["code"] == "invalid_recipient"


def test_missing_header_row_is_explained(tmp_path: Path) -> None:
    code, _, err = run_bulk(tmp_path, config_for(2525), "ana@example.org,111111\n")
    assert code == 2
    assert err.count("\n") == 1
    assert "the first row must be the header (to,usage,code,locale,link" in err


def test_unknown_column_is_named(tmp_path: Path) -> None:
    code, _, err = run_bulk(tmp_path, config_for(2525), "to,cdoe\nana@example.org,1\n")
    assert code == 2 and "unknown column(s) 'cdoe'" in err


def test_too_many_values_names_the_row(tmp_path: Path) -> None:
    csv_text = "to,code\na@example.org,1\nb@example.org,2,extra\n"
    code, _, err = run_bulk(tmp_path, config_for(2525), csv_text)
    assert code == 2 and "row 3 has 3 values but the header 2" in err


def test_multiline_values_keep_row_numbers_as_lines(
    make_server: MakeServer, tmp_path: Path
) -> None:
    server = make_server()
    csv_text = 'to,link\nx@example.org,"https://a.example/\n?x"\ny@,https://b.example/\n'
    code, _, err = run_bulk(tmp_path, config_for(server), csv_text)
    assert code == 1
    assert "row 2 (x@example.org): [template_error]" in err  # whitespace inside the link
    assert "row 4 (y@): [invalid_recipient]" in err  # the record starts on line 4
