# Starts the servers the store tests run against, on 127.0.0.1, and
# stops them when the shell that sourced it exits: redis-server (Debian's)
# and moto's S3 server (PyPI, in a venv under the build directory), which
# serves one request at a time (its threaded mode loses concurrent
# conditional writes). The tests find them through CHARM_TEST_REDIS,
# CHARM_TEST_S3 and the AWS_* variables this exports.
#
# test.sh sources it; `source scripts/services.sh` in a shell of your own
# does the same for `cargo test`.
[ -n "${sudo+set}" ] || { sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo; }
declare -F step >/dev/null || step() { printf '\n==> %s\n' "$*"; }

services="$PWD/target/services"
mkdir -p "$services"
pids=()
stop_services() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap stop_services EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$2 did not start on port $1; see $services/$2.log" >&2
  exit 1
}
if ! command -v redis-server >/dev/null; then
  step "installing redis-server (for the Redis store and lock tests)"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq redis-server
fi
if [ ! -x "$services/venv/bin/python" ] || ! "$services/venv/bin/python" -c 'import moto, werkzeug' 2>/dev/null; then
  step "installing moto's S3 server into $services/venv (for the S3 store tests)"
  python3 -m venv "$services/venv"
  "$services/venv/bin/pip" install -q 'moto[s3,server]==5.2.5'
fi
step "starting redis-server and the S3 server on 127.0.0.1"
redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
  --dir "$services" > "$services/redis.log" 2>&1 &
pids+=($!)
s3_port=$(free_port)
"$services/venv/bin/python" scripts/s3_server.py "$s3_port" > "$services/s3.log" 2>&1 &
pids+=($!)
wait_port "$redis_port" redis
wait_port "$s3_port" s3
export CHARM_TEST_REDIS="redis://127.0.0.1:$redis_port"
export AWS_ENDPOINT="http://127.0.0.1:$s3_port" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=charm-tests AWS_SECRET_ACCESS_KEY=charm-tests
"$services/venv/bin/python" - <<'PY'
import os, boto3
boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT"], region_name="us-east-1").create_bucket(Bucket="charm-tests")
PY
export CHARM_TEST_S3="s3://charm-tests"

