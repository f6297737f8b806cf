# Sourced by the bench/gpu_*.sh scripts. step NAME SECONDS COMMAND...: run COMMAND under a time
# limit, log to $OUT/NAME.log, and print its start, exit code, end and the log's last lines.
step() {
  local name=$1 limit=$2; shift 2
  echo "== $name start $(date -u +%T)"
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  echo "== $name rc=$? end $(date -u +%T)"
  grep -v -i warn "$OUT/$name.log" | tail -n "${TAIL:-8}"
}
