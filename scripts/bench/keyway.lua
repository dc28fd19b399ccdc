-- wrk script for scripts/bench-http: one script for every target, chosen by environment, so that
-- all runs of a benchmark share the same request construction and the same report.
--
--   KEYWAY_BENCH_TARGET=liveness   GET  /v2/liveness
--   KEYWAY_BENCH_TARGET=verify     POST /v2/keys.verifyKey {"key": KEYWAY_BENCH_KEY}
--                                  with "Authorization: Bearer KEYWAY_ROOT_KEY", plus
--                                  "permissions": KEYWAY_BENCH_QUERY when that is set
--   KEYWAY_BENCH_TARGET=ratelimit  POST /v2/ratelimit.limit, one identifier, a limit never reached
--
-- No response() callback: defining one makes wrk hand every body to Lua, which would cost the
-- load generator CPU that it shares with the server. Correctness is checked by the caller with
-- curl before the run, and wrk counts non-2xx answers (reported as status_errors below).

local target = os.getenv("KEYWAY_BENCH_TARGET") or "liveness"

if target == "liveness" then
  wrk.method = "GET"
  wrk.path = "/v2/liveness"
elseif target == "verify" then
  local key = assert(os.getenv("KEYWAY_BENCH_KEY"), "KEYWAY_BENCH_KEY is not set")
  local root = assert(os.getenv("KEYWAY_ROOT_KEY"), "KEYWAY_ROOT_KEY is not set")
  wrk.method = "POST"
  wrk.path = "/v2/keys.verifyKey"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. root
  -- Keys are base58 with an optional prefix and "_", and permission queries are letters, dots,
  -- spaces and parentheses: nothing that needs JSON escaping.
  local query = os.getenv("KEYWAY_BENCH_QUERY") or ""
  if query == "" then
    wrk.body = '{"key":"' .. key .. '"}'
  else
    wrk.body = '{"key":"' .. key .. '","permissions":"' .. query .. '"}'
  end
elseif target == "ratelimit" then
  local root = assert(os.getenv("KEYWAY_ROOT_KEY"), "KEYWAY_ROOT_KEY is not set")
  wrk.method = "POST"
  wrk.path = "/v2/ratelimit.limit"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. root
  wrk.body = '{"namespace":"bench","identifier":"user_1","limit":1000000000000,"duration":60000}'
else
  error("unknown KEYWAY_BENCH_TARGET: " .. target)
end

-- One machine-readable line for scripts/bench-http (latencies in microseconds).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d status_errors=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
