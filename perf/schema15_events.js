#!/usr/bin/env node
// The events of perf/run.sh's schema15 part: each default-schema event of IN (timestamp,
// user_id, url, device_id, as enrichd-gen-events writes them) rewritten as a producer of the
// declared 16-field schema would send it, with the same keys (so the joins find what the default
// part's do) and deterministic other members: nested objects, arrays, a null now and then, a
// UUID, an IPv4 address, a country code, a price, a date. Members in declaration order, compact.
//
//   schema15_events.js IN OUT
'use strict';
const fs = require('fs');
const readline = require('readline');

const types = ['view', 'click', 'add_to_cart', 'purchase'];
const oses = ['ios', 'android', 'windows', 'macos', 'linux'];
const countries = ['FR', 'DE', 'US', 'JP', 'BR', 'IN'];
const tags = ['new', 'sale', 'promo', 'featured', 'gift'];

// splitmix64 on BigInt, seeded by the line number: the same file every time.
function mix(x) {
  let z = (BigInt(x) + 0x9E3779B97F4A7C15n) & 0xFFFFFFFFFFFFFFFFn;
  z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & 0xFFFFFFFFFFFFFFFFn;
  z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & 0xFFFFFFFFFFFFFFFFn;
  return z ^ (z >> 31n);
}

function hex(v, n) {
  return v.toString(16).padStart(n, '0').slice(-n);
}

// The raw JSON text of top-level member `key` of a compact event (numbers stay text: user ids
// pass 2^53).
function member(line, key) {
  const at = line.indexOf(`"${key}":`);
  if (at < 0) throw new Error(`no ${key} in: ${line}`);
  let i = at + key.length + 3, j = i;
  if (line[i] === '"') {
    for (j = i + 1; line[j] !== '"'; j++) if (line[j] === '\\') j++;
    j++;
  } else {
    while (j < line.length && !',}'.includes(line[j])) j++;
  }
  return line.slice(i, j);
}

function convert(line, i) {
  const e = {timestamp: member(line, 'timestamp'), user_id: member(line, 'user_id'),
             url: member(line, 'url'), device_id: member(line, 'device_id')};
  const r = mix(i), r2 = mix(i + 0x1234567), k = Number(r & 0xFFFFFFn);
  const uuid = `${hex(r >> 32n, 8)}-${hex((r >> 16n) & 0xFFFFn, 4)}-${hex(r & 0xFFFFn, 4)}-` +
               `${hex(r2 >> 48n, 4)}-${hex(r2 & 0xFFFFFFFFFFFFn, 12)}`;
  const items = [];
  for (let j = 0; j < k % 4; j++) items.push(Number((r2 >> BigInt(8 * j)) & 0xFFFFFFn));
  const t = [];
  for (let j = 0; j < (k >> 2) % 3; j++) t.push(tags[(k >> (4 + j)) % 5]);
  // The user id as it came (a number, or the decimal string of one).
  const user = `{"id":${e.user_id},"logged_in":${k % 2 === 0}}`;
  const referrer = k % 7 === 0 ? 'null' : `"https://search.example.org/q?s=${k % 100000}"`;
  const price = k % 5 === 0 ? 'null' : `${k % 1000}.${String(k % 100).padStart(2, '0')}`;
  const day = e.timestamp[0] === '"' ? e.timestamp.slice(1, 11) : '2026-01-01';
  const duration = k % 6 === 0 ? '' : `,"duration_ms":${k % 600000}`;
  return `{"ts":${e.timestamp},"type":"${types[k % 4]}","user":${user},` +
         `"session":"${uuid}","device":{"id":${e.device_id},` +
         `"os":"${oses[(k >> 3) % 5]}"},"page":{"url":${e.url},` +
         `"referrer":${referrer}},"geo":{"country":"${countries[(k >> 5) % 6]}",` +
         `"ip":"10.${(k >> 8) % 256}.${(k >> 16) % 256}.${k % 256}"},"cart":{"price":${price},` +
         `"items":${JSON.stringify(items)}},"tags":${JSON.stringify(t)}${duration},` +
         `"day":"${day}"}`;
}

async function main() {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    process.stderr.write('usage: schema15_events.js IN OUT\n');
    return 2;
  }
  const out = fs.createWriteStream(output);
  const rl = readline.createInterface({ input: fs.createReadStream(input), crlfDelay: Infinity });
  let i = 0, buf = [];
  for await (const line of rl) {
    if (line.length === 0) continue;
    buf.push(convert(line, i++));
    if (buf.length === 10000) {
      if (!out.write(buf.join('\n') + '\n')) await new Promise((r) => out.once('drain', r));
      buf = [];
    }
  }
  if (buf.length) out.write(buf.join('\n') + '\n');
  await new Promise((r) => out.end(r));
  return 0;
}

main().then((rc) => { process.exitCode = rc; },
            (err) => { process.stderr.write(`schema15_events: ${err.message}\n`); process.exitCode = 1; });
