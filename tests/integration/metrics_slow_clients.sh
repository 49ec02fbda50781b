#!/usr/bin/env bash
# Liveness answers under a flood of slow clients. 32 clients that trickle a request's bytes
# (one every half second, never finishing) used to take every connection the metrics server
# allowed, so /healthz went unanswered for as long as they lasted. With 64 of them connected and
# trickling, /healthz and /metrics must each answer within a second, ten times over.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
clients=64

"$bin/enrichd-gen-dims" --out "$work/dims" --users 200 --devices 200 --urls 50 --seed 2 2>/dev/null
lib_config "$work/enrichd.ini" "$work/dims" "$work/out" "$work/dl" 127.0.0.1:9 0 "[metrics]
listen = 127.0.0.1:0"
mkfifo "$work/input"
lib_spawn "$bin/enrichd" --config "$work/enrichd.ini" --input "$work/input" 2>"$work/enrichd.log"
exec 3>"$work/input" # the input stays open (and empty): enrichd runs until it is closed
url=$(lib_metrics_url "$work/enrichd.log")
port=${url##*:}

# shellcheck disable=SC2016
lib_spawn python3 -c '
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    socks.append(s)
open(sys.argv[3], "w").close()
while True:
    for s in socks:
        try:
            s.send(b"X")
        except OSError:
            pass
    time.sleep(0.5)
' "$port" "$clients" "$work/connected"
for _ in $(seq 100); do
	[ -e "$work/connected" ] && break
	sleep 0.1
done
[ -e "$work/connected" ] || fail "the slow clients did not connect"
sleep 1

answered=0
for i in $(seq 10); do
	h=$(curl -s --max-time 1 -o /dev/null -w '%{http_code}' "$url/healthz") || true
	m=$(curl -s --max-time 1 -o /dev/null -w '%{http_code}' "$url/metrics") || true
	if [ "$h" = 200 ] && [ "$m" = 200 ]; then
		answered=$((answered + 1))
	else
		echo "try $i: /healthz $h, /metrics $m"
	fi
	sleep 0.3
done
check "answers within a second under $clients slow clients" "$answered" 10
exec 3>&-
checks_done tail -n 5 "$work/enrichd.log"
echo "metrics_slow_clients: /healthz and /metrics answered within a second with $clients slow" \
	"clients connected"
