#!/usr/bin/env bash
# bench/run.sh: radgate against FreeRADIUS, on this machine, in one run.
#
# Starts Debian's FreeRADIUS (plain PAP from a users file, and PAP plus one
# SQLite row per request through rlm_sql_sqlite) and radgate's radiusd
# (bypass codes, TOTP, wrong codes, local argon2id + code), each with a
# private config on a free loopback port, Message-Authenticator required,
# and loads each with radiusctl bench at every concurrency, interleaved.
# Prints one table. See docs/performance.md.
#
# Settings (environment): BENCH_DURATION (10s), BENCH_CONCURRENCY ("1 16 64"),
# BENCH_USERS (20000), BENCH_LOCAL_DURATION (duration of the argon2id
# scenario, 10s), BENCH_SCENARIOS (default: fr-pap fr-sql rg-bypass rg-totp
# rg-wrong rg-local), BENCH_SOCKETS (the source ports radiusctl bench loads
# from, at most one per outstanding request; default the tool's own: one
# per CPU). Replies must arrive within 2s (10s for rg-local,
# whose queue of argon2id hashes is concurrency x hash time deep).
#
# Scenarios ceil-none, ceil-fsync, ceil-sqlite and ceil-codestore (not in
# the default list) run bench/ceiling: radiusd's protocol server in front
# of no write, a 64-byte record with one fdatasync per batch, one SQLite
# UPDATE per login, or radgate's store alone; with rg-bypass they show
# what each layer of a login costs.
#
# Two builds of radiusd, interleaved: BENCH_BASELINE names a git revision;
# radiusd is built at it too, and the scenarios base-bypass, base-totp,
# base-wrong and base-local run that build exactly as the rg-* ones run
# this checkout's, on the store this checkout's bench/prep writes (so the
# baseline must read the same schema). BENCH_ROUNDS (1) repeats the whole
# list of concurrencies and scenarios, each round's rows compared with that
# round's FreeRADIUS; with more than one round a table of medians follows. For
# example, to measure a change against main at concurrency 64:
#   BENCH_BASELINE=main BENCH_ROUNDS=5 BENCH_CONCURRENCY=64 \
#     BENCH_SCENARIOS="rg-bypass base-bypass" bash bench/run.sh
set -euo pipefail

DURATION=${BENCH_DURATION:-10s}
CONCURRENCY=${BENCH_CONCURRENCY:-"1 16 64"}
USERS=${BENCH_USERS:-20000}
LOCAL_DURATION=${BENCH_LOCAL_DURATION:-10s}
SCENARIOS=${BENCH_SCENARIOS:-"fr-pap fr-sql rg-bypass rg-totp rg-wrong rg-local"}
BASELINE=${BENCH_BASELINE:-}
ROUNDS=${BENCH_ROUNDS:-1}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_ROUNDS must be a whole number of at least 1, not \"$ROUNDS\"" >&2; exit 1; }
SOCKETS=${BENCH_SOCKETS:-}
[[ -z $SOCKETS || $SOCKETS =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_SOCKETS must be a whole number of at least 1, not \"$SOCKETS\"" >&2; exit 1; }
case " $SCENARIOS " in *" base-"*)
	[ -n "$BASELINE" ] || { echo "bench: base-* scenarios need BENCH_BASELINE (a git revision)" >&2; exit 1; } ;;
esac
SECRET="bench-secret-$$"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# On disk, not tmpfs: the fsyncs must be real.
WORK=$(mktemp -d /var/tmp/radgate-bench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

FREERADIUS=$(command -v freeradius || true)
[ -n "$FREERADIUS" ] || { echo "bench: freeradius not installed (apt-get install freeradius)" >&2; exit 1; }
[ -e /usr/lib/freeradius/rlm_sql_sqlite.so ] || { echo "bench: rlm_sql_sqlite missing" >&2; exit 1; }

echo "== building" >&2
mkdir -p "$WORK/bin" "$WORK/creds" "$WORK/results"
(cd "$ROOT" && go build -o "$WORK/bin/radiusd" ./cmd/radiusd &&
	go build -o "$WORK/bin/radiusctl" ./cmd/radiusctl &&
	go build -o "$WORK/bin/prep" ./bench/prep &&
	go build -o "$WORK/bin/ceiling" ./bench/ceiling)
if [ -n "$BASELINE" ]; then
	echo "== building radiusd at $BASELINE" >&2
	mkdir -p "$WORK/base-src"
	git -C "$ROOT" archive "$BASELINE" | tar -x -C "$WORK/base-src"
	(cd "$WORK/base-src" && go build -o "$WORK/bin/radiusd-base" ./cmd/radiusd)
fi

freeport() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 40000))
		if [ -z "$(ss -Hltun "sport = :$p")" ]; then echo "$p"; return; fi
	done
	echo "bench: no free port" >&2; exit 1
}

# ---- FreeRADIUS configs ------------------------------------------------
fr_config() { # fr_config DIR PORT WITH_SQL
	local dir=$1 port=$2 sql=$3
	mkdir -p "$dir/log" "$dir/run"
	local i=0
	: >"$dir/users"
	while [ $i -lt 1000 ]; do
		printf 'fr%d Cleartext-Password := "fr-pw-%d"\n' $i $i >>"$dir/users"
		i=$((i + 1))
	done
	local postauth="" sqlmod=""
	if [ "$sql" = 1 ]; then
		cat >"$dir/schema.sql" <<'SQL'
CREATE TABLE radpostauth (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username varchar(64) NOT NULL default '',
  reply varchar(32) NOT NULL default '',
  authdate timestamp NOT NULL
);
SQL
		sqlmod="sql {
		driver = \"rlm_sql_sqlite\"
		dialect = \"sqlite\"
		sqlite {
			filename = \"$dir/fr.db\"
			busy_timeout = 5000
			bootstrap = \"$dir/schema.sql\"
		}
		radius_db = \"radius\"
		read_clients = no
		postauth_table = \"radpostauth\"
		pool {
			start = 8
			min = 8
			max = 32
			spare = 8
			uses = 0
			lifetime = 0
			idle_timeout = 0
		}
		post-auth {
			query = \"INSERT INTO radpostauth (username, reply, authdate) VALUES ('%{User-Name}', '%{reply:Packet-Type}', '%S')\"
		}
	}"
		postauth="sql"
	fi
	cat >"$dir/radiusd.conf" <<CONF
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = $dir/log
raddbdir = $dir
radacctdir = $dir/log
name = radiusd
confdir = $dir
modconfdir = $dir
run_dir = $dir/run
db_dir = $dir
libdir = /usr/lib/freeradius
dictdir = /usr/share/freeradius
pidfile = $dir/run/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 65536
hostname_lookups = no
log {
	destination = files
	file = $dir/log/radius.log
	auth = no
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = yes
}
thread pool {
	start_servers = 5
	max_servers = 32
	min_spare_servers = 3
	max_spare_servers = 10
	max_requests_per_server = 0
}
client bench {
	ipaddr = 127.0.0.1
	secret = $SECRET
	require_message_authenticator = yes
}
modules {
	files {
		filename = $dir/users
	}
	pap {
	}
	$sqlmod
}
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $port
	}
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
	post-auth {
		$postauth
	}
}
CONF
	chmod -R go-rwx "$dir"
}

# ---- radgate configs -----------------------------------------------------
rg_config() { # rg_config FILE BACKEND [PORT [METRICS_PORT]]
	cat >"$1" <<CONF
listen    = "127.0.0.1:${3:-0}"
log_level = "warn"
metrics_listen = "${4:+127.0.0.1:$4}"
store {
  path     = "$WORK/rg/radgate.db"
  key_file = "$WORK/rg/radgate.key"
}
client "bench" {
  address = "127.0.0.1"
  secret  = "$SECRET"
  mode    = "concat"
}
primary {
  backend = "$2"
}
lockout {
  max_failures = 100000000
  window       = "15m"
  duration     = "15m"
}
CONF
}

mkdir -p "$WORK/rg"
rg_config "$WORK/rg/none.hcl" none
echo "== preparing $USERS radgate users" >&2
"$WORK/bin/prep" setup -config "$WORK/rg/none.hcl" -users "$USERS" -out "$WORK/creds"
# Every radiusd and bench/ceiling run starts from the store as prepared, so
# that no row depends on what the runs before it wrote (audit rows, spent
# uses, TOTP steps, failure counts).
cp "$WORK/rg/radgate.db" "$WORK/rg/prepared.db"
reset_store() {
	rm -f "$WORK/rg/radgate.db-wal" "$WORK/rg/radgate.db-shm"
	cp "$WORK/rg/prepared.db" "$WORK/rg/radgate.db"
}
i=0
: >"$WORK/creds/fr.txt"
while [ $i -lt 1000 ]; do printf 'fr%d fr-pw-%d\n' $i $i >>"$WORK/creds/fr.txt"; i=$((i + 1)); done

# wait_up NAME UDP_PORT TCP_PORT LOG...: wait until SERVER_PID listens on
# UDP_PORT, and on TCP_PORT unless it is empty; if the server dies first,
# show its LOGs and stop.
wait_up() {
	local name=$1 udp=$2 tcp=$3
	shift 3
	for _ in $(seq 1 100); do
		if [ -n "$(ss -Hlun "sport = :$udp")" ] && { [ -z "$tcp" ] || [ -n "$(ss -Hltn "sport = :$tcp")" ]; }; then return; fi
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$@" >&2; exit 1; }
		sleep 0.1
	done
	echo "bench: $name did not start" >&2; exit 1
}

SERVER_PID=""
SERVER_ADDR=""
METRICS_PORT="" # radiusd's metrics listener; empty for FreeRADIUS
start_fr() { # start_fr NAME WITH_SQL
	local dir="$WORK/$1" port
	port=$(freeport)
	rm -rf "$dir"
	fr_config "$dir" "$port" "$2"
	"$FREERADIUS" -f -d "$dir" -n radiusd >"$dir/log/stdout" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	SERVER_ADDR="127.0.0.1:$port"
	METRICS_PORT=""
	wait_up freeradius "$port" "" "$dir/log/stdout" "$dir/log/radius.log"
}

start_rg() { # start_rg BACKEND BINARY
	local log="$WORK/rg/radiusd.log" port
	port=$(freeport)
	METRICS_PORT=$(freeport)
	rg_config "$WORK/rg/run.hcl" "$1" "$port" "$METRICS_PORT"
	reset_store
	"$WORK/bin/$2" -config "$WORK/rg/run.hcl" 2>"$log" &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	SERVER_ADDR="127.0.0.1:$port"
	wait_up radiusd "$port" "$METRICS_PORT" "$log"
}

start_ceil() { # start_ceil WRITE
	local log="$WORK/rg/ceiling.stderr" port
	port=$(freeport)
	METRICS_PORT=""
	reset_store
	"$WORK/bin/ceiling" -listen "127.0.0.1:$port" -secret "$SECRET" -write "$1" \
		-dir "$WORK/rg" -config "$WORK/rg/none.hcl" 2>"$log" &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	SERVER_ADDR="127.0.0.1:$port"
	wait_up ceiling "$port" "" "$log"
}

stop_server() {
	kill "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
}

hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# proc_ticks PID: the process's CPU time (user + system, all threads) in
# clock ticks; the fields after the ")" of the command name.
proc_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# host_ticks: "busy total" clock ticks of all CPUs (user to steal).
host_ticks() { awk '/^cpu / {t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }
CLK_TCK=$(getconf CLK_TCK)
# commit_counters: radiusd's group-commit counters, "commits writes
# seconds", read from its metrics over bash's /dev/tcp (no HTTP client
# needed); "0 0 0" for FreeRADIUS.
commit_counters() {
	if [ -z "$METRICS_PORT" ]; then echo "0 0 0"; return; fi
	exec 3<>"/dev/tcp/127.0.0.1/$METRICS_PORT"
	printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
	awk '$1 == "radgate_store_commits_total" {c = $2}
		$1 == "radgate_store_commit_writes_total" {w = $2}
		$1 == "radgate_store_commit_seconds_total" {s = $2}
		END {print c + 0, w + 0, s + 0}' <&3
	exec 3<&-
}

# run_one SCENARIO CONCURRENCY: start the server, load it, record a line.
run_one() {
	local sc=$1 c=$2 creds dur=$DURATION count="" timeout=2s bin=radiusd kind=$1
	case $sc in base-*) bin=radiusd-base kind=rg-${sc#base-} ;; esac
	case $kind in
	fr-pap) start_fr fr-pap 0; creds=fr.txt ;;
	fr-sql) start_fr fr-sql 1; creds=fr.txt ;;
	rg-bypass) start_rg none "$bin"; creds=bypass.txt ;;
	rg-totp)
		start_rg none "$bin"
		"$WORK/bin/prep" totp -users "$USERS" -out "$WORK/creds" -within "$((${DURATION%s} + 8))s"
		# A TOTP run holds only 3 requests per user: without a warm-up a
		# third of them would be the first of their user, which the other
		# scenarios' long runs amortize. One bypass login per user first,
		# not measured (at most 5 s of the codes' validity).
		"$WORK/bin/radiusctl" bench --server "$SERVER_ADDR" --secret "$SECRET" \
			--users "$WORK/creds/bypass.txt" --concurrency 64 --count "$USERS" --duration 5s >/dev/null || true
		creds=totp.txt
		count="--count $((USERS * 3))" ;;
	rg-wrong) start_rg none "$bin"; creds=wrong.txt ;;
	rg-local) start_rg local "$bin"; creds=local.txt; dur=$LOCAL_DURATION; timeout=10s ;;
	ceil-*) start_ceil "${sc#ceil-}"; creds=bypass.txt ;;
	*) echo "bench: unknown scenario $sc" >&2; exit 1 ;;
	esac
	local load cpu0 cpu1 host0 host1 commits0 commits1
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	commits0=$(commit_counters)
	cpu0=$(proc_ticks "$SERVER_PID")
	host0=$(host_ticks)
	# shellcheck disable=SC2086
	"$WORK/bin/radiusctl" bench --server "$SERVER_ADDR" --secret "$SECRET" \
		--users "$WORK/creds/$creds" --concurrency "$c" --duration "$dur" $count \
		${SOCKETS:+--sockets "$((SOCKETS < c ? SOCKETS : c))"} --timeout "$timeout" --json >"$WORK/results/$sc-$c.json" || true
	cpu1=$(proc_ticks "$SERVER_PID")
	host1=$(host_ticks)
	commits1=$(commit_counters)
	local rss
	rss=$(hwm_kb "$SERVER_PID")
	stop_server
	# The server's CPU time per request sent, in µs, and how busy the
	# machine's CPUs were (server and load tool together), in %.
	local cpu_us busy
	cpu_us=$(jq -r --argjson t "$((cpu1 - cpu0))" --argjson hz "$CLK_TCK" \
		'if .sent > 0 then $t * 1e6 / $hz / .sent | floor else 0 end' "$WORK/results/$sc-$c.json")
	busy=$(awk -v a="$host0" -v b="$host1" 'BEGIN {split(a, x, " "); split(b, y, " "); printf "%d", (y[2] > x[2] ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0)}')
	# radiusd's writes per group commit and mean COMMIT time in ms ("-" for
	# FreeRADIUS).
	local per_commit commit_ms
	read -r per_commit commit_ms < <(awk -v a="$commits0" -v b="$commits1" 'BEGIN {split(a, x, " "); split(b, y, " "); n = y[1] - x[1]
		if (n > 0) printf "%.1f %.2f\n", (y[2] - x[2]) / n, 1000 * (y[3] - x[3]) / n; else print "- -" }')
	jq -r --arg sc "$sc" --arg c "$c" --arg rss "$rss" --arg load "$load" --arg cpu "$cpu_us" --arg busy "$busy" \
		--arg per_commit "$per_commit" --arg commit_ms "$commit_ms" \
		'[$sc, $c, (.rate|floor), .accepts, .rejects, .timeouts, .invalid, .p50_ms, .p90_ms, .p99_ms, .max_ms, (($rss|tonumber)/1024|floor), $load, $cpu, $busy, $per_commit, $commit_ms] | @tsv' \
		"$WORK/results/$sc-$c.json" | tee -a "$WORK/results/all.tsv" >&2
}

echo "== nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" >&2
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo -e "scenario\tconc\treq/s\taccept\treject\ttimeout\tinvalid\tp50ms\tp90ms\tp99ms\tmaxms\tpeakRSS_MB\tload1/5/15\tserverCPU_us/req\tCPUbusy%\twrites/commit\tcommit_ms" >&2
: >"$WORK/results/all.tsv"
for _ in $(seq 1 "$ROUNDS"); do
	for c in $CONCURRENCY; do
		for sc in $SCENARIOS; do
			run_one "$sc" "$c"
		done
	done
done

# rg-local's ceiling: one core's argon2id verify time, measured in this run.
ARGON=""
case " $SCENARIOS " in *" rg-local "* | *" base-local "*)
	echo "== argon2id verify time (default costs)" >&2
	ARGON=$("$WORK/bin/prep" argon2 -n 40) ;;
esac

echo
echo "| scenario | conc | req/s | accept | reject | timeout | invalid | p50 ms | p90 ms | p99 ms | max ms | peak RSS MB | server CPU µs/req | CPUs busy % | writes/commit | commit ms | ×FR PAP | ×FR SQL | load (1/5/15) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
# Each row is compared with the FreeRADIUS rows of its round: the latest
# at its concurrency before it, else the first after it.
awk -F'\t' '
	{ rows[NR] = $0; if ($1 == "fr-pap" && !($2 in pap)) pap[$2] = $3; if ($1 == "fr-sql" && !($2 in sql)) sql[$2] = $3 }
	END {
		for (i = 1; i <= NR; i++) {
			split(rows[i], f, "\t")
			if (f[1] == "fr-pap") pap[f[2]] = f[3]
			if (f[1] == "fr-sql") sql[f[2]] = f[3]
			rp = (pap[f[2]] > 0) ? sprintf("%.2f", f[3] / pap[f[2]]) : "-"
			rs = (sql[f[2]] > 0) ? sprintf("%.2f", f[3] / sql[f[2]]) : "-"
			printf "| %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %s | %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[14], f[15], f[16], f[17], rp, rs, f[13]
		}
	}' "$WORK/results/all.tsv"

if [ "$ROUNDS" -gt 1 ]; then
	echo
	echo "Medians over $ROUNDS rounds:"
	echo
	echo "| scenario | conc | req/s | p99 ms | server CPU µs/req |"
	echo "|---|---|---|---|---|"
	jq -Rrn '[inputs | split("\t")] | group_by([.[0], (.[1] | tonumber)])[]
		| def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		"| \(.[0][0]) | \(.[0][1]) | \(map(.[2] | tonumber) | median | floor) | \(map(.[9] | tonumber) | median * 100 | round / 100) | \(map(.[13] | tonumber) | median | floor) |"' \
		"$WORK/results/all.tsv"
fi

if [ -n "$ARGON" ]; then
	val() { awk -v k="$1" '$1 == k {print $2}' <<<"$ARGON"; }
	echo
	echo "argon2id verify, one core: $(val argon2id_ms) ms (median of 40); cores: $(val cores)."
	echo "rg-local target: cores / verify time = $(val target_rate) req/s; $(val cores) goroutines verifying with nothing else running: $(val parallel_rate) req/s."
	awk -F'\t' -v t="$(val target_rate)" -v p="$(val parallel_rate)" '$1 == "rg-local" || $1 == "base-local" {
		printf "%s at concurrency %s: %s req/s = %.2f of the target, %.2f of the parallel rate\n", $1, $2, $3, $3 / t, $3 / p }' "$WORK/results/all.tsv"
fi
