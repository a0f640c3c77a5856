-- wrk script: cadres surveying households over USSD, one hop at a time.
--
--   [USSD_THINK_MS=N] SURVEY_HOUSEHOLDS=FILE SURVEY_PIN=PIN [SURVEY_SAMPLES=OUT] \
--     wrk -tT -cT -dDs -s bench/survey.lua URL -- MODE RING TAG [FIRST]
--
-- ONE CONNECTION PER wrk THREAD (-t equal to -c). Each thread then has exactly one
-- request in flight, so response() knows which request it answers: every answer
-- is checked against the screen that hop must show, a cadre's next hop goes out
-- only after its previous one was answered (as on a phone), and each hop's latency
-- is timed here (LuaJIT ffi, CLOCK_MONOTONIC) and filed under its kind (dial,
-- PIN, answer, ...), which wrk's own histogram cannot do.
--
-- MODE   "ussd"   each request is the next hop of the next cadre in the thread's
--                 ring (round robin: a connection plays its cadres' sessions, and
--                 each cadre's journeys one after another);
--        "prime"  walk each cadre of the ring up to its starting hop, print
--                 "PRIMED <thread> <hops>", then send /bench/hello until stopped
--                 (bench/survey.py sends SIGINT);
--        "hello"  the same form bodies, posted to /bench/hello (the ceiling).
-- RING   cadres per wrk thread (per connection), all mid-survey. Cadre number
--        tid * RING + i - 1 (i = 1..RING) is +2541100NNNNN, "Bench cadre NNNNN",
--        registered beforehand by bench/survey.py with the PIN SURVEY_PIN.
-- TAG    one digit, different for every ring used against one database: session
--        ids and household heads' names are never reused (a "prime" run and the
--        "ussd" run that continues its ring share TAG, RING and -t).
-- FIRST  1: the first request on the connection is a /bench/hello (not counted;
--        see bench/common.lua: gunicorn's gthread worker and silent connections).
--
-- A journey (a cadre's USSD session): "" (main menu) -> "8" (Staff: PIN screen)
-- -> "8*PIN" (staff menu: argon2 check) -> "8*PIN*2" (New household: Q1) -> one
-- answer per hop from a household of SURVEY_HOUSEHOLDS (a line of tab-separated
-- keys, "@" where the head's name goes) -> "CON Household saved: <name>.".
-- Every household head gets a unique name, "HH <tag> <thread> <journey>", so
-- bench/survey.py can check in PostgreSQL that each saved journey is stored once.
--
-- An answer that is not the screen expected (or a lost request: wrk reconnected
-- and asked for the next one) counts as "unexpected" and the cadre starts a new
-- journey with a new session. done() prints "BENCH_JSON {...}" for bench/ussd.py's
-- run_wrk. With SURVEY_SAMPLES=PATH each thread writes PATH.<thread> as it goes:
-- every hop's latency in µs by kind and the names of the households saved; done()
-- writes PATH: the names whose last hop was still in flight when wrk stopped.
--
-- What this script shares with bench/ussd.lua is in bench/common.lua.

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
local urlencode = common.urlencode

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]])
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

setup = common.setup

local function split_tabs(line)
  local out = {}
  for field in string.gmatch(line, "([^\t]*)\t?") do
    table.insert(out, field)
  end
  -- gmatch yields one empty match at the very end
  if out[#out] == "" then
    table.remove(out)
  end
  return out
end

local KINDS = { "dial", "staff", "pin", "new", "answer", "save" }

function init(args)
  common.init(args, 8)
  pin = os.getenv("SURVEY_PIN") or "2468"
  local path = os.getenv("SURVEY_HOUSEHOLDS") or "bench/results/survey-households.tsv"
  households = {}
  for line in io.lines(path) do
    if line ~= "" then
      local keys = split_tabs(line)
      for k, v in ipairs(keys) do
        if v ~= "@" then
          keys[k] = urlencode(v)
        end
      end
      table.insert(households, keys)
    end
  end
  if #households == 0 then
    error("no households in " .. path)
  end

  -- counters read back by done() through thread:get()
  responses, bad, bad_status, unexpected, ends, journeys, hellos, lost = 0, 0, 0, 0, 0, 0, 0, 0
  first_bad, first_odd = "", ""
  -- SURVEY_SAMPLES: each thread writes its own file, <path>.<thread>, as it goes
  -- (wrk cannot copy large tables between threads at the end)
  local out = os.getenv("SURVEY_SAMPLES") or ""
  sample_file = nil
  if out ~= "" then
    sample_file = assert(io.open(out .. "." .. tid, "w"))
  end
  inflight = nil -- the request on the wire: {i, hop, kind, t0, expect, name}
  inflight_kind, inflight_name = "", "" -- read by done(): the hop still in flight

  -- cadre i: number, name, journey, household, hop, text so far
  cadre, msisdn, journey, hh, hop, text, hname, nhops = {}, {}, {}, {}, {}, {}, {}, {}
  next_journey = ring
  for i = 1, ring do
    local c = tid * ring + i - 1
    cadre[i] = string.format("Bench cadre %05d", c)
    msisdn[i] = string.format("%%2B2541100%05d", c)
    start_journey(i, i - 1)
  end
  -- steady state from the first request: cadre i starts part-way through its
  -- first journey, the ring spread evenly over it (a per-thread shift spreads
  -- the threads' rings over each other).
  start = {}
  local shift = (tid * 0.6180339887) % 1
  for i = 1, ring do
    start[i] = 1 + math.floor(((i - 1 + shift) / ring) * nhops[i])
  end
  cursor = 0
  if mode == "prime" then
    prime_i, prime_total, prime_done = 1, 0, false
    for i = 1, ring do
      prime_total = prime_total + start[i] - 1
    end
  else
    -- the measured run continues where the prime run left each cadre: replay
    -- the texts (no requests) up to the starting hop
    for i = 1, ring do
      while hop[i] < start[i] do
        advance(i)
      end
    end
  end
end

function start_journey(i, j)
  journey[i] = j
  hh[i] = households[(j * 7 + tid * 13 + tag * 3) % #households + 1]
  hop[i] = 1
  text[i] = ""
  hname[i] = string.format("HH %d %d %d", tag, tid, j)
  nhops[i] = 4 + #hh[i]
end

-- The text after hop h of cadre i (hop[i] is the next hop to send).
function advance(i)
  local h = hop[i]
  if h == 1 then
    text[i] = ""
  elseif h == 2 then
    text[i] = "8"
  elseif h == 3 then
    text[i] = "8*" .. pin
  elseif h == 4 then
    text[i] = text[i] .. "*2"
  else
    local key = hh[i][h - 4]
    if key == "@" then
      key = urlencode(hname[i])
    end
    text[i] = text[i] .. "*" .. key
  end
  hop[i] = h + 1
end

local function expected(i, h)
  if h == 1 then
    return "dial", "CON Ngazi main menu\n"
  elseif h == 2 then
    return "staff", "CON Staff\n"
  elseif h == 3 then
    return "pin", "CON " .. cadre[i] .. "\n"
  elseif h == 4 then
    return "new", "CON Q1\n"
  elseif h < nhops[i] then
    return "answer", "CON Q" .. (h - 3)
  end
  return "save", "CON Household saved: " .. hname[i] .. "."
end

-- The request for cadre i's next hop; moves the cadre on.
local function next_hop(i, url)
  local h = hop[i]
  local kind, expect = expected(i, h)
  advance(i)
  local sid = string.format("ATUid_survey_%d_%d_%d", tag, tid, journey[i])
  local body = "sessionId=" .. sid .. "&phoneNumber=" .. msisdn[i] .. fixed .. text[i]
  inflight = { i = i, hop = h, kind = kind, expect = expect, name = hname[i] }
  inflight_kind, inflight_name = kind, hname[i]
  if h >= nhops[i] then
    start_journey(i, next_journey)
    next_journey = next_journey + 1
  end
  return wrk.format("POST", url, headers, body)
end

local function hello()
  inflight = { kind = "hello" }
  inflight_kind, inflight_name = "hello", ""
  return common.hello()
end

-- A journey that went wrong: the cadre starts a new one, in a new session.
local function abandon(i)
  start_journey(i, next_journey)
  next_journey = next_journey + 1
end

function request()
  if phantom then
    return common.check_request()
  end
  if inflight ~= nil then
    -- no answer came (socket error, timeout): that hop is lost
    lost = lost + 1
    if inflight.i ~= nil then
      abandon(inflight.i)
    end
    if first_odd == "" then
      first_odd = "lost request: " .. inflight.kind
    end
    inflight = nil
  end
  local req
  if mode == "prime" then
    while prime_i <= ring and hop[prime_i] >= start[prime_i] do
      prime_i = prime_i + 1
    end
    if prime_i > ring then
      if not prime_done then -- every prime hop sent and answered
        prime_done = true
        io.write(string.format("PRIMED %d %d\n", tid, prime_total))
        io.stdout:flush()
      end
      req = hello()
    else
      req = next_hop(prime_i, common.callback("/ussd"))
    end
  elseif started < first then
    started = started + 1
    req = hello()
  else
    cursor = cursor % ring + 1
    req = next_hop(cursor, mode == "hello" and "/bench/hello" or common.callback("/ussd"))
  end
  inflight.t0 = now_us()
  return req
end

-- Think time from the environment (see bench/common.lua): exponential, capped at
-- 5x the mean; the first request on the connection goes at once.
-- SURVEY_IDLE_MS (prime mode): once a thread has primed its ring it sends one
-- /bench/hello every SURVEY_IDLE_MS instead of as fast as it can, so the threads
-- still priming get the server (without it the early finishers' hellos starved
-- them for minutes, past the session TTL).
local idle_ms = tonumber(os.getenv("SURVEY_IDLE_MS") or "0") or 0
if idle_ms > 0 then
  function delay()
    return prime_done and idle_ms or 0
  end
elseif common.think_ms > 0 then
  delay = common.think_delay(common.think_ms)
end

function response(status, headers, body)
  local t1 = now_us()
  responses = responses + 1
  local req = inflight
  inflight = nil
  inflight_kind, inflight_name = "", ""
  if req == nil then
    return
  end
  local prefix = string.sub(body, 1, 4)
  if status ~= 200 or (prefix ~= "CON " and prefix ~= "END ") then
    bad = bad + 1
    bad_status = bad_status + (status ~= 200 and 1 or 0)
    if first_bad == "" then
      first_bad = status .. " " .. string.sub(body, 1, 80)
    end
    if req.i ~= nil then
      abandon(req.i)
    end
    return
  end
  if req.kind == "hello" or mode == "hello" then
    return
  end
  ends = ends + (prefix == "END " and 1 or 0)
  local ok = string.sub(body, 1, #req.expect) == req.expect
  if ok and req.kind == "answer" then
    -- "CON Q12\n..." or "CON Q12 Mary 2/5\n...": not Q120
    local after = string.sub(body, #req.expect + 1, #req.expect + 1)
    ok = (after == "\n" or after == " ")
  end
  if not ok then
    unexpected = unexpected + 1
    if first_odd == "" then
      first_odd = "hop " .. req.hop .. " (" .. req.expect .. "): " .. string.sub(body, 1, 80)
    end
    abandon(req.i)
    return
  end
  if sample_file ~= nil then
    sample_file:write(req.kind, "\t", t1 - req.t0, "\n")
  end
  if req.kind == "save" then
    journeys = journeys + 1
    if sample_file ~= nil then
      sample_file:write("saved\t", req.name, "\n")
    end
  end
end

function done(summary, latency, requests)
  -- the names whose last hop was still in flight: SURVEY_SAMPLES
  local out = os.getenv("SURVEY_SAMPLES") or ""
  local f = nil
  if out ~= "" then
    f = assert(io.open(out, "w"))
  end
  local in_flight = 0
  for _, thread in ipairs(common.threads) do
    if thread:get("inflight_kind") == "save" then
      in_flight = in_flight + 1
      if f ~= nil then
        f:write("inflight\t", thread:get("inflight_name"), "\n")
      end
    end
  end
  if f ~= nil then
    f:close()
  end
  common.report(
    summary,
    latency,
    { "responses", "bad", "bad_status", "unexpected", "ends", "journeys", "hellos", "lost" },
    { { "saves_in_flight", in_flight } }
  )
end
