#!/usr/bin/env node
// The events of perf/run.sh's avro15 part: the schema15 part's events (perf/schema15_events.js)
// as a producer of Avro in the Confluent wire format sends them, with the same values. Registers
// the writer schema with the registry at URL (POST /subjects/avro15-value/versions), prints its
// id, and, given IN, writes each event as magic byte 0, the id (4 bytes big-endian) and the Avro
// body: after its length (4 bytes big-endian) to FRAMED, what enrichd --input reads, and back to
// back to BARE, what ClickHouse's AvroConfluent format reads.
//
//   avro15_events.js URL [IN FRAMED BARE]
//
// The encoder is written for this one schema (a few lines per Avro type): user ids pass 2^53, so
// longs are BigInt, and a general library would be the slow part of preparing the data.
'use strict';
const fs = require('fs');
const readline = require('readline');

const types = ['view', 'click', 'add_to_cart', 'purchase'];
const schema = {
  type: 'record', name: 'Click', namespace: 'bench', fields: [
    {name: 'ts', type: {type: 'long', logicalType: 'timestamp-millis'}},
    {name: 'type', type: {type: 'enum', name: 'Type', symbols: types}},
    {name: 'user', type: {type: 'record', name: 'User', fields: [
      {name: 'id', type: 'long'}, {name: 'logged_in', type: 'boolean'}]}},
    {name: 'session', type: {type: 'string', logicalType: 'uuid'}},
    {name: 'device', type: {type: 'record', name: 'Device', fields: [
      {name: 'id', type: 'string'}, {name: 'os', type: 'string'}]}},
    {name: 'page', type: {type: 'record', name: 'Page', fields: [
      {name: 'url', type: 'string'}, {name: 'referrer', type: ['null', 'string']}]}},
    {name: 'geo', type: {type: 'record', name: 'Geo', fields: [
      {name: 'country', type: 'string'}, {name: 'ip', type: 'string'}]}},
    {name: 'cart', type: {type: 'record', name: 'Cart', fields: [
      {name: 'price', type: ['null', 'double']}, {name: 'items', type: {type: 'array', items: 'long'}}]}},
    {name: 'tags', type: {type: 'array', items: 'string'}},
    {name: 'duration_ms', type: ['null', 'long'], default: null},
    {name: 'day', type: {type: 'int', logicalType: 'date'}},
  ],
};

class Out {
  constructor() { this.buf = Buffer.alloc(1 << 16); this.n = 0; }
  room(k) {
    if (this.n + k > this.buf.length) {
      const b = Buffer.alloc(Math.max(this.buf.length * 2, this.n + k));
      this.buf.copy(b, 0, 0, this.n);
      this.buf = b;
    }
  }
  byte(v) { this.room(1); this.buf[this.n++] = v; }
  long(v) { // zigzag varint of a BigInt
    let z = BigInt.asUintN(64, (BigInt(v) << 1n) ^ (BigInt(v) < 0n ? -1n : 0n));
    this.room(10);
    while (z >= 0x80n) { this.buf[this.n++] = Number(z & 0x7Fn) | 0x80; z >>= 7n; }
    this.buf[this.n++] = Number(z);
  }
  int(v) { this.long(BigInt(v)); }
  str(s) { const b = Buffer.from(s, 'utf8'); this.int(b.length); this.room(b.length); b.copy(this.buf, this.n); this.n += b.length; }
  double(v) { this.room(8); this.buf.writeDoubleLE(v, this.n); this.n += 8; }
}

// The user id as the text of the line (it passes 2^53), then the rest parsed as JSON.
function encode(line, o) {
  const idText = /"user":\{"id":"?(\d+)"?/.exec(line)[1];
  const e = JSON.parse(line);
  const ts = typeof e.ts === 'number' ? e.ts : Date.parse(e.ts);
  o.long(BigInt(ts));
  o.int(types.indexOf(e.type));
  o.long(BigInt(idText));
  o.byte(e.user.logged_in ? 1 : 0);
  o.str(e.session);
  o.str(String(e.device.id));
  o.str(e.device.os);
  o.str(e.page.url);
  if (e.page.referrer === null) o.int(0); else { o.int(1); o.str(e.page.referrer); }
  o.str(e.geo.country);
  o.str(e.geo.ip);
  if (e.cart.price === null) o.int(0); else { o.int(1); o.double(e.cart.price); }
  if (e.cart.items.length) { o.int(e.cart.items.length); for (const x of e.cart.items) o.long(BigInt(x)); }
  o.int(0);
  if (e.tags.length) { o.int(e.tags.length); for (const t of e.tags) o.str(t); }
  o.int(0);
  if (e.duration_ms === undefined || e.duration_ms === null) o.int(0);
  else { o.int(1); o.long(BigInt(e.duration_ms)); }
  o.int(Math.floor(Date.parse(e.day + 'T00:00:00Z') / 86400000));
}

async function register(url) {
  const r = await fetch(`${url}/subjects/avro15-value/versions`, {
    method: 'POST', headers: {'Content-Type': 'application/vnd.schemaregistry.v1+json'},
    body: JSON.stringify({schema: JSON.stringify(schema)}),
  });
  if (!r.ok) throw new Error(`registering the schema: HTTP ${r.status} ${await r.text()}`);
  return (await r.json()).id;
}

async function main() {
  const [url, input, framedPath, barePath] = process.argv.slice(2);
  if (!url || (input && (!framedPath || !barePath))) {
    process.stderr.write('usage: avro15_events.js URL [IN FRAMED BARE]\n');
    return 2;
  }
  const id = await register(url);
  process.stdout.write(`${id}\n`);
  if (!input)
    return 0;
  const framed = fs.openSync(framedPath, 'w'), bare = fs.openSync(barePath, 'w');
  const rl = readline.createInterface({input: fs.createReadStream(input), crlfDelay: Infinity});
  const fo = new Out(), bo = new Out(), msg = new Out();
  for await (const line of rl) {
    if (line.length === 0) continue;
    msg.n = 0;
    msg.byte(0);
    msg.room(4); msg.buf.writeUInt32BE(id, msg.n); msg.n += 4;
    encode(line, msg);
    fo.room(4 + msg.n); fo.buf.writeUInt32BE(msg.n, fo.n); fo.n += 4;
    msg.buf.copy(fo.buf, fo.n, 0, msg.n); fo.n += msg.n;
    bo.room(msg.n); msg.buf.copy(bo.buf, bo.n, 0, msg.n); bo.n += msg.n;
    if (fo.n > (1 << 22)) {
      fs.writeSync(framed, fo.buf, 0, fo.n); fo.n = 0;
      fs.writeSync(bare, bo.buf, 0, bo.n); bo.n = 0;
    }
  }
  fs.writeSync(framed, fo.buf, 0, fo.n);
  fs.writeSync(bare, bo.buf, 0, bo.n);
  fs.closeSync(framed);
  fs.closeSync(bare);
  return 0;
}

main().then((rc) => { process.exitCode = rc; },
            (err) => { process.stderr.write(`avro15_events: ${err.message}\n`); process.exitCode = 1; });
