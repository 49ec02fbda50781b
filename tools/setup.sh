#!/usr/bin/env bash
# Installs what enrichd needs to build, test and run its demo on Debian 12, idempotently:
# Debian packages (only those missing), the embedded ClickHouse (chdb) used to read segments, and
# the test Schema Registry's Avro producer libraries (tests/registry).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

packages=(build-essential cmake pkg-config clang libclang-rt-14-dev
	liburing-dev librdkafka-dev libxxhash-dev libmimalloc-dev libcriterion-dev libnuma-dev
	liburcu-dev libinih-dev libcjson-dev libmicrohttpd-dev libcurl4-openssl-dev libavro-dev
	libpq-dev postgresql
	kcat prometheus hyperfine nodejs npm linux-perf gnuplot-nox)

missing=()
for p in "${packages[@]}"; do
	# nodejs/npm may come from elsewhere than Debian: a working binary is enough.
	case "$p" in
	nodejs) command -v node >/dev/null && continue ;;
	npm) command -v npm >/dev/null && continue ;;
	linux-perf) command -v perf >/dev/null && continue ;;
	esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing packages and not root; install them: ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# `npm install` from the lock file rather than `npm ci`: chdb lists a native library per
# platform as optional, and a registry that serves only this platform's one makes `npm ci`
# refuse the lock file although everything this machine needs is in it.
if ! (cd "$here/ch" && node -e 'require("chdb")' 2>/dev/null); then
	echo "setup: installing embedded ClickHouse (chdb) under tools/ch"
	(cd "$here/ch" && npm install --no-save --no-audit --no-fund --loglevel=error >/dev/null)
	(cd "$here/ch" && node -e 'require("chdb")')
fi

# The test Schema Registry's producer libraries (avsc, @kafkajs/confluent-schema-registry).
if ! (cd "$here/../tests/registry" && node -e 'require("avsc"); require("@kafkajs/confluent-schema-registry")' 2>/dev/null); then
	echo "setup: installing the Avro producer libraries under tests/registry"
	(cd "$here/../tests/registry" && npm install --no-save --no-audit --no-fund --loglevel=error >/dev/null)
	(cd "$here/../tests/registry" && node -e 'require("avsc"); require("@kafkajs/confluent-schema-registry")')
fi
