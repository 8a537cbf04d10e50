-- wrk script for bench/run.py. With BENCH_IDS set (a file of task ids, one a line), every
-- request asks for a random one under BENCH_PREFIX; otherwise wrk repeats the URL's path.
-- done() prints one JSON line that run.py reads.

local ids_file = os.getenv("BENCH_IDS")

if ids_file and ids_file ~= "" then
  local ids = {}
  for line in io.lines(ids_file) do
    ids[#ids + 1] = line
  end
  local prefix = os.getenv("BENCH_PREFIX") or "/api/tasks/"
  local counter = 0

  function init(args)
    math.randomseed(42 + counter)
    counter = counter + 1
  end

  function request()
    return wrk.format("GET", prefix .. ids[math.random(#ids)])
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx_3xx": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
