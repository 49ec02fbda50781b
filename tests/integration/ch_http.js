#!/usr/bin/env node
// The part of ClickHouse's HTTP interface that a loader uses, served by the embedded ClickHouse
// (chdb) on a data directory, for tests that have no ClickHouse server:
//
//   ch_http.js --path DIR --port-file FILE
//
// Listens on 127.0.0.1 (a free port, written to FILE once it listens) until SIGTERM/SIGINT.
// As the server does: `query` from the URL, every other URL parameter a setting of the query
// (so `insert_deduplication_token=...` reaches the INSERT); an INSERT ... FORMAT F takes its
// data from the request body, any other query is the body itself when the URL has none. The
// reply is the result in TabSeparated, or status 500 with ClickHouse's message. Requests are
// answered one at a time.
'use strict';
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { Session } = require(path.join(__dirname, '../../tools/ch/node_modules/chdb'));

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const dataPath = opt('--path');
const portFile = opt('--port-file');
if (!dataPath || !portFile) {
  process.stderr.write('usage: ch_http.js --path DIR --port-file FILE\n');
  process.exit(2);
}
const session = new Session(dataPath);
const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'ch_http-'));
// Only the settings a client may send; anything else is refused, as a typo would be.
const settingName = /^[a-z_][a-z0-9_]*$/;
const quote = (v) => `'${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function answer(req, body) {
  const url = new URL(req.url, 'http://localhost');
  const settings = [];
  let query = null;
  for (const [k, v] of url.searchParams) {
    if (k === 'query') query = v;
    else if (settingName.test(k)) settings.push(`${k} = ${quote(v)}`);
    else throw new Error(`Code: 115. DB::Exception: Unknown setting '${k}'. (UNKNOWN_SETTING)`);
  }
  const set = settings.length ? ` SETTINGS ${settings.join(', ')}` : '';
  if (query === null) return session.query(body.toString('utf8') + set, 'TabSeparated') || '';
  const insert = /^\s*(INSERT\s+INTO\s+[\w.]+(?:\s*\([^)]*\))?)\s+FORMAT\s+(\w+)\s*$/i.exec(query);
  if (!insert) return session.query(`${query} ${body.toString('utf8')}${set}`, 'TabSeparated') || '';
  // The body is the INSERT's data: the server streams it into the table; here it goes through a
  // file, read by INSERT ... FROM INFILE with the same settings.
  const bodyFile = path.join(spool, 'body');
  fs.writeFileSync(bodyFile, body);
  return session.query(`${insert[1]} FROM INFILE ${quote(bodyFile)}${set} FORMAT ${insert[2]}`,
    'TabSeparated') || '';
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const out = answer(req, Buffer.concat(chunks));
      res.writeHead(200, { 'Content-Type': 'text/tab-separated-values; charset=UTF-8' });
      res.end(out);
    } catch (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=UTF-8' });
      res.end(`${err.message}\n`);
    }
  });
});

function stop() {
  server.close();
  session.cleanup();
  fs.rmSync(spool, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile, `${server.address().port}\n`);
});
