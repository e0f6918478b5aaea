-- wrk script for bench/latency.py: GET /v1/profiles/{id}/matches?limit=LIMIT for uniformly
-- random profile ids (one per line in the file $IDS), with the API key $KEY. Prints one JSON
-- line of results (latencies in ms) for the bench to parse.
local ids = {}
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
local limit = os.getenv("LIMIT") or "10"
wrk.headers["X-API-Key"] = os.getenv("KEY")

local seed = tonumber(os.getenv("SEED") or "1")
local n = 0
setup = function(thread)
  n = n + 1
  thread:set("thread_seed", seed * 1000 + n)
end
init = function(args)
  math.randomseed(thread_seed)
end

request = function()
  return wrk.format("GET", "/v1/profiles/" .. ids[math.random(#ids)] .. "/matches?limit=" .. limit)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_s": %.3f, "p50_ms": %.2f, "p90_ms": %.2f, ' ..
    '"p99_ms": %.2f, "max_ms": %.2f, "mean_ms": %.2f, "errors_connect": %d, "errors_read": %d, ' ..
    '"errors_write": %d, "errors_timeout": %d, "errors_status": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    latency.mean / 1000, e.connect, e.read, e.write, e.timeout, e.status))
end
