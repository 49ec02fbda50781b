#!/usr/bin/env node
// Runs ClickHouse SQL through embedded ClickHouse (chdb) and writes the result to stdout.
//
//   chq.js 'SELECT ...'            one query from the arguments
//   chq.js -f file.sql             queries from a file, separated by ';' at line ends
//   echo 'SELECT ...' | chq.js -   queries from stdin
//   chq.js --path DIR ...          any of the above on the data directory DIR: databases and
//                                  tables made there persist between calls (one process at a
//                                  time); without it the session is temporary
//
// The output format is the query's own FORMAT clause, else TabSeparated. Exit status is 1 on a
// query error, with ClickHouse's message on stderr. Required as a module, it gives runSession,
// that exit status around any body of queries.
'use strict';
const fs = require('fs');
const { Session } = require('chdb');

function splitQueries(text) {
  return text.split(/;\s*\n/).map((q) => q.trim().replace(/;$/, '')).filter((q) => q.length > 0);
}

function main() {
  let args = process.argv.slice(2);
  let dataPath;
  if (args[0] === '--path') {
    dataPath = args[1];
    args = args.slice(2);
  }
  let text;
  if (args.length === 0 || dataPath === '') {
    process.stderr.write('usage: chq.js [--path DIR] SQL | -f FILE | -\n');
    return 2;
  }
  if (args[0] === '-') text = fs.readFileSync(0, 'utf8');
  else if (args[0] === '-f') text = fs.readFileSync(args[1], 'utf8');
  else text = args.join(' ');
  const session = new Session(dataPath);
  return runSession(session, () => {
    for (const q of splitQueries(text)) {
      const out = session.query(q, 'TabSeparated');
      if (out) process.stdout.write(out);
    }
  });
}

// Runs body, which queries session, and cleans the session up. Returns the exit status: body's
// own if it returns one, else 0; 1 with ClickHouse's message on stderr if body throws.
function runSession(session, body) {
  try {
    return body() || 0;
  } catch (err) {
    process.stderr.write(`clickhouse: ${err.message}\n`);
    return 1;
  } finally {
    session.cleanup();
  }
}

module.exports = { runSession };

if (require.main === module) process.exitCode = main();
