// nodemailer's pooled SMTP transport, the reference we must beat (benchmarks/run.py and cpu.py drive it).
// Usage: node nodemailer_bench.js PORT COUNT REFERENCE.json [CONNECTIONS [WARMUP]]
// prints one JSON line {count, seconds, cpu_s, errors, rss_mb}. With WARMUP > 0 that many mails go
// first (pool open, like a running service) and only the COUNT that follow are timed.
"use strict";
const path = require("path");
const nodemailer = require(path.join(process.env.NODEMAILER_DIR || __dirname + "/.nodemailer", "node_modules", "nodemailer"));

const fs = require("fs");
const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const reference = JSON.parse(fs.readFileSync(process.argv[4], "utf8"));
const maxConnections = Number(process.argv[5] || 5);
const warmup = Number(process.argv[6] || 0);
const transport = nodemailer.createTransport({
  host: "127.0.0.1",
  port,
  secure: false,
  ignoreTLS: true,
  pool: true,
  maxConnections,
  maxMessages: Infinity,
});

const fill = (template, code) => template.split(reference.placeholder).join(code);

function sendAll(start, n) {
  let errors = 0;
  const sends = [];
  for (let i = start; i < start + n; i++) {
    const code = String(i % 1000000).padStart(6, "0");
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
  return Promise.all(sends).then(() => errors);
}

async function main() {
  if (warmup > 0) await sendAll(0, warmup);
  const cpuStart = process.cpuUsage();
  const started = process.hrtime.bigint();
  const errors = await sendAll(warmup, count);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  transport.close();
  console.log(JSON.stringify({
    count, seconds, errors,
    cpu_s: (cpu.user + cpu.system) / 1e6,
    rss_mb: process.resourceUsage().maxRSS / 1024,
  }));
}

main();
