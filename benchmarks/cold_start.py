"""Cold start: process start → the first message accepted (250 after DATA) at a local sink.

    python benchmarks/cold_start.py                  # connector, smtplib, nodemailer; 7 runs each
    python benchmarks/cold_start.py --repeat 3 --skip-node
    python benchmarks/cold_start.py --compare ../base/.venv/bin/python   # before/after
    python benchmarks/cold_start.py --stages         # where the connector's CPU goes
    python benchmarks/cold_start.py --logto ...      # the connector with a Logto config

Each run is a new process that sends one SignIn mail (the shipped template, text + HTML, or
the same text and HTML for the others) to postfix's `smtp-sink` and prints the moment the
server's 250 came back; the contenders' runs are interleaved (connector, smtplib, nodemailer,
connector, …) so a load change on the machine hits all of them alike.
- connector: `import asyncio; from smtp_connector import SmtpConnector`, build it from a dict
  (host, port, fromEmail, fromName, ignoreTLS), `await connector.send(...)`.
- smtplib: `smtplib.SMTP` + `email.message.EmailMessage` (text + HTML alternative).
- nodemailer: `createTransport({...}).sendMail(...)` without a pool.
`--logto`: the connector's config is a Logto one instead, with its own `templates` (Logto's
connector-smtp defaults: one text/plain template per usage type, `{{code}}`) and
`customHeaders: {}`; the mail is the SignIn template's text.
`--stages` runs the connector's program in steps instead and prints the CPU ms of each
(interpreter start; `import asyncio`; importing the connector; validating the config and
building the connector; the first send), median and range of `--repeat` runs, this tree and
`--compare`'s interleaved. What the program does not load it does not import either (a plain
first send loads neither pydantic nor Jinja: tests/test_layout.py).
Per contender: wall ms from spawning the process to reading its line (median and range) and
the process's CPU ms (user + system) up to the 250, as it measured it itself. One unmeasured
run of each goes first, so compiled bytecode (what `pip install` writes) and the OS file cache
are there, as they are on a deployed service; PYTHONDONTWRITEBYTECODE is dropped for the
children for the same reason.
"""

from __future__ import annotations

import sys
import time

CONNECTOR_CONFIG = {"fromEmail": "noreply@example.com", "fromName": "Acme", "ignoreTLS": True}
PAYLOAD = {"code": "123456", "application": {"name": "Acme"}}
# `--logto`: Logto's connector-smtp config, its default templates (packages/connectors/
# connector-smtp/src/constant.ts) for each usage type it sends.
LOGTO_CONFIG = {
    **CONNECTOR_CONFIG,
    "customHeaders": {},
    "templates": [
        {
            "usageType": usage,
            "contentType": "text/plain",
            "subject": f"Logto {usage} Template",
            "content": f"This is for {usage} purposes only. "
            "Your verification code is {{code}}.",
        }
        for usage in ("SignIn", "Register", "ForgotPassword", "Generic")
    ],
}
CONFIGS = {"connector": CONNECTOR_CONFIG, "connector-logto": LOGTO_CONFIG}


def child_connector(port: int, config: dict[str, object] = CONNECTOR_CONFIG) -> None:
    """The measured program for the connector: what an async auth service does on its first
    verification mail."""
    import asyncio

    from smtp_connector import SmtpConnector

    async def first_send() -> None:
        async with SmtpConnector({**config, "host": "127.0.0.1", "port": port}) as c:
            await c.send("user@example.org", "SignIn", PAYLOAD)
            _report()

    asyncio.run(first_send())


def child_stages(port: int, config: dict[str, object] = CONNECTOR_CONFIG) -> None:
    """The connector's program in steps, printing the process's CPU ms after each as JSON."""
    import json

    marks = [("interpreter start", time.process_time())]

    def mark(name: str) -> None:
        marks.append((name, time.process_time()))

    import asyncio

    mark("import asyncio")
    import smtp_connector.connector  # noqa: F401  # what a first send imports at the start

    mark("import the connector")
    from smtp_connector import SmtpConnector

    async def first_send() -> None:
        connector = SmtpConnector({**config, "host": "127.0.0.1", "port": port})
        mark("validate the config, build the connector")
        async with connector:
            await connector.send("user@example.org", "SignIn", PAYLOAD)
            mark("first send (render, connect, 250)")

    asyncio.run(first_send())
    stages = [(name, (at - marks[i][1]) * 1000) for i, (name, at) in enumerate(marks[1:])]
    print(json.dumps([("interpreter start", marks[0][1] * 1000), *stages]), flush=True)


def child_smtplib(port: int, reference_path: str) -> None:
    """The measured program for smtplib: one EmailMessage with the same text and HTML."""
    import json
    import smtplib
    from email.message import EmailMessage

    with open(reference_path, encoding="utf-8") as file:
        reference = json.load(file)
    code = PAYLOAD["code"]
    message = EmailMessage()
    message["From"] = reference["from"]
    message["To"] = "user@example.org"
    message["Subject"] = reference["subject"].replace(reference["placeholder"], code)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(reference["text"].replace(reference["placeholder"], code))
    message.add_alternative(reference["html"].replace(reference["placeholder"], code), "html")
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.send_message(message)
        _report()


def _report() -> None:
    """The process's own CPU time at the 250 (interpreter start included)."""
    print(f"{time.process_time() * 1000:.3f}", flush=True)


NODE_CHILD = """
const path = require("path");
const nodemailer = require(path.join(process.env.NODEMAILER_DIR, "node_modules", "nodemailer"));
const reference = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const fill = (text) => text.split(reference.placeholder).join("123456");
const transport = nodemailer.createTransport({
  host: "127.0.0.1", port: Number(process.argv[1]), secure: false, ignoreTLS: true,
});
transport.sendMail({
  from: reference.from, to: "user@example.org", subject: fill(reference.subject),
  text: fill(reference.text), html: fill(reference.html),
  headers: { "Auto-Submitted": "auto-generated" },
}).then(() => {
  const cpu = process.cpuUsage();
  console.log(((cpu.user + cpu.system) / 1000).toFixed(3));
  transport.close();
});
"""


def main() -> None:
    import argparse
    import json
    import os
    import statistics
    import subprocess
    import tempfile
    from pathlib import Path

    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    from messages import write_reference
    from run import NODEMAILER_DIR, ensure_nodemailer
    from sink import smtp_sink

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="measured runs per contender")
    parser.add_argument("--skip-node", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated contenders to run")
    parser.add_argument("--compare", default="", help="also the connector under this Python")
    parser.add_argument("--stages", action="store_true", help="the connector's CPU by stage")
    parser.add_argument("--logto", action="store_true", help="a Logto config with templates")
    args = parser.parse_args()
    if args.stages:
        return stages_table(args.repeat, args.compare, "stages-logto" if args.logto else "stages")
    child = "connector-logto" if args.logto else "connector"

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["NODEMAILER_DIR"] = str(NODEMAILER_DIR)
    with tempfile.TemporaryDirectory() as folder:
        reference = Path(folder) / "message.json"
        write_reference(reference)
        commands = {
            "connector": [sys.executable, __file__, child],
            "smtplib": [sys.executable, __file__, "smtplib"],
        }
        if args.compare:  # another tree's interpreter (its venv), e.g. main before a change
            commands["compared"] = [args.compare, __file__, child]
        if not args.skip_node and ensure_nodemailer():
            commands["nodemailer"] = ["node", "-e", NODE_CHILD]
        if args.only:
            commands = {k: v for k, v in commands.items() if k in args.only.split(",")}
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        with smtp_sink() as port:

            def once(command: list[str]) -> tuple[float, float]:
                started = time.perf_counter()
                process = subprocess.Popen(
                    [*command, str(port), str(reference)],
                    stdout=subprocess.PIPE,
                    text=True,
                    env=env,
                )
                assert process.stdout is not None
                line = process.stdout.readline()
                wall = (time.perf_counter() - started) * 1000
                process.stdout.read()
                if process.wait() != 0 or not line.strip():
                    raise SystemExit(f"{command[:3]} failed")
                return wall, float(line)

            for command in commands.values():
                once(command)  # unmeasured: bytecode and file cache in place
            for _ in range(args.repeat):
                for name, command in commands.items():
                    runs[name].append(once(command))
    load = os.getloadavg()[0]
    lines = [
        "| contender | first 250, wall ms: median (range) | CPU ms to the 250: median (range) |",
        "|---|---|---|",
    ]
    for name, results in runs.items():
        walls, cpus = [r[0] for r in results], [r[1] for r in results]
        lines.append(
            f"| {name} | {statistics.median(walls):.0f} ({min(walls):.0f}–{max(walls):.0f}) "
            f"| {statistics.median(cpus):.0f} ({min(cpus):.0f}–{max(cpus):.0f}) |"
        )
    lines.append(
        f"\n{args.repeat} interleaved runs each, one unmeasured first; load average "
        f"{load:.2f} at the end; Python {sys.version.split()[0]}."
    )
    text = "\n".join(lines)
    print(text)
    out = here / "results"
    out.mkdir(exist_ok=True)
    (out / "cold_start.md").write_text(text + "\n")
    (out / "cold_start.json").write_text(json.dumps(runs))


def stages_table(repeat: int, compare: str, child: str = "stages") -> None:
    """`--stages`: the stage child under this Python (and `compare`'s), interleaved."""
    import json
    import os
    import statistics
    import subprocess

    from sink import smtp_sink

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    trees = {"this tree": sys.executable} | ({"compared": compare} if compare else {})
    runs: dict[str, list[list[tuple[str, float]]]] = {tree: [] for tree in trees}
    with smtp_sink() as port:
        for attempt in range(repeat + 1):  # the first, unmeasured: bytecode in place
            for tree, python in trees.items():
                out = subprocess.run([python, __file__, child, str(port)], env=env,
                                     capture_output=True, text=True, check=True)  # fmt: skip
                if attempt:
                    runs[tree].append(json.loads(out.stdout))
    names = [name for name, _ in next(iter(runs.values()))[0]]
    print("| stage | " + " | ".join(f"{tree}, CPU ms" for tree in trees) + " |")
    print("|---|" + "---|" * len(trees))
    for index, name in enumerate([*names, "total"]):
        cells = []
        for results in runs.values():
            values = [
                sum(ms for _, ms in run) if name == "total" else run[index][1] for run in results
            ]
            cells.append(f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\n{repeat} interleaved runs each; load average {os.getloadavg()[0]:.2f} at the end; "
          f"Python {sys.version.split()[0]}.")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in CONFIGS:
        child_connector(int(sys.argv[2]), CONFIGS[sys.argv[1]])
    elif len(sys.argv) > 1 and sys.argv[1] in ("stages", "stages-logto"):
        child_stages(int(sys.argv[2]), CONFIGS[sys.argv[1].replace("stages", "connector")])
    elif len(sys.argv) > 1 and sys.argv[1] == "smtplib":
        child_smtplib(int(sys.argv[2]), sys.argv[3])
    else:
        main()
