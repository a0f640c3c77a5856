-- What bench/ussd.lua and bench/survey.lua (wrk scripts, LuaJIT) share: the
-- thread list, the arguments MODE RING TAG [FIRST], the request basics, think
-- time, and done()'s one line "BENCH_JSON {...}" for bench/ussd.py's run_wrk.
--
-- Loaded by each script, once in every Lua state wrk makes (the main one and one
-- per thread), from the script's own directory:
--
--   local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local M = {}

-- A gateway callback's path with the service's token (app/webhook_auth.py).
function M.callback(path)
  return path .. "?token=" .. (os.getenv("WEBHOOK_TOKEN") or "")
end

-- Every wrk thread, in order, for done() to read their counters back.
M.threads = {}
local nthreads = 0

-- wrk's setup(): number the threads (the global tid in each thread's state).
function M.setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(M.threads, thread)
end

function M.urlencode(s)
  return (
    string.gsub(s, "[^%w%-%._~]", function(ch)
      return string.format("%%%02X", string.byte(ch))
    end)
  )
end

-- The start of init(): the globals mode, ring (default_ring when not given), tag
-- and first from the arguments, and what every request needs: headers, the
-- form's fixed part (fixed, followed by the text) and the phantom flag.
function M.init(args, default_ring)
  mode = args[1] or "ussd"
  ring = tonumber(args[2]) or default_ring
  tag = tonumber(args[3]) or 0
  first = tonumber(args[4]) or 0
  if tid > 99 or tag > 9 then
    error("at most 100 wrk threads and tags 0-9")
  end
  started = 0
  -- wrk calls thread 0's request() once before the run to check what it returns
  -- (script_verify_request); that request is never sent, so it must not move a
  -- caller on.
  phantom = (tid == 0)
  math.randomseed(os.time() * 100 + tid * 7919 + tag)
  headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  fixed = "&serviceCode=" .. M.urlencode("*384*1234#") .. "&networkCode=63902&text="
end

-- The request wrk checks before the run (thread 0's first request() call, while
-- phantom is true): a /bench/hello, never sent.
function M.check_request()
  phantom = false
  return wrk.format("POST", "/bench/hello", headers, "sessionId=check" .. fixed)
end

-- A /bench/hello, counted in hellos.
function M.hello()
  hellos = hellos + 1
  return wrk.format("POST", "/bench/hello", headers, "sessionId=hello" .. fixed)
end

-- Think time comes from the environment, not the arguments: wrk decides whether
-- the script has a delay() before init() sees its arguments, and a delay() that
-- returns 0 still costs a timer per request.
M.think_ms = tonumber(os.getenv("USSD_THINK_MS") or "0") or 0

-- A delay() of think_ms mean think time per connection between requests.
function M.think_delay(think_ms)
  local delayed = 0
  return function()
    -- The first request on each connection goes at once (wrk opens every
    -- connection at the start): gunicorn's gthread worker holds a thread for up
    -- to 5 s waiting for a new connection's first bytes, so connections left
    -- silent would stall the server. That request is a cheap /bench/hello, so the
    -- start is not a burst of real work.
    if delayed < first then
      delayed = delayed + 1
      return 0
    end
    -- exponential, capped at 5x the mean: many connections together then send
    -- close to a Poisson stream
    local u = math.random()
    if u < 0.0067 then
      u = 0.0067
    end
    return math.floor(-think_ms * math.log(u))
  end
end

local function jstr(s)
  s = string.gsub(s, '[%c"\\]', function(ch)
    return string.format("\\u%04x", string.byte(ch))
  end)
  return '"' .. s .. '"'
end

-- done()'s report, one line "BENCH_JSON {...}": wrk's summary and latency, then
-- "checked": the counters named in keys, summed over the threads, in that order,
-- followed by extra (a list of {name, number}); then the first bad and the first
-- unexpected answer any thread saw.
function M.report(summary, latency, keys, extra)
  local t = {}
  for _, k in ipairs(keys) do
    t[k] = 0
  end
  local fb, odd = "", ""
  for _, thread in ipairs(M.threads) do
    for _, k in ipairs(keys) do
      t[k] = t[k] + (thread:get(k) or 0)
    end
    if fb == "" then
      fb = thread:get("first_bad") or ""
    end
    if odd == "" then
      odd = thread:get("first_odd") or ""
    end
  end
  local checked = {}
  for _, k in ipairs(keys) do
    table.insert(checked, string.format('"%s":%d', k, t[k]))
  end
  for _, kv in ipairs(extra or {}) do
    table.insert(checked, string.format('"%s":%d', kv[1], kv[2]))
  end
  local e = summary.errors
  local parts = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_us":%d', summary.duration),
    string.format('"bytes":%d', summary.bytes),
    string.format(
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
      e.connect,
      e.read,
      e.write,
      e.status,
      e.timeout
    ),
    string.format(
      '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}',
      latency.mean,
      latency.stdev,
      latency.max,
      latency:percentile(50),
      latency:percentile(90),
      latency:percentile(99),
      latency:percentile(99.9)
    ),
    '"checked":{' .. table.concat(checked, ",") .. "}",
    '"first_bad":' .. jstr(fb),
    '"first_odd":' .. jstr(odd),
  }
  io.write("BENCH_JSON {" .. table.concat(parts, ",") .. "}\n")
end

return M
