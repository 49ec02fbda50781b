#!/usr/bin/env node
// An independent Avro producer for tests: registers a schema with the registry through
// @kafkajs/confluent-schema-registry and encodes records with it (avsc underneath), in the
// Confluent wire format (magic 0, 4-byte schema id, Avro binary).
//
//   node produce.js --registry URL --subject S --schema FILE --records FILE
//                   [--hex OUT] [--bin OUT] [--framed OUT] [--user U --password P]
//
// --records is a JSON array of records; a bytes or fixed value is written "hex:0a1b..". Each
// encoded message is written as one hex line to --hex, and all of them back to back to --bin
// (what ClickHouse's AvroConfluent format reads from a file), and each after its length (4 bytes
// big-endian, what kcat -f '%R%s' writes and enrichd --input reads) to --framed. Prints the
// schema id. Every message
// is decoded again by the same library and compared, so a producer bug cannot pass unnoticed.
'use strict';
const fs = require('fs');
const assert = require('assert');
const {SchemaRegistry, SchemaType} = require('@kafkajs/confluent-schema-registry');

const args = process.argv.slice(2);
const opt = (name) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : undefined;
};

// Turns "hex:.." strings into Buffers wherever the schema says bytes or fixed.
function prepare(type, value, named) {
	if (typeof type === 'string') {
		if (named.has(type))
			return prepare(named.get(type), value, named);
		if (type === 'bytes' && typeof value === 'string' && value.startsWith('hex:'))
			return Buffer.from(value.slice(4), 'hex');
		return value;
	}
	if (Array.isArray(type)) {
		if (value === null)
			return null;
		const branch = type.find((t) => t !== 'null');
		return prepare(branch, value, named);
	}
	if (type.name)
		named.set(type.name, type);
	switch (type.type) {
	case 'record': {
		const out = {};
		for (const f of type.fields)
			out[f.name] = prepare(f.type, value[f.name], named);
		return out;
	}
	case 'array':
		return value.map((v) => prepare(type.items, v, named));
	case 'map':
		return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, prepare(type.values, v, named)]));
	case 'fixed':
		return Buffer.from(value.slice(4), 'hex');
	case 'enum':
		return value;
	default:
		return prepare(type.type, value, named);
	}
}

async function main() {
	const auth = opt('--user') ? {username: opt('--user'), password: opt('--password') || ''} : undefined;
	const registry = new SchemaRegistry({host: opt('--registry'), auth});
	const schemaText = fs.readFileSync(opt('--schema'), 'utf8');
	const schema = JSON.parse(schemaText);
	const {id} = await registry.register({type: SchemaType.AVRO, schema: schemaText}, {subject: opt('--subject')});
	const records = JSON.parse(fs.readFileSync(opt('--records'), 'utf8'));
	const hex = [];
	const bin = [];
	for (const r of records) {
		const value = prepare(schema, r, new Map());
		const msg = await registry.encode(id, value);
		assert.strictEqual(JSON.stringify(await registry.decode(msg)), JSON.stringify(value));
		hex.push(msg.toString('hex'));
		bin.push(msg);
	}
	if (opt('--hex'))
		fs.writeFileSync(opt('--hex'), hex.map((h) => h + '\n').join(''));
	if (opt('--bin'))
		fs.writeFileSync(opt('--bin'), Buffer.concat(bin));
	if (opt('--framed')) {
		fs.writeFileSync(opt('--framed'), Buffer.concat(bin.flatMap((m) => {
			const len = Buffer.alloc(4);
			len.writeUInt32BE(m.length);
			return [len, m];
		})));
	}
	console.log(id);
}

main().catch((e) => {
	console.error(`produce: ${e.stack || e}`);
	process.exit(1);
});
