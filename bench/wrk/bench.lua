-- bench.lua: the wrk script of hookline-bench, section 6 (the REST api).
--
-- Environment:
--   BENCH_KEY       sent as x-api-key (unset: no key, for /healthz)
--   BENCH_POST=1    POST /v1/webhooks with a body whose name is unique:
--                   "bench-<run>-<thread>-<counter>"
--   BENCH_RUN       distinguishes the names of successive runs
--   BENCH_POST_URL  the url of the webhooks created
-- done() prints one line "BENCH_JSON {...}" with requests/s, latency
-- percentiles (microseconds) and the error counts; the driver parses it.

local key = os.getenv("BENCH_KEY")
local post = os.getenv("BENCH_POST") == "1"
local run = os.getenv("BENCH_RUN") or "0"
local hook_url = os.getenv("BENCH_POST_URL") or "http://127.0.0.1:9/bench"
local nthreads = 0
local counter = 0

function setup(thread)
  -- each thread has its own Lua state: give it a number for unique names
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
end

function init(args)
  if key and key ~= "" then
    wrk.headers["x-api-key"] = key
  end
  if post then
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
  end
end

function request()
  if post then
    counter = counter + 1
    local body = string.format('{"name":"bench-%s-%d-%d","url":"%s","events":["booking"]}',
                               run, tid, counter, hook_url)
    return wrk.format(nil, nil, nil, body)
  end
  return wrk.request()
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, secs, summary.requests / secs, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
