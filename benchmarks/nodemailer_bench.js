// nodemailer's pooled SMTP transport, the reference we must beat (benchmarks/run.py drives it).
// Usage: node nodemailer_bench.js PORT COUNT REFERENCE.json ; prints one JSON line {count, seconds, errors, rss}.
"use strict";
const path = require("path");
const nodemailer = require(path.join(process.env.NODEMAILER_DIR || __dirname + "/.nodemailer", "node_modules", "nodemailer"));

const fs = require("fs");
const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const reference = JSON.parse(fs.readFileSync(process.argv[4], "utf8"));
const transport = nodemailer.createTransport({
  host: "127.0.0.1",
  port,
  secure: false,
  ignoreTLS: true,
  pool: true,
  maxConnections: 5,
});

const fill = (template, code) => template.split(reference.placeholder).join(code);

async function main() {
  const started = process.hrtime.bigint();
  let errors = 0;
  const sends = [];
  for (let i = 0; i < count; i++) {
    const code = String(i).padStart(6, "0");
    sends.push(
      transport
        .sendMail({
          from: reference.from,
          to: `user${i}@example.org`,
          subject: fill(reference.subject, code),
          text: fill(reference.text, code),
          html: fill(reference.html, code),
          headers: { "Auto-Submitted": "auto-generated" },
        })
        .catch(() => { errors += 1; })
    );
  }
  await Promise.all(sends);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  transport.close();
  console.log(JSON.stringify({ count, seconds, errors, rss_mb: process.resourceUsage().maxRSS / 1024 }));
}

main();
