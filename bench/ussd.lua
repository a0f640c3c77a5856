-- wrk script: simulated USSD callers walking a 9-hop journey through Ngazi.
--
--   [USSD_THINK_MS=N] wrk -tT -cC -dDs -s bench/ussd.lua URL -- MODE RING TAG [FIRST]
--
-- MODE   "ussd"   each request is the next hop of the next caller in the ring;
--        "prime"  walk each caller of the ring up to its starting hop (see below),
--                 one hop per caller a round, each round answered before the
--                 next; print "PRIMED <thread> <hops>" once all are answered,
--                 then send /bench/hello until stopped (bench/ussd.py sends
--                 SIGINT);
--        "hello"  the same form bodies, posted to /bench/hello (the ceiling:
--                 same server, same HTTP, no work).
-- RING   callers per wrk thread, all mid-session.
-- TAG    one digit, different for every ring used against one database, so
--        phone numbers and session ids are never reused (a "prime" run and the
--        "ussd" run that continues its ring share a TAG, RING and -t).
-- FIRST  (with think time) connections per thread: the first request on each
--        connection goes at once and is a /bench/hello (see delay() below).
-- USSD_THINK_MS (environment) mean think time per connection between
--        requests, exponentially distributed; unset or 0: none (saturating).
--
-- Callers and connections. wrk's Lua state is per thread and response() does not
-- say which request it answers, so a caller is not tied to a connection: each
-- thread keeps a ring of RING callers and every request() takes the next caller
-- in turn and sends its next hop. A caller's next hop goes out RING requests after
-- its previous one, long after that one was answered, so a caller never has two
-- hops in flight, as on a real phone. Connections play the gateway's pool of
-- persistent HTTP connections, each carrying many callers' callbacks.
--
-- Steady state from the first request. Caller i of the ring starts at hop
-- 1 + (i - 1) % 9 of its first journey, so the ring is spread evenly over the
-- journey and every stretch of requests has the steady-state mix of hops. The "prime" run makes
-- that true on the server: it plays each caller's earlier hops beforehand.
--
-- Every response is checked: HTTP 200 and a body starting "CON " or "END "
-- (else "bad"); an END, "Invalid choice" or "Session restarted" means the journey
-- went off its path ("unexpected": no hop of this journey ends a session). The
-- screens with fixed titles are counted too: as many language screens and main
-- menus must come back as went out (a first-time caller's hop 1 is the language
-- screen, hops 2 and 9 the main menu; a returning caller's hops 1 and 9 the main
-- menu), bar those in flight.
-- done() prints one line "BENCH_JSON {...}" for bench/ussd.py.

-- A first-time caller: the language screen, then browsing.
local NEW_HOPS = {
  "",
  "1", -- English
  "1*1", -- Policies & benefits: categories
  "1*1*1", -- first category: article list
  "1*1*1*1", -- first article, page 1
  "1*1*1*1*98", -- page 2
  "1*1*1*1*98*0", -- back to page 1
  "1*1*1*1*98*0*0", -- back to the article list
  "1*1*1*1*98*0*0*00", -- home
}
-- A returning caller (language chosen before): the main menu first.
local BACK_HOPS = {
  "", -- main menu
  "1", -- Policies & benefits: categories
  "1*1", -- first category: article list
  "1*1*1", -- first article, page 1
  "1*1*1*98", -- page 2
  "1*1*1*98*0", -- back to page 1
  "1*1*1*98*0*0", -- back to the article list
  "1*1*1*98*0*0*0", -- back to the categories
  "1*1*1*98*0*0*0*00", -- home
}
local NHOPS = #NEW_HOPS
-- USSD_NEW_EVERY (environment): one journey in N is a first-time caller (who
-- writes to PostgreSQL twice: first contact and the language choice); the rest
-- are returning callers from a pool of USSD_POOL numbers per wrk thread, which
-- bench/ussd.py registers beforehand (+25410 TT PPPPP: thread, pool index).
-- 1: every journey is a first-time caller.
local new_every = tonumber(os.getenv("USSD_NEW_EVERY") or "10") or 10
local pool = tonumber(os.getenv("USSD_POOL") or "5000") or 5000

local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

local function urlencode(s)
  return (
    string.gsub(s, "[^%w%-%._~]", function(ch)
      return string.format("%%%02X", string.byte(ch))
    end)
  )
end

function init(args)
  mode = args[1] or "ussd"
  ring = tonumber(args[2]) or 256
  tag = tonumber(args[3]) or 0
  first = tonumber(args[4]) or 0
  if tid > 99 or tag > 9 then
    error("at most 100 wrk threads and tags 0-9")
  end
  path = (mode == "hello") and "/bench/hello" or "/ussd"

  -- counters read back by done() through thread:get()
  responses, bad, bad_status, unexpected, ends, journeys, hellos = 0, 0, 0, 0, 0, 0, 0
  first_bad, first_odd = "", ""
  -- screens with a fixed title, sent and seen: the language screen answers hop 1,
  -- the main menu hops 2 and 9 (a caller whose state went missing would see
  -- another screen, though still a "CON ")
  sent_lang, seen_lang, sent_home, seen_home = 0, 0, 0, 0

  -- caller i: next hop (1-based) and journey number
  hop, journey = {}, {}
  for i = 1, ring do
    hop[i] = 1 + (i - 1) % NHOPS
    journey[i] = i - 1
  end
  next_journey = ring
  cursor = 0

  -- prime: callers with earlier hops to play, walked round-robin
  if mode == "prime" then
    active, upto, prime_total, prime_sent, prime_done = {}, {}, 0, 0, 0
    for i = 1, ring do
      upto[i] = hop[i] - 1 -- play hops 1 .. upto[i]
      hop[i] = 1
      if upto[i] > 0 then
        table.insert(active, i)
        prime_total = prime_total + upto[i]
      end
    end
    apos = 0
  end

  started = 0
  -- wrk calls thread 0's request() once before the run to check what it returns
  -- (script_verify_request); that request is never sent, so it must not move a
  -- caller on.
  phantom = (tid == 0)
  math.randomseed(os.time() * 100 + tid * 7919 + tag)
  headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  fixed = "&serviceCode=" .. urlencode("*384*1234#") .. "&networkCode=63902&text="
end

-- The form body of caller i's next hop; moves the caller on.
local function next_hop(i)
  local h = hop[i]
  local j = journey[i]
  local fresh = (j % new_every == 0)
  local phone, text
  if fresh then
    -- +2547 T TT JJJJJ: tag, thread, journey (wraps after 100000 journeys a thread)
    phone = string.format("%%2B2547%d%02d%05d", tag, tid, j % 100000)
    text = NEW_HOPS[h]
    if h == 1 then
      sent_lang = sent_lang + 1
    elseif h == 2 or h == NHOPS then
      sent_home = sent_home + 1
    end
  else
    phone = string.format("%%2B25410%02d%05d", tid, (j * 7919) % pool)
    text = BACK_HOPS[h]
    if h == 1 or h == NHOPS then
      sent_home = sent_home + 1
    end
  end
  local sid = string.format("ATUid_bench_%d_%d_%d", tag, tid, j)
  local body = "sessionId=" .. sid .. "&phoneNumber=" .. phone .. fixed .. urlencode(text)
  if h >= NHOPS then
    hop[i] = 1
    journey[i] = next_journey
    next_journey = next_journey + 1
    journeys = journeys + 1
  else
    hop[i] = h + 1
  end
  return body
end

local function hello()
  hellos = hellos + 1
  return wrk.format("POST", "/bench/hello", headers, "sessionId=hello" .. fixed)
end

local function prime_request()
  while true do
    if apos < #active then
      apos = apos + 1
      prime_sent = prime_sent + 1
      return wrk.format("POST", path, headers, next_hop(active[apos]))
    end
    -- End of a round (one hop for every caller still priming): the next round
    -- waits until this one is answered, so a caller's hops can never overtake
    -- each other, even behind a stall (a cold worker); connections send
    -- /bench/hello meanwhile.
    if prime_done < prime_sent then
      return hello()
    end
    local still = {}
    for _, i in ipairs(active) do
      if hop[i] <= upto[i] then
        table.insert(still, i)
      end
    end
    active, apos = still, 0
    if #active == 0 then
      return hello()
    end
  end
end

function request()
  if phantom then
    phantom = false
    return wrk.format("POST", "/bench/hello", headers, "sessionId=check" .. fixed)
  end
  if mode == "prime" then
    return prime_request()
  end
  if started < first then
    started = started + 1
    return hello()
  end
  cursor = cursor % ring + 1
  return wrk.format("POST", path, headers, next_hop(cursor))
end

-- Think time comes from the environment, not the arguments: wrk decides whether
-- the script has a delay() before init() sees its arguments, and a delay() that
-- returns 0 still costs a timer per request.
local think_ms = tonumber(os.getenv("USSD_THINK_MS") or "0") or 0
if think_ms > 0 then
  local delayed = 0
  function delay()
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

function response(status, headers, body)
  responses = responses + 1
  local prefix = string.sub(body, 1, 4)
  if status ~= 200 then
    bad_status = bad_status + 1
    bad = bad + 1
  elseif prefix ~= "CON " and prefix ~= "END " then
    bad = bad + 1
  elseif
    prefix == "END "
    or string.find(body, "Invalid choice", 1, true)
    or string.find(body, "Session restarted", 1, true)
  then
    ends = ends + (prefix == "END " and 1 or 0)
    unexpected = unexpected + 1
    if first_odd == "" then
      first_odd = string.sub(body, 1, 80)
    end
  end
  if string.find(body, "CON Language/Lugha/", 1, true) == 1 then
    seen_lang = seen_lang + 1
  elseif string.find(body, "CON Ngazi main menu\n", 1, true) == 1 then
    seen_home = seen_home + 1
  end
  if (status ~= 200 or prefix ~= "CON ") and first_bad == "" then
    first_bad = status .. " " .. string.sub(body, 1, 80)
  end
  if mode == "prime" and body ~= "CON hello" then
    prime_done = prime_done + 1
    if prime_done == prime_total then
      io.write(string.format("PRIMED %d %d\n", tid, prime_total))
      io.stdout:flush()
    end
  end
end

local function jstr(s)
  s = string.gsub(s, '[%c"\\]', function(ch)
    return string.format("\\u%04x", string.byte(ch))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local t = {
    responses = 0,
    bad = 0,
    bad_status = 0,
    unexpected = 0,
    ends = 0,
    journeys = 0,
    hellos = 0,
    sent_lang = 0,
    seen_lang = 0,
    sent_home = 0,
    seen_home = 0,
  }
  local first, odd = "", ""
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do
      t[k] = t[k] + (thread:get(k) or 0)
    end
    if first == "" then
      first = thread:get("first_bad") or ""
    end
    if odd == "" then
      odd = thread:get("first_odd") or ""
    end
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
    string.format(
      '"checked":{"responses":%d,"bad":%d,"bad_status":%d,"unexpected":%d,'
        .. '"ends":%d,"journeys":%d,"hellos":%d,'
        .. '"sent_lang":%d,"seen_lang":%d,"sent_home":%d,"seen_home":%d}',
      t.responses,
      t.bad,
      t.bad_status,
      t.unexpected,
      t.ends,
      t.journeys,
      t.hellos,
      t.sent_lang,
      t.seen_lang,
      t.sent_home,
      t.seen_home
    ),
    '"first_bad":' .. jstr(first),
    '"first_odd":' .. jstr(odd),
  }
  io.write("BENCH_JSON {" .. table.concat(parts, ",") .. "}\n")
end
