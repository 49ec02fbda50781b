#!/usr/bin/env node
// The ClickHouse side of the dimension-store benchmark: embedded ClickHouse (chdb, in this
// process) loads the same dimension files as hashed dictionaries and reports, per dictionary,
// rows, bytes_allocated (bytes per row) and the load time and process CPU time (medians of
// --repeat loads), then the total of the dictionaries held at once and the process's peak RSS.
//
//   node perf/dim_clickhouse.js --dir DIR [--dims users,devices,urls] [--repeat N]
//                               [--layout 'HASHED()'] [--max-memory BYTES]
//
// DIR holds users.tsv, devices.tsv and urls.tsv (TSVWithNames, as enrichd-gen-dims writes them).
// Dictionaries: UInt64 key users with LAYOUT(HASHED()), String keys with
// LAYOUT(COMPLEX_KEY_HASHED()); attributes are String (a dictionary attribute cannot be
// LowCardinality) and Date. Source: SOURCE(FILE(path 'DIR/users.tsv' format 'TSVWithNames')).
// A dictionary's FILE source may only read under "." in chdb (the process's working directory,
// whatever --user_files_path says), so this script changes into DIR and names the files
// relative to it.
// CREATE DICTIONARY loads lazily; each timed load is one SYSTEM RELOAD DICTIONARY (synchronous)
// of a freshly created dictionary, dropped after the load unless it is the last, so a reload
// never holds two copies. Dictionaries stay loaded until the end, so the total is what the
// three need at once. --max-memory sets the server's max_server_memory_usage (a dictionary load
// does not obey the query setting max_memory_usage); a load over it fails with
// MEMORY_LIMIT_EXCEEDED, reported as status=memory_limit, exit status 3.
//
// Output: human-readable lines, and one tab-separated line per dictionary ("ch" then key=value
// fields) and one for the total ("ch_total").
'use strict';
const fs = require('fs');
const path = require('path');

const SCHEMAS = {
  users: {
    key: 'user_id UInt64',
    attrs: 'country String, plan String, signup_date Date',
    primary: 'user_id',
    complex: false,
  },
  devices: {
    key: 'device_id String',
    attrs: 'device_type String, os String, browser String',
    primary: 'device_id',
    complex: true,
  },
  urls: {
    key: 'url String',
    attrs: 'domain String, category String',
    primary: 'url',
    complex: true,
  },
};

function usage(code) {
  process.stderr.write(
    'usage: dim_clickhouse.js --dir DIR [--dims users,devices,urls] [--repeat N] ' +
      "[--layout 'HASHED()'] [--max-memory BYTES]\n");
  process.exit(code);
}

function parseArgs(argv) {
  const o = { dir: null, dims: ['users', 'devices', 'urls'], repeat: 1, layout: 'HASHED()',
    maxMemory: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(2);
      return argv[++i];
    };
    if (a === '--dir') o.dir = next();
    else if (a === '--dims') o.dims = next().split(',').filter((s) => s.length > 0);
    else if (a === '--repeat') o.repeat = Number(next());
    else if (a === '--layout') o.layout = next();
    else if (a === '--max-memory') o.maxMemory = Number(next());
    else if (a === '--help' || a === '-h') usage(0);
    else usage(2);
  }
  if (!o.dir || !Number.isInteger(o.repeat) || o.repeat < 1 || o.repeat > 100) usage(2);
  if (!Number.isSafeInteger(o.maxMemory) || o.maxMemory < 0) usage(2);
  for (const d of o.dims) {
    if (!SCHEMAS[d]) {
      process.stderr.write(`unknown dimension '${d}' (users, devices or urls)\n`);
      process.exit(2);
    }
  }
  if (!/^[A-Z_]*\([A-Za-z0-9_ ]*\)$/.test(o.layout)) {
    process.stderr.write(`--layout: '${o.layout}' is not of the form NAME(...)\n`);
    process.exit(2);
  }
  return o;
}

function statusBytes(field) {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const m = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : 0;
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function layoutFor(schema, layout) {
  return schema.complex ? `COMPLEX_KEY_${layout}` : layout;
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const dir = path.resolve(o.dir);
  for (const d of o.dims) fs.accessSync(path.join(dir, `${d}.tsv`), fs.constants.R_OK);
  const { Session } = require(path.join(__dirname, '..', 'tools', 'ch', 'node_modules', 'chdb'));
  const { runSession } = require(path.join(__dirname, '..', 'tools', 'ch', 'chq.js'));
  process.chdir(dir);
  const args = [];
  if (o.maxMemory > 0) args.push(`--max_server_memory_usage=${o.maxMemory}`);
  const session = new Session('', { connectionArgs: args });
  const q = (sql) => session.query(sql, 'TabSeparated');
  const version = q('SELECT version()').trim();
  const limit = o.maxMemory > 0 ? `, max_server_memory_usage ${o.maxMemory}` : '';
  console.log(`ClickHouse ${version} (chdb), layout ${o.layout}${limit}, files in ${dir}`);
  let totalBytes = 0;
  let totalRows = 0;
  return runSession(session, () => {
    for (const d of o.dims) {
      const s = SCHEMAS[d];
      const name = `${d}_dict`;
      const file = `${d}.tsv`;
      const seconds = [];
      const cpu = [];
      for (let i = 0; i < o.repeat; i++) {
        q(`CREATE DICTIONARY ${name} (${s.key}, ${s.attrs}) PRIMARY KEY ${s.primary} ` +
          `SOURCE(FILE(path '${file}' format 'TSVWithNames')) ` +
          `LAYOUT(${layoutFor(s, o.layout)}) LIFETIME(0)`);
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        try {
          q(`SYSTEM RELOAD DICTIONARY ${name}`);
        } catch (err) {
          if (!/MEMORY_LIMIT_EXCEEDED/.test(err.message)) throw err;
          console.log(`${d}: load ${i + 1}/${o.repeat} ran over max_server_memory_usage ` +
            `${o.maxMemory}: ${err.message}`);
          console.log(['ch', `name=${d}`, 'status=memory_limit', `max_memory=${o.maxMemory}`,
            `version=${version}`].join('\t'));
          return 3;
        }
        seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1e6);
        console.log(`${d}: load ${i + 1}/${o.repeat}: ${seconds[i].toFixed(3)} s, ` +
          `CPU ${cpu[i].toFixed(3)} s`);
        if (i + 1 < o.repeat) q(`DROP DICTIONARY ${name}`);
      }
      const row = q(
        'SELECT status, element_count, bytes_allocated, loading_duration, last_exception ' +
          `FROM system.dictionaries WHERE name = '${name}'`).trim().split('\t');
      if (row[0] !== 'LOADED') throw new Error(`${name}: status ${row[0]}: ${row[4]}`);
      const rows = Number(row[1]);
      const bytes = Number(row[2]);
      const med = median(seconds);
      const cpuMed = median(cpu);
      totalBytes += bytes;
      totalRows += rows;
      console.log(`${d}: ${rows} rows, bytes_allocated ${bytes} = ${(bytes / rows).toFixed(1)} ` +
        `B/row, load ${med.toFixed(3)} s median of ${o.repeat} = ` +
        `${(rows / med / 1e6).toFixed(3)}M rows/s (CPU ${cpuMed.toFixed(3)} s = ` +
        `${(rows / cpuMed / 1e6).toFixed(3)}M rows per CPU-second; loading_duration of the ` +
        `last ${row[3]} s)`);
      console.log(['ch', `name=${d}`, `rows=${rows}`, `bytes=${bytes}`,
        `bytes_per_row=${(bytes / rows).toFixed(2)}`, `load_s=${med.toFixed(4)}`,
        `rows_per_s=${(rows / med).toFixed(0)}`, `cpu_s=${cpuMed.toFixed(4)}`,
        `rows_per_cpu_s=${(rows / cpuMed).toFixed(0)}`, `repeat=${o.repeat}`,
        `load_s_all=${seconds.map((x) => x.toFixed(4)).join(',')}`,
        `loading_duration=${row[3]}`, `layout=${layoutFor(s, o.layout)}`, 'status=loaded',
        `version=${version}`].join('\t'));
    }
    const hwm = statusBytes('VmHWM');
    const rss = statusBytes('VmRSS');
    console.log(`total: ${o.dims.length} dictionaries held at once, ${totalRows} rows, ` +
      `${totalBytes} bytes = ${(totalBytes / 2 ** 30).toFixed(3)} GiB; process peak RSS ` +
      `${(hwm / 2 ** 30).toFixed(3)} GiB, RSS now ${(rss / 2 ** 30).toFixed(3)} GiB`);
    console.log(['ch_total', `dims=${o.dims.length}`, `rows=${totalRows}`, `bytes=${totalBytes}`,
      `peak_rss_bytes=${hwm}`, `rss_bytes=${rss}`].join('\t'));
  });
}

process.exitCode = main();
