-- wrk script: every request is one student's first submission (see benches/load/burst.sh).
--   contestd-load --students 50000 --burst 256 --for-wrk DIR …   # log in, write DIR/{tokens.txt,body.json,url}
--   DIR=DIR wrk -t1 -c256 -d2s --latency -s benches/load/submit.lua "$(cat DIR/url)"
-- One thread (-t1: the tokens are not split between threads). Once the tokens run out they are
-- used again, which the server answers 409 (already submitted): done() counts statuses, and only
-- 201s are durable submissions.

local dir = os.getenv("DIR") or "."
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(dir .. "/tokens.txt") do
    if line ~= "" then tokens[#tokens + 1] = line end
  end
  local f = assert(io.open(dir .. "/body.json"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
  sent = 0
end

function request()
  sent = sent + 1
  local token = tokens[(sent - 1) % #tokens + 1]
  return wrk.format(nil, nil, { Authorization = "Bearer " .. token })
end

function response(status, headers, body)
  local key = "s" .. status
  wrk.thread:set(key, (wrk.thread:get(key) or 0) + 1)
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for _, status in ipairs({ 201, 409, 429, 503, 400, 401, 404 }) do
      local n = thread:get("s" .. status)
      if n then totals[status] = (totals[status] or 0) + n end
    end
  end
  local seconds = summary.duration / 1e6
  local created = totals[201] or 0
  io.write(string.format("durable submissions: %d in %.2f s = %.0f/s\n", created, seconds, created / seconds))
  for status, n in pairs(totals) do
    io.write(string.format("status %d: %d\n", status, n))
  end
  io.write(string.format("errors: connect %d, read %d, write %d, timeout %d, status %d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    summary.errors.status))
end
