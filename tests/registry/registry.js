#!/usr/bin/env node
// A small Confluent Schema Registry for tests: the REST subset that clients (enrichd, avsc with
// @kafkajs/confluent-schema-registry, ClickHouse's AvroConfluent format) use, in memory.
//
//   node registry.js --port-file FILE [--port N] [--user U --password P] [--outage]
//
// Listens on 127.0.0.1 (port 0 picks a free one), writes "http://127.0.0.1:PORT" to FILE once
// listening. With --user/--password every request needs that basic auth (else 401). SIGUSR1
// toggles an outage: every request is answered 503 until the next SIGUSR1 (--outage starts in
// one); each toggle is logged on stdout ("outage on" / "outage off"). SIGTERM or SIGINT stop it.
//
// Endpoints (Confluent's JSON error bodies, {"error_code": N, "message": "..."}):
//   POST /subjects/{s}/versions        register {"schema", "schemaType"?}: {"id"}; a schema
//                                      already registered anywhere keeps its id
//   POST /subjects/{s}                 look up a schema under s: {"subject","version","id","schema"}
//   GET  /schemas/ids/{id}             {"schema"} (+ "schemaType" unless AVRO, as Confluent does)
//   GET  /schemas/ids/{id}/versions    [{"subject","version"}]
//   GET  /subjects                     ["s", ...]
//   GET  /subjects/{s}/versions        [1, 2, ...]
//   GET  /subjects/{s}/versions/{v|latest}   {"subject","version","id","schema"(,"schemaType")}
//   GET  /subjects/{s}/versions/{v}/schema   the schema text itself
//   GET|PUT /config, /config/{s}       {"compatibilityLevel"} / {"compatibility"}
'use strict';
const http = require('http');
const fs = require('fs');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : dflt;
};
const portFile = opt('--port-file');
const port = Number(opt('--port', '0'));
const user = opt('--user');
const password = opt('--password', '');
let outage = args.includes('--outage');

const schemas = []; // id - 1 -> {schema, schemaType, canonical}
const subjects = new Map(); // subject -> [id of version 1, id of version 2, ...]
const config = {global: 'BACKWARD', subjects: new Map()};
const LEVELS = ['NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE',
	'FULL', 'FULL_TRANSITIVE'];
const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

function send(res, status, body) {
	const text = typeof body === 'string' ? body : JSON.stringify(body);
	res.writeHead(status, {'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text)});
	res.end(text);
}

const error = (res, status, code, message) => send(res, status, {error_code: code, message});

// The text a schema is compared by: for Avro and JSON schemas, its JSON without whitespace.
function canonical(schema, type) {
	if (type === 'PROTOBUF')
		return schema.trim();
	return JSON.stringify(JSON.parse(schema));
}

function schemaBody(id, extra) {
	const s = schemas[id - 1];
	const body = Object.assign({}, extra || {}, {id, schema: s.schema});
	if (s.schemaType !== 'AVRO')
		body.schemaType = s.schemaType;
	return body;
}

function readSchema(req, res, body, then) {
	let j;
	try {
		j = JSON.parse(body);
	} catch (e) {
		return error(res, 400, 400, 'Unrecognized request body');
	}
	const type = j.schemaType || 'AVRO';
	if (typeof j.schema !== 'string' || !['AVRO', 'JSON', 'PROTOBUF'].includes(type))
		return error(res, 422, 42201, 'Invalid schema');
	let canon;
	try {
		canon = canonical(j.schema, type);
	} catch (e) {
		return error(res, 422, 42201, 'Invalid schema');
	}
	then(j.schema, type, canon);
}

function register(res, subject, body, req) {
	readSchema(req, res, body, (schema, type, canon) => {
		let id = schemas.findIndex((s) => s.canonical === canon && s.schemaType === type) + 1;
		if (id === 0) {
			schemas.push({schema, schemaType: type, canonical: canon});
			id = schemas.length;
		}
		const versions = subjects.get(subject) || [];
		if (!versions.includes(id))
			versions.push(id);
		subjects.set(subject, versions);
		send(res, 200, {id});
	});
}

function lookup(res, subject, body, req) {
	const versions = subjects.get(subject);
	if (!versions)
		return error(res, 404, 40401, `Subject '${subject}' not found.`);
	readSchema(req, res, body, (schema, type, canon) => {
		const v = versions.findIndex((id) => schemas[id - 1].canonical === canon &&
			schemas[id - 1].schemaType === type);
		if (v < 0)
			return error(res, 404, 40403, 'Schema not found');
		send(res, 200, schemaBody(versions[v], {subject, version: v + 1}));
	});
}

function version(res, subject, which, raw) {
	const versions = subjects.get(subject);
	if (!versions)
		return error(res, 404, 40401, `Subject '${subject}' not found.`);
	const v = which === 'latest' || which === '-1' ? versions.length : Number(which);
	if (!Number.isInteger(v) || v < 1 || v > versions.length)
		return error(res, 404, 40402, 'Version not found.');
	if (raw)
		return send(res, 200, schemas[versions[v - 1] - 1].schema);
	send(res, 200, schemaBody(versions[v - 1], {subject, version: v}));
}

function configure(req, res, subject, body) {
	if (req.method === 'GET') {
		const level = subject ? config.subjects.get(subject) : config.global;
		if (!level)
			return error(res, 404, 40408, `Subject '${subject}' does not have subject-level compatibility configured`);
		return send(res, 200, {compatibilityLevel: level});
	}
	let j;
	try {
		j = JSON.parse(body);
	} catch (e) {
		return error(res, 400, 400, 'Unrecognized request body');
	}
	if (!LEVELS.includes(j.compatibility))
		return error(res, 422, 42203, 'Invalid compatibility level');
	if (subject)
		config.subjects.set(subject, j.compatibility);
	else
		config.global = j.compatibility;
	send(res, 200, {compatibility: j.compatibility});
}

function authorized(req) {
	if (user === undefined)
		return true;
	const h = req.headers.authorization || '';
	const want = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
	return h === want;
}

function route(req, res, body) {
	const url = new URL(req.url, 'http://localhost');
	const parts = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
	const m = req.method;
	if (parts[0] === 'schemas' && parts[1] === 'ids' && parts.length >= 3 && m === 'GET') {
		const id = Number(parts[2]);
		if (!Number.isInteger(id) || id < 1 || id > schemas.length)
			return error(res, 404, 40403, 'Schema not found');
		if (parts[3] === 'versions') {
			const out = [];
			for (const [subject, versions] of subjects)
				versions.forEach((v, i) => v === id && out.push({subject, version: i + 1}));
			return send(res, 200, out);
		}
		const b = schemaBody(id);
		delete b.id;
		return send(res, 200, b);
	}
	if (parts[0] === 'subjects') {
		if (parts.length === 1 && m === 'GET')
			return send(res, 200, [...subjects.keys()]);
		if (parts.length === 2 && m === 'POST')
			return lookup(res, parts[1], body, req);
		if (parts.length === 3 && parts[2] === 'versions' && m === 'POST')
			return register(res, parts[1], body, req);
		if (parts.length === 3 && parts[2] === 'versions' && m === 'GET') {
			const versions = subjects.get(parts[1]);
			if (!versions)
				return error(res, 404, 40401, `Subject '${parts[1]}' not found.`);
			return send(res, 200, versions.map((_, i) => i + 1));
		}
		if (parts.length >= 4 && parts[2] === 'versions' && m === 'GET')
			return version(res, parts[1], parts[3], parts[4] === 'schema');
	}
	if (parts[0] === 'config' && parts.length <= 2 && (m === 'GET' || m === 'PUT'))
		return configure(req, res, parts[1], body);
	if (parts.length === 0 && m === 'GET')
		return send(res, 200, {});
	error(res, 404, 404, 'HTTP 404 Not Found');
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		if (outage)
			return error(res, 503, 50003, 'Error while forwarding the request to the leader');
		if (!authorized(req))
			return error(res, 401, 401, 'Unauthorized');
		try {
			route(req, res, Buffer.concat(chunks).toString('utf8'));
		} catch (e) {
			error(res, 500, 50001, 'Error in the backend data store: ' + e.message);
		}
	});
});

process.on('SIGUSR1', () => {
	outage = !outage;
	console.log(outage ? 'outage on' : 'outage off');
});
for (const sig of ['SIGTERM', 'SIGINT'])
	process.on(sig, () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 500));

server.listen(port, '127.0.0.1', () => {
	const url = `http://127.0.0.1:${server.address().port}`;
	if (portFile) {
		fs.writeFileSync(portFile + '.tmp', url + '\n');
		fs.renameSync(portFile + '.tmp', portFile);
	}
	console.log(`registry listening on ${url}${outage ? ' (outage on)' : ''}`);
});
