#!/usr/bin/env node
// The peer of the enrichment benchmark: ClickHouse (embedded, chdb) doing enrichd's job on the
// same files. The three dimensions become dictionaries (users: HASHED on UInt64, devices and
// urls: COMPLEX_KEY_HASHED on String) loaded from the same TSVWithNames files; the events are
// read from the same JSON-lines file, joined with dictGetOrNull and written as a Native file.
//
//   ch_enrich.js --dims DIR --events FILE --out FILE [--runs N] [--threads LIST]
//                [--schema default|schema15|avro15] [--registry URL]
//
// --schema schema15 reads the events of perf/run.sh's schema15 part (perf/schema15_events.js):
// the 16 declared fields from nested objects (JSONEachRow's named tuples), joined the same way,
// with the columns enrichd writes for that schema. --schema avro15 reads the same events in Avro
// (perf/avro15_events.js: the messages back to back) with the AvroConfluent format, the writer
// schema from the registry at --registry.
//
// --threads is a comma-separated list of max_threads values to measure (default "1,0";
// 0 = ClickHouse's default, every core). Each enrichment runs --runs times (default 3) per
// value. Prints `key=value` lines: per dictionary its load time, rows and bytes_allocated
//
//   ch_dict: name=users rows=... bytes=... load_s=...
//
// and per run the wall time, the process's CPU time (user + system, all threads) and the rows
// written:
//
//   ch_enrich: threads=1 run=1 seconds=... cpu_s=... rows=...
'use strict';
const fs = require('fs');
const path = require('path');
const { Session } = require(path.join(__dirname, '..', 'tools', 'ch', 'node_modules', 'chdb'));

function parseArgs(argv) {
  const a = { runs: 3, threads: '1,0', schema: 'default', registry: '' };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!['dims', 'events', 'out', 'runs', 'threads', 'schema', 'registry'].includes(k) ||
        i + 1 >= argv.length)
      throw new Error(`usage: ch_enrich.js --dims DIR --events FILE --out FILE [--runs N] ` +
                      `[--threads LIST] [--schema default|schema15|avro15] [--registry URL]`);
    a[k] = argv[i + 1];
  }
  if (!a.dims || !a.events || !a.out) throw new Error('--dims, --events and --out are required');
  if (!['default', 'schema15', 'avro15'].includes(a.schema))
    throw new Error('--schema is default, schema15 or avro15');
  if (a.schema === 'avro15' && !a.registry) throw new Error('--schema avro15 needs --registry');
  a.runs = Number(a.runs);
  a.threads = a.threads.split(',').map(Number);
  return a;
}

// Single quotes in paths would break the SQL: refuse them rather than escape.
function lit(s) {
  if (s.includes("'") || s.includes('\\')) throw new Error(`unsupported path: ${s}`);
  return `'${s}'`;
}

const dicts = [
  {
    name: 'users', file: 'users.tsv', layout: 'HASHED()', key: 'user_id',
    columns: 'user_id UInt64, country String, plan String, signup_date Date',
  },
  {
    name: 'devices', file: 'devices.tsv', layout: 'COMPLEX_KEY_HASHED()', key: 'device_id',
    columns: 'device_id String, device_type String, os String, browser String',
  },
  {
    name: 'urls', file: 'urls.tsv', layout: 'COMPLEX_KEY_HASHED()', key: 'url',
    columns: 'url String, domain String, category String',
  },
];

// One result line, written at once (fs.writeSync), so a later failure keeps it.
function emit(line) {
  fs.writeSync(1, line + '\n');
}

function now() {
  return Number(process.hrtime.bigint()) / 1e9;
}

function main() {
  const a = parseArgs(process.argv.slice(2));
  const dims = path.resolve(a.dims);
  const events = path.resolve(a.events);
  const out = path.resolve(a.out);
  const s = new Session();
  try {
    emit(`ch_version: ${s.query('SELECT version()', 'TabSeparated').trim()}`);
    for (const d of dicts) {
      s.query(`CREATE DICTIONARY ${d.name} (${d.columns}) PRIMARY KEY ${d.key}
               SOURCE(FILE(path ${lit(path.join(dims, d.file))} format 'TSVWithNames'))
               LAYOUT(${d.layout}) LIFETIME(0)`);
      const t0 = now();
      s.query(`SYSTEM RELOAD DICTIONARY ${d.name}`);
      const secs = now() - t0;
      const row = JSON.parse(s.query(
        `SELECT element_count AS rows, bytes_allocated AS bytes, loading_duration
         FROM system.dictionaries WHERE name = '${d.name}'`, 'JSONEachRow'));
      emit(`ch_dict: name=${d.name} rows=${row.rows} bytes=${row.bytes} ` +
                 `load_s=${secs.toFixed(3)} loading_duration_s=${row.loading_duration}`);
    }
    // The same output columns as enrichd's default schema (the attributes as ClickHouse's
    // dictionaries give them: Nullable(String), Nullable(Date)), the metadata columns filled as
    // enrichd fills them for --input.
    const select = `
      SELECT parseDateTime64BestEffort(timestamp, 3, 'UTC') AS event_time,
             user_id, device_id, url,
             dictGetOrNull('users', 'country', user_id) AS country,
             dictGetOrNull('users', 'plan', user_id) AS plan,
             dictGetOrNull('users', 'signup_date', user_id) AS signup_date,
             dictGetOrNull('devices', 'device_type', tuple(device_id)) AS device_type,
             dictGetOrNull('devices', 'os', tuple(device_id)) AS os,
             dictGetOrNull('devices', 'browser', tuple(device_id)) AS browser,
             dictGetOrNull('urls', 'domain', tuple(url)) AS domain,
             dictGetOrNull('urls', 'category', tuple(url)) AS category,
             ${lit(path.basename(events))} AS _topic, toUInt64(0) AS _partition,
             rowNumberInAllBlocks() AS _offset, toDateTime64(0, 3, 'UTC') AS _kafka_time,
             now64(3, 'UTC') AS _ingest_time
      FROM file(${lit(events)}, 'JSONEachRow',
                'timestamp String, user_id UInt64, url String, device_id String')`;
    const metadata = `${lit(path.basename(events))} AS _topic, toUInt64(0) AS _partition,
             rowNumberInAllBlocks() AS _offset, toDateTime64(0, 3, 'UTC') AS _kafka_time,
             now64(3, 'UTC') AS _ingest_time`;
    // The declared schema's columns after its event time (perf/run.sh's schema15 and avro15
    // parts), from the nested records of either input.
    const columns15 = `event_type,
             user.id AS user_id, user.logged_in AS logged_in, session AS session_id,
             device.id AS device_id, device.os AS client_os, page.url AS url,
             page.referrer AS referrer, geo.country AS geo_country, geo.ip AS ip,
             cart.price AS price, cart.items AS items, tags, duration_ms, day,
             dictGetOrNull('users', 'country', user.id) AS country,
             dictGetOrNull('users', 'plan', user.id) AS plan,
             dictGetOrNull('users', 'signup_date', user.id) AS signup_date,
             dictGetOrNull('devices', 'device_type', tuple(device.id)) AS device_type,
             dictGetOrNull('devices', 'os', tuple(device.id)) AS os,
             dictGetOrNull('devices', 'browser', tuple(device.id)) AS browser,
             dictGetOrNull('urls', 'domain', tuple(page.url)) AS domain,
             dictGetOrNull('urls', 'category', tuple(page.url)) AS category, ${metadata}`;
    // The declared schema of perf/run.sh's schema15 part, read from the same nested JSON.
    const select15 = `
      SELECT parseDateTime64BestEffort(ts, 3, 'UTC') AS event_time, type AS ${columns15}
      FROM file(${lit(events)}, 'JSONEachRow',
                'ts String, type LowCardinality(String), user Tuple(id UInt64, logged_in Bool),
                 session UUID, device Tuple(id String, os LowCardinality(String)),
                 page Tuple(url String, referrer Nullable(String)),
                 geo Tuple(country FixedString(2), ip IPv4),
                 cart Tuple(price Nullable(Float64), items Array(Int64)), tags Array(String),
                 duration_ms Nullable(UInt32), day Date')`;
    // The same fields from Avro: the writer's records are ClickHouse's named tuples, its enum a
    // String, its date a Date; the IP is a string there (Avro has no IPv4).
    const selectAvro15 = `
      SELECT ts AS event_time, type AS ${columns15}
      FROM file(${lit(events)}, 'AvroConfluent',
                'ts DateTime64(3, \\'UTC\\'), type LowCardinality(String),
                 user Tuple(id UInt64, logged_in Bool), session UUID,
                 device Tuple(id String, os LowCardinality(String)),
                 page Tuple(url String, referrer Nullable(String)),
                 geo Tuple(country FixedString(2), ip String),
                 cart Tuple(price Nullable(Float64), items Array(Int64)), tags Array(String),
                 duration_ms Nullable(UInt32), day Date')`;
    const query = a.schema === 'schema15' ? select15 : a.schema === 'avro15' ? selectAvro15 : select;
    const registry = a.schema === 'avro15' ? `, format_avro_schema_registry_url = ${lit(a.registry)}` : '';
    for (const threads of a.threads) {
      for (let r = 1; r <= a.runs; r++) {
        const t0 = now();
        const c0 = process.cpuUsage();
        s.query(`INSERT INTO FUNCTION file(${lit(out)}, 'Native') ${query}
                 SETTINGS max_threads = ${threads}, engine_file_truncate_on_insert = 1${registry}`);
        const c1 = process.cpuUsage(c0);
        const secs = now() - t0;
        const rows = s.query(`SELECT count() FROM file(${lit(out)}, 'Native')`,
                             'TabSeparated').trim();
        emit(`ch_enrich: threads=${threads} run=${r} seconds=${secs.toFixed(3)} ` +
                   `cpu_s=${((c1.user + c1.system) / 1e6).toFixed(3)} rows=${rows}`);
      }
    }
    fs.rmSync(out, { force: true });
  } finally {
    s.cleanup();
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`ch_enrich: ${err.message}\n`);
  process.exitCode = 1;
}
