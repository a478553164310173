-- wrk script for the Pinyard benchmark: POST one JSON body on every request,
-- stop a thread after a bounded number of responses, and print a JSON summary.
-- Usage: wrk ... -s bench/post.lua URL -- BODY_FILE MAX_REQUESTS_PER_THREAD

local max_requests = 0
local seen = 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  wrk.headers["Content-Type"] = "application/json"
  file:close()
  max_requests = tonumber(args[2]) or 0
end

function response(status, headers, body)
  seen = seen + 1
  if max_requests > 0 and seen >= max_requests then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
